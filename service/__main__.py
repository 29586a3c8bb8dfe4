"""``python -m service`` (or ``kyodo``): the commands live in ``service.cli``."""

from __future__ import annotations

from .cli import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":
    main()
