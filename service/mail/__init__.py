"""E-mail notifications through a transactional outbox.

``models`` holds the outbox and the opted-out kinds; ``service`` queues mail in the
caller's transaction (``queue_mail``, ``notify_confirmation``); ``delivery`` is the worker
that sends due rows through SMTP (``deliver_due``); ``views`` has ``/mail`` and
``/account/mail`` (imported by ``main``, not here: the domain modules that queue mail
must not pull in the pages).
"""
