"""Hostile files, generated at test time (seeded): nothing binary is committed.

``HOSTILE`` maps a file's name to how it is made for a kind (``needs`` or
``organizations``) and the problem codes the reader may answer with.
"""
