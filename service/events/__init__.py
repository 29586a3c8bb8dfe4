"""分野別発表会 (matching events): the coordinator chooses a theme (活動分野 and/or
keywords) and a date; the service proposes which published, open needs to present and
which groups to invite, from the stored rankings, and the coordinator edits the lists.

``models`` holds the tables, ``plan`` the selection (a pure function, no database),
``service`` the domain functions, ``followup`` the invitations sent through the outbox
and what is recorded at the event, ``views`` the pages and ``api`` the JSON routes.
Nothing is imported here, so the tables can be registered (``service.migrations.env``)
without loading the pages.
"""
