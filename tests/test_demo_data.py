"""The demo's data has no duplicate groups or needs.

The corpus parts were written by different authors, who sometimes gave the same name to
their own group (a 自治会, a 商店街) or the same title to a department's need. Each part
is fine alone, but the demo loads all parts together, and a coordinator then sees two
"北台団地自治会" with different profiles. Names are compared as people read them: NFKC
(全角 / 半角) and without spaces.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from sqlmodel import Session, col, select

from service.config import Settings
from service.db import make_engine
from service.demo import prepare_demo
from service.migrate import upgrade
from service.models import Department, Need, Organization


def normalised(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def duplicates(rows: Iterable[tuple[str, object]]) -> dict[object, list[str]]:
    """``{shared value: [ids]}`` for the values (already normalised) more than one id has."""
    seen: dict[object, list[str]] = defaultdict(list)
    for row_id, value in rows:
        seen[value].append(row_id)
    return {value: ids for value, ids in seen.items() if len(ids) > 1}


def test_the_check_finds_names_that_differ_only_in_width_and_spaces() -> None:
    rows = [
        ("P1", normalised("ＮＰＯ法人　わかば子ども食堂")),
        ("P2", normalised("NPO法人 わかば子ども食堂")),
        ("P3", normalised("NPO法人 わかば子供食堂")),  # another word: not the same name
    ]
    assert duplicates(rows) == {"NPO法人わかば子ども食堂": ["P1", "P2"]}


def test_the_demo_loads_no_two_groups_or_needs_of_the_same_name(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    upgrade(settings.sqlalchemy_url)
    prepare_demo(settings, [])  # the corpus, loaded as `python -m service serve --demo` does
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as session:
            orgs = session.exec(select(Organization.key, Organization.name)).all()
            needs = session.exec(
                select(Need.key, Department.name, Need.title).join(
                    Department, col(Need.department_id) == col(Department.id)
                )
            ).all()
    finally:
        engine.dispose()
    assert len(orgs) >= 250 and len(needs) >= 120  # the whole corpus, every part
    assert duplicates((key, normalised(name)) for key, name in orgs) == {}
    assert duplicates((key, (dept, normalised(title))) for key, dept, title in needs) == {}
