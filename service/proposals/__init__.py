"""A department's own proposal (担当課からの提案): on its published need, a department
picks a group it knows of; the pairing enters the coordinator's review queue as a
pending suggestion marked as the department's proposal (``model_version``
``BY_DEPARTMENT``, the department's note in its reasons), and the coordinator confirms
or rejects it like any suggestion. No table of its own: a proposal is a suggestion.
``models`` holds the request's shape, ``service`` the domain functions, ``views`` the
page and API routes (``views.router``, ``views.api_router``). Nothing is imported here.
"""
