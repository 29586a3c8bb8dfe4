"""Registration requests (「この課題に取り組みたい」): a group not yet registered asks, from a
published need's public page, to take part; the coordinator approves (an invitation) or
declines. ``models`` is the table, ``service`` the domain functions, ``views`` the routes
(``views.router``). Nothing is imported here, so the table can be registered
(``service.migrations.env``) without loading the pages.
"""
