"""Public pages and open data (no login): the published 協働の種 for anyone to read.

``models`` holds the one whitelist of what leaves the service (``PublicNeed``);
``service`` queries published needs only; ``formats`` writes CSV, JSON and Atom;
``views`` maps them to routes under ``/public``.
"""

from __future__ import annotations

from .views import router

__all__ = ["router"]
