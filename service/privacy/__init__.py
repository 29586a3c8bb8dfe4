"""Privacy (個人情報保護法, ASVS L2 logging): who saw or exported personal data, and every
login, logout and failed login, in the audit log; and the coordinator's page that reads
that log (``/audit``, with a CSV export).

Personal data here is an organisation's contact (name, e-mail, phone), a registration
request's contact, and the addresses mail goes to. ``service`` writes the rows (one per
page, answer or export that showed any, with how many records it showed); ``log`` reads
them back with filters; ``views`` has the routes (``views.router``). No table of its own:
the rows are ``audit_log`` rows whose action is ``view`` or ``export`` (which the
matching index ignores, ``audit.READ_ACTIONS``) or a login's. Nothing is imported here.
"""
