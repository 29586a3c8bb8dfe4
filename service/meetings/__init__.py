"""事前打ち合わせ (the first meetings of a confirmed pairing) as records.

A meeting belongs to a confirmed suggestion (a need × an organisation): its date and time
(entered and shown in Japan time, stored in UTC), place or online URL, participants,
notes, outcome (協働事業化へ / 継続協議 / 見送り) and next step. Recording one moves the
pairing's stage through ``service.stages`` (the decision rows stay the one history of
stages). ``models`` is the table, ``schemas`` the API shapes, ``service`` the domain
functions (no HTTP) with ``checks`` (its rules) and ``times`` (Japan time in, UTC
stored), ``notices`` the mail and the .ics (written by ``ics``), ``views`` the pages
(``views.router``); the JSON API is in ``service.api.routes.meetings``. Nothing is
imported here, so the table can be registered (``service.migrations.env``) without
loading the pages.
"""
