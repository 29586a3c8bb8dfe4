"""A big import's search text (#14): written without its lemma line, searchable at once by
what the rows say, and after the fill exactly what a row written one at a time holds; the
fill in the server (after an import through the API) and at the end of ``service load``;
an edit made while the fill runs is kept. Real database (SQLite, or PostgreSQL with
``KYODO_TEST_DATABASE_URL``), the real tokenizer, the real HTTP client."""

from __future__ import annotations

import csv
import io
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from matching._io import ORG_COLUMNS
from service import imports, loader, search_fill
from service.config import Settings
from service.db import make_engine
from service.migrate import upgrade
from service.models import Organization
from service.search import PENDING, filled, matches, pending_text, search_text

from .conftest import Server
from .helpers import csrf_of, ok
from .test_cli import run
from .test_pages import login

# key, name, activities, offerings, wishes
PROFILES = [
    (
        "F1",
        "ひまわりの会",
        "子ども食堂を月2回ひらき、高齢者の見守り訪問も続けています。",
        "こども食堂",
        "",
    ),
    ("F2", "ＮＰＯ法人ﾊﾟﾗｽﾎﾟｰﾂ振興会", "障害のある人とない人が楽しむスポーツ体験会。", "", ""),
    ("F3", "公園みどりの会", "公園の清掃と花壇の手入れをしています。", "", "道具の貸し出し"),
    ("F4", "竹の子くらぶ", "放置竹林の竹を伐採し、竹炭をつくっています。", "竹林整備", ""),
]
# a query → the profiles it finds once every row has its lemma line (as a row written one
# at a time finds them); the first ones are written as the rows write them, so a pending
# row is found by them too
SAME_WORDS = {
    "ﾊﾟﾗｽﾎﾟｰﾂ": {"F2"},  # half-width kana (NFKC), a substring
    "ｎｐｏ": {"F2"},
    "スポーツ体験": {"F2"},
    "花壇の清掃": {"F3"},  # two words, not a substring: each word in the text
    "竹林 竹炭": {"F4"},
    "こども食堂": {"F1"},
    "f3": {"F3"},  # the key
    "存在しない語": set(),
}
OTHER_FORMS = {
    "子供": {"F1"},  # 子ども's lemma
    "見守る": {"F1"},  # 見守り's lemma
}


