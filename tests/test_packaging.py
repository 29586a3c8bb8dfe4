"""What a wheel of the project carries: every template, static file and migration."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_package_data_covers_every_template_static_file_and_migration() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["service"]
    service = ROOT / "service"
    covered = {p for pattern in patterns for p in service.glob(pattern) if p.is_file()}
    needed = {
        p
        for folder in ("templates", "static", "migrations/versions")
        for p in (service / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert needed, "no files found: the layout changed"
    missing = sorted(str(p.relative_to(ROOT)) for p in needed - covered)
    assert not missing, f"not in the wheel: {missing}"
