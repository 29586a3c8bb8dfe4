"""Docs that cannot drift: every command, setting and API route is in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from matching._io import NEED_COLUMNS, ORG_COLUMNS, Column
from matching.cli import app as matching_app
from service.__main__ import app as service_app
from service.config import Settings
from service.main import create_app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands]


@pytest.mark.parametrize("command", _commands(matching_app))
def test_matching_commands_are_documented(command: str) -> None:
    assert f"python -m matching {command}" in README


@pytest.mark.parametrize("command", _commands(service_app))
def test_service_commands_are_documented(command: str) -> None:
    assert f"python -m service {command}" in README


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_settings_are_documented(name: str) -> None:
    env = "DATABASE_URL" if name == "database_url" else f"KYODO_{name.upper()}"
    assert env in README


def test_api_routes_are_documented(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'docs.sqlite3'}"))
    paths = {
        route["path"] if isinstance(route, dict) else route for route in app.openapi()["paths"]
    }
    for path in paths:
        documented = re.sub(r"\{[a-z_]+_id\}", "{id}", path)
        assert documented in README, path


@pytest.mark.parametrize(
    ("kind", "columns"), [("needs", NEED_COLUMNS), ("profiles", ORG_COLUMNS)], ids=["needs", "npos"]
)
def test_file_columns_are_documented(kind: str, columns: tuple[Column, ...]) -> None:
    """The README's table of a file's columns is the reader's: every header (and alias),
    its English name and whether it is required, and nothing else."""
    table = README.split(f"| {kind}: 日本語見出し | English | required |", 1)[1].split("\n\n", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in table.strip().splitlines()[1:]
    ]
    expected = [
        [
            c.ja + (f" ({'、'.join(c.aliases)})" if c.aliases else ""),
            f"`{c.key}`",
            "yes" if c.required else "",
        ]
        for c in columns
    ]
    assert rows == expected