def _csv(profiles: list[tuple[str, str, str, str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.key for c in ORG_COLUMNS])
    for key, name, activities, offerings, wishes in profiles:
        writer.writerow([key, name, "任意団体", "1", "北区", activities, offerings, wishes])
    return out.getvalue().encode("utf-8")


def _found(session: Session, query: str) -> set[str]:
    where = matches(Organization.search_text, query)
    return set(session.exec(select(Organization.key).where(where)).all())


def _stored(session: Session) -> dict[str, str]:
    rows = session.exec(select(Organization.key, Organization.search_text)).all()
    return dict(rows)


def _expected_text(key: str) -> str:
    """What the ORM events (an edit, a registration) write for the profile."""
    _, name, activities, offerings, wishes = next(p for p in PROFILES if p[0] == key)
    return search_text(key, name, activities, offerings, wishes)


@pytest.fixture
def database(empty_database: str) -> Any:
    upgrade(empty_database)
    engine = make_engine(Settings(database_url=empty_database).sqlalchemy_url)
    yield engine
    engine.dispose()


def test_a_pending_value_is_marked_and_filled_from_itself_alone() -> None:
    parts = ("F1", "子ども食堂", None, "見守り")
    pending = pending_text(*parts)
    assert pending.startswith(PENDING) and not search_text(*parts).startswith(PENDING)
    assert filled(pending) == search_text(*parts) == f"{pending[1:]}\n 子供 食堂 見守る "
    assert filled(pending_text("123")) == search_text("123") == "123"  # no lemma, no line


def test_a_big_import_is_searched_while_pending_and_exactly_once_filled(
    database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "FILL_INLINE", 2)  # four rows: a "big" import
    with Session(database) as session:
        imports.run_import(
            session, "organizations", _csv(PROFILES), "big.csv", user=None, apply=True
        )
        stored = _stored(session)
        assert all(t.startswith(PENDING) for t in stored.values())  # every row pending
        assert search_fill.pending_rows(session) == 4
        # issued before the fill: found by what the rows say
        assert {q: _found(session, q) for q in SAME_WORDS} == SAME_WORDS
        # half filled (a batch of two, then stopped): still found
        stop = threading.Event()
        assert search_fill.fill(session, batch=2, on_batch=lambda _: stop.set(), stop=stop) == 2
        assert search_fill.pending_rows(session) == 2
        assert {q: _found(session, q) for q in SAME_WORDS} == SAME_WORDS
        assert search_fill.fill(session) == 2 and search_fill.pending_rows(session) == 0
        # filled: the value a row written one at a time holds, and every search answers so
        assert _stored(session) == {key: _expected_text(key) for key, *_ in PROFILES}
        assert {q: _found(session, q) for q in SAME_WORDS | OTHER_FORMS} == (
            SAME_WORDS | OTHER_FORMS
        )
        assert search_fill.fill(session) == 0  # nothing left: nothing written


def test_a_small_import_writes_its_lemma_line_itself(database: Any) -> None:
    with Session(database) as session:
        imports.run_import(
            session, "organizations", _csv(PROFILES), "small.csv", user=None, apply=True
        )
        assert search_fill.pending_rows(session) == 0
        assert _stored(session) == {key: _expected_text(key) for key, *_ in PROFILES}
        assert {q: _found(session, q) for q in OTHER_FORMS} == OTHER_FORMS


def test_the_fill_keeps_what_was_written_after_it_read(
    database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the fill's read of a batch and its write, one row is edited (its whole
    search text) and another imported again (a new pending text): both are kept."""
    monkeypatch.setattr(loader, "FILL_INLINE", 0)
    with Session(database) as session:
        imports.run_import(session, "organizations", _csv(PROFILES), "a.csv", user=None, apply=True)
    lemmas = search_fill.filled
    edited = search_text("F1", "ひまわりの会", "花壇づくり", "", "")

    def meanwhile(value: str) -> str:
        if value == pending_text("F1", *PROFILES[0][1:]):  # the batch's first: others write now
            with Session(database) as other:
                row = other.exec(select(Organization).where(Organization.key == "F1")).one()
                row.activities, row.offerings = "花壇づくり", ""
                other.add(row)  # an edit: the ORM event writes its search text
                other.commit()
                again = [("F2", "ＮＰＯ法人ﾊﾟﾗｽﾎﾟｰﾂ振興会", "車いすバスケットの練習会。", "", "")]
                imports.run_import(
                    other, "organizations", _csv(again), "b.csv", user=None, apply=True
                )
        return lemmas(value)

    monkeypatch.setattr(search_fill, "filled", meanwhile)
    with Session(database) as session:
        assert search_fill.fill(session) == 4  # went through four: two kept what they had
        stored = _stored(session)
        assert stored["F1"] == edited and stored["F3"] == _expected_text("F3")
        assert stored["F2"] == pending_text(
            "F2", "ＮＰＯ法人ﾊﾟﾗｽﾎﾟｰﾂ振興会", "車いすバスケットの練習会。"
        )
        monkeypatch.setattr(search_fill, "filled", lemmas)
        assert search_fill.fill(session) == 1  # the new pending text, in the next run
        assert _found(session, "練習会") == {"F2"} and _found(session, "スポーツ体験") == set()
        assert _found(session, "花壇") == {"F1", "F3"}


def test_an_import_through_the_api_is_filled_by_the_server(
    api: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "FILL_INLINE", 0)
    coord = api.client("coord")
    files = {"file": ("big.csv", _csv(PROFILES))}
    done = ok(coord.post("/api/import/organizations", params={"apply": True}, files=files))
    assert sorted(done["created"]) == ["F1", "F2", "F3", "F4"]
    assert api.app.state.search_fill.wait(timeout=60)  # type: ignore[attr-defined]
    with Session(api.engine) as session:  # type: ignore[arg-type]
        assert search_fill.pending_rows(session) == 0
        assert _stored(session) == {key: _expected_text(key) for key, *_ in PROFILES}

    def found(q: str) -> set[str]:
        return {o["key"] for o in ok(coord.get("/api/organizations", params={"q": q}))["items"]}

    assert {q: found(q) for q in OTHER_FORMS} == OTHER_FORMS


def test_an_import_through_the_page_is_filled_by_the_server(
    api: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "FILL_INLINE", 0)
    page = login(api, "coord")
    token = csrf_of(page.get("/files"))
    shown = page.post(
        "/files/import",
        data={"kind": "organizations", "csrf_token": token},
        files={"file": ("big.csv", _csv(PROFILES), "text/csv")},
    )
    upload = re.search(r'action="/files/import/(\d+)"', shown.text)
    assert upload, shown.text
    done = page.post(
        f"/files/import/{upload.group(1)}", data={"choice": "all", "csrf_token": token}
    )
    assert done.status_code == 200 and "取り込みました" in done.text
    assert api.app.state.search_fill.wait(timeout=60)  # type: ignore[attr-defined]
    with Session(api.engine) as session:  # type: ignore[arg-type]
        assert search_fill.pending_rows(session) == 0
        assert {q: _found(session, q) for q in OTHER_FORMS} == OTHER_FORMS


def test_the_server_fills_rows_left_pending_when_it_starts(api: Server) -> None:
    """Rows a stopped process left without their lemma line: the start's run fills them
    (here ``start`` is called as the server's lifespan calls it)."""
    with Session(api.engine) as session:  # type: ignore[arg-type]
        imports.run_import(session, "organizations", _csv(PROFILES), "a.csv", user=None, apply=True)
        key = "F3"
        session.exec(
            update(Organization)
            .where(col(Organization.key) == key)
            .values(search_text=pending_text(key, "公園みどりの会", "公園の清掃"))
        )
        session.commit()
        assert search_fill.pending_rows(session) == 1
    api.app.state.search_fill.start()  # type: ignore[attr-defined]
    assert api.app.state.search_fill.wait(timeout=60)  # type: ignore[attr-defined]
    with Session(api.engine) as session:  # type: ignore[arg-type]
        assert search_fill.pending_rows(session) == 0
        assert _stored(session)[key] == search_text(key, "公園みどりの会", "公園の清掃")


def test_load_fills_the_search_text_at_its_end(empty_database: str, tmp_path: Path) -> None:
    """``service load`` of a file bigger than ``FILL_INLINE``: no row is left pending."""
    rows = [
        (f"G{i:04d}", f"見守りの会{i}", f"子ども食堂{i}号を開いています。", "", "")
        for i in range(loader.FILL_INLINE + 1)
    ]
    path = tmp_path / "npos.csv"
    path.write_bytes(_csv(rows))
    done = run(empty_database, "load", "--npos", str(path), "--progress")
    assert done.returncode == 0, done.stderr
    assert f"団体: 新規 {len(rows)}・更新 0" in done.stdout
    assert f"検索用の語: 完了 {len(rows)}件" in done.stderr
    engine = make_engine(Settings(database_url=empty_database).sqlalchemy_url)
    try:
        with Session(engine) as session:
            assert search_fill.pending_rows(session) == 0
            assert len(_found(session, "子供")) == len(rows)
            assert _found(session, "g1000") == {"G1000"}
    finally:
        engine.dispose()
