"""The fitted index is saved and memory-mapped back (#14): a restart or a second worker on
the same database loads it instead of fitting, ranks and explains alike, and follows
writes alike; a saved fit of other data is never loaded; a folder that cannot be written
costs the saving only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, SQLModel

import matching
import service.index as index_module
from corpus import load_corpus
from service import loader
from service.audit import audit
from service.db import make_engine
from service.index import MatchingIndex, item_key
from service.migrate import upgrade
from service.saved_index import KEEP

from .conftest import Server
from .helpers import need_payload, ok, org_payload, restarted_index, seed


def _rankings(index: MatchingIndex) -> dict[str, Any]:
    """Every need's ranking with its scores, each listed pair's explanation, every
    profile's needs."""
    r = index.ranker
    assert r is not None
    ranked = r.rank_orgs(top=10)
    return {
        "orgs": ranked,
        "explained": [r.explain_many(q, [o for o, _ in ranking]) for q, ranking in ranked],
        "needs": r.rank_needs(top=10),
    }


def _listed(coord: Any, needs: dict[str, int]) -> dict[str, list[tuple[Any, ...]]]:
    """The API's suggestions of each need: the group, score, rank and reasons."""
    return {
        key: [
            (s["organization_id"], s["score"], s["rank"], s["reasons"])
            for s in ok(coord.get(f"/api/needs/{i}/suggestions"))
        ]
        for key, i in needs.items()
    }


def _saved(folder: Path) -> list[Path]:
    return sorted(folder.glob("ranker-*.pickle"))


def _sync(*indexes: MatchingIndex, engine: Any) -> None:
    with Session(engine) as session:
        for index in indexes:
            index.sync(session)


def _edits(coord: Any, orgs: dict[str, int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Writes through the API: a profile and a need added, a profile's activities edited,
    another profile deleted; the new profile and need."""
    new_org = ok(
        coord.post("/api/organizations", json=org_payload(4, key="P9", name="竹林の守り人")), 201
    )
    new_need = ok(coord.post("/api/needs", json=need_payload(2, key="N9", title="竹の活用")), 201)
    ok(
        coord.patch(
            f"/api/organizations/{orgs['P5']}",
            json={"activities": "高齢者の見守り訪問と子ども食堂をしています。"},
        )
    )
    ok(coord.delete(f"/api/organizations/{orgs['P1']}"))
    return new_org, new_need


def test_a_restart_loads_the_saved_fit_and_follows_writes_alike(
    api: Server, fits: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    coord = api.client("coord")
    first = restarted_index(api, tmp_path)
    needs, orgs = seed(coord)
    before = _listed(coord, needs)
    fitted = len(fits)
    assert fitted >= 1 and not first.loaded and len(_saved(tmp_path)) == 1
    # the fitting process serves the saved fit too (mapped back): its pages are shared
    assert first.ranker is not None and matching.is_mapped(first.ranker.org_dense_)

    read: list[str] = []
    monkeypatch.setattr(index_module, "attach_rows", lambda saved, key, r: bool(read.append(key)))
    second = restarted_index(api, tmp_path)
    after = _listed(coord, needs)
    assert read == []  # no model is promoted: no learned model's kept rows are read
    assert len(fits) == fitted  # loaded, not fitted
    assert second.loaded and second.ranker is not first.ranker
    assert after == before
    assert _rankings(second) == _rankings(first)

    # writes through the API: both indexes (two workers) apply them alike
    new_org, new_need = _edits(coord, orgs)
    ranked = ok(coord.get(f"/api/needs/{new_need['id']}/suggestions"))
    assert new_org["id"] in [s["organization_id"] for s in ranked]
    _sync(first, second, engine=api.engine)
    for index in (first, second):
        assert index.ranker is not None
        assert item_key(new_org["id"]) in index.ranker.org_index_
        assert item_key(orgs["P1"]) not in index.ranker.org_index_
        assert item_key(new_need["id"]) in index.ranker.need_index_
    assert _rankings(second) == _rankings(first)
    assert len(fits) == fitted  # applied, not fitted


def test_a_saved_fit_of_another_audit_id_is_resumed_and_views_do_not_count(
    api: Server, fits: list[int], tmp_path: Path
) -> None:
    coord = api.client("coord")
    restarted_index(api, tmp_path)
    needs, orgs = seed(coord)
    _listed(coord, needs)
    assert ok(coord.get("/api/index"))["loaded"] is False  # fitted here
    fitted = len(fits)
    # a reading (an audit row that changes nothing): the same fit is loaded
    with Session(api.engine) as session:  # type: ignore[arg-type]
        audit(session, None, "view", "organization", orgs["P2"])
        session.commit()
    _sync(restarted_index(api, tmp_path), engine=api.engine)
    assert len(fits) == fitted
    assert api.app.state.index.loaded  # type: ignore[attr-defined]
    assert ok(coord.get("/api/index"))["loaded"] is True  # the operator sees it too
    # a change to a profile in the audit log (its row as it was): a start resumes the
    # saved fit and applies it, as a running index does
    with Session(api.engine) as session:  # type: ignore[arg-type]
        audit(session, None, "update", "organization", orgs["P2"])
        session.commit()
    index = restarted_index(api, tmp_path)
    _sync(index, engine=api.engine)
    assert len(fits) == fitted and index.loaded
    assert index.seen_audit_id > index.fitted_audit_id  # the change applied after
    # each refit saves a fit of its own: the folder keeps the newest KEEP, each with its note
    for round_ in range(KEEP + 1):
        with Session(api.engine) as session:  # type: ignore[arg-type]
            audit(session, None, "update", "organization", orgs["P2"])
            session.commit()
            index.refit(session)
        assert len(fits) == fitted + round_ + 1 and not index.loaded
        assert len(_saved(tmp_path)) == min(KEEP, round_ + 2)  # the newest KEEP only
        assert len(list(tmp_path.glob("ranker-*.json"))) == len(_saved(tmp_path))
    again = restarted_index(api, tmp_path)
    _sync(again, engine=api.engine)
    assert again.loaded and len(fits) == fitted + KEEP + 1
    assert again.seen_audit_id == again.fitted_audit_id  # the same data: nothing to apply
    assert _rankings(again) == _rankings(index)


def _reads_of_every_item(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each time the index reads every need or every profile from now on."""
    calls: list[str] = []
    for name in ("live_needs", "live_orgs"):
        read = getattr(index_module, name)

        def counted(session: Session, ids: set[int] | None, read: Any = read, name: str = name):
            if ids is None:
                calls.append(name)
            return read(session, ids)

        monkeypatch.setattr(index_module, name, counted)
    return calls


def test_a_restart_after_edits_resumes_the_saved_fit_and_moves_no_score(
    api: Server,
    fits: list[int],
    ranked: list[int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Edits since the saved fit: a start loads it and applies them (no fit) and ranks as
    the index that applied them while running; the stored suggestions do not move."""
    coord = api.client("coord")
    running = restarted_index(api, tmp_path)
    needs, orgs = seed(coord)
    _listed(coord, needs)
    assert len(fits) == 1
    _, new_need = _edits(coord, orgs)
    needs["N9"] = new_need["id"]
    before = _listed(coord, needs)
    _sync(running, engine=api.engine)
    assert len(fits) == 1 and running.seen_audit_id > running.fitted_audit_id

    read_whole = _reads_of_every_item(monkeypatch)
    resumed = restarted_index(api, tmp_path)
    after = _listed(coord, needs)
    assert len(fits) == 1 and resumed.loaded  # loaded and edited, not fitted
    assert read_whole == []  # nor every need and profile read (only ids, and the edited)
    assert resumed.fitted_audit_id == running.fitted_audit_id
    assert resumed.seen_audit_id == running.seen_audit_id
    assert _rankings(resumed) == _rankings(running)
    assert after == before  # every stored row as it was
    assert ranked[-1] == len(needs)  # its first refresh ranked every need, and wrote nothing
    # another start (or worker) resuming the same fit up to the same audit id takes the
    # lists that refresh kept: it ranks no need
    calls = len(ranked)
    again = restarted_index(api, tmp_path)
    assert _listed(coord, needs) == before and len(ranked) == calls
    assert again.loaded and again.resumed_at == again.seen_audit_id == resumed.seen_audit_id
    # kept beside the fit's own lists, in a file of its own (a start looking for one state's
    # lists reads no other's)
    (fit_lists,) = [p for p in tmp_path.glob("lists-*.joblib") if "+" not in p.name]
    assert [p.name for p in tmp_path.glob("lists-*+*.joblib")] == [
        fit_lists.name.replace(".joblib", f"+{resumed.seen_audit_id}.joblib")
    ]
    # an edit after it: not that state any more (its lists are not the saved ones)
    ok(coord.patch(f"/api/organizations/{orgs['P2']}", json={"wishes": "会場を探しています。"}))
    _sync(again, engine=api.engine)
    assert again.resumed_at is None and again.saved_key is None


def test_rows_written_without_an_audit_row_are_fitted_again(
    api: Server, fits: list[int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A profile withdrawn behind the service's back, then a change it did audit: a
    start does not resume the saved fit (its profiles are not the database's), it fits."""
    coord = api.client("coord")
    restarted_index(api, tmp_path)
    needs, orgs = seed(coord)
    _listed(coord, needs)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        session.execute(
            text("UPDATE organization SET status = 'withdrawn' WHERE id = :i"), {"i": orgs["P3"]}
        )
        audit(session, None, "update", "organization", orgs["P2"])
        session.commit()
    index = restarted_index(api, tmp_path)
    with caplog.at_level(logging.INFO, logger="service.fit_history"):
        _sync(index, engine=api.engine)
    assert len(fits) == 2 and not index.loaded
    assert "監査記録にない変更" in caplog.text
    assert index.ranker is not None and item_key(orgs["P3"]) not in index.ranker.org_index_


@pytest.fixture
def other_database(empty_database: str) -> Iterator[Any]:
    """A second database of the kind under test, migrated, with its engine."""
    from service.config import Settings

    url = Settings(database_url=empty_database).sqlalchemy_url
    upgrade(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        SQLModel.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()


def test_a_saved_fit_of_another_database_is_not_loaded(
    api: Server, other_database: Any, fits: list[int], tmp_path: Path
) -> None:
    """The same corpus imported into two databases, their fits saved in one folder: each
    database fits its own, and ranks as a plain fit of its rows does."""
    needs, orgs, _ = load_corpus(("c",))
    indexes = []
    for engine in (api.engine, other_database):
        with Session(engine) as session:
            loader.import_organizations(session, orgs, user=None)
            loader.import_needs(session, needs, user=None)
        index = MatchingIndex(engine, index_dir=tmp_path / "shared")
        _sync(index, engine=engine)
        indexes.append(index)
    assert len(fits) == 2 and not any(i.loaded for i in indexes)
    assert len(list((tmp_path / "shared").glob("ranker-*.pickle"))) == 2
    for index, engine in zip(indexes, (api.engine, other_database), strict=True):
        plain = MatchingIndex(engine)  # no folder: a fit
        _sync(plain, engine=engine)
        assert _rankings(plain) == _rankings(index)


def test_a_folder_that_cannot_be_written_costs_only_the_saving(
    api: Server, fits: list[int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    coord = api.client("coord")
    needs, _ = seed(coord)
    index = restarted_index(api, blocker / "index")
    with caplog.at_level(logging.WARNING, logger="service.saved_index"):
        ranked = ok(coord.get(f"/api/needs/{needs['N1']}/suggestions"))
    assert ranked and len(fits) == 1 and not index.loaded
    assert "保存できませんでした" in caplog.text
    assert index.ranker is not None and not matching.is_mapped(index.ranker.org_dense_)


def test_a_damaged_saved_fit_is_fitted_again(
    api: Server, fits: list[int], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    coord = api.client("coord")
    restarted_index(api, tmp_path)
    needs, _ = seed(coord)
    before = _listed(coord, needs)
    (path,) = _saved(tmp_path)
    path.write_bytes(path.read_bytes()[:1000])  # cut short
    index = restarted_index(api, tmp_path)
    with caplog.at_level(logging.WARNING, logger="service.saved_index"):
        assert _listed(coord, needs) == before
    assert not index.loaded and len(fits) == 2 and "読み込めませんでした" in caplog.text
    restarted_index(api, tmp_path)
    assert _listed(coord, needs) == before
    assert api.app.state.index.loaded and len(fits) == 2  # type: ignore[attr-defined]


def test_a_fit_saved_in_the_format_before_is_fitted_again_and_pruned(
    api: Server, fits: list[int], tmp_path: Path
) -> None:
    """After an upgrade, a fit joblib saved (named ``.joblib``) is not loaded: the start
    fits, and the save that follows removes the old file."""
    coord = api.client("coord")
    restarted_index(api, tmp_path)
    needs, _ = seed(coord)
    before = _listed(coord, needs)
    (path,) = _saved(tmp_path)
    old = path.rename(path.with_suffix(".joblib"))
    index = restarted_index(api, tmp_path)
    assert _listed(coord, needs) == before
    assert not index.loaded and len(fits) == 2
    assert not old.exists() and len(_saved(tmp_path)) == 1


def test_where_fits_are_saved_by_default(tmp_path: Path) -> None:
    from service.config import Settings

    beside = Settings(database_url=f"sqlite:///{tmp_path / 'city.sqlite3'}")
    assert beside.saved_index_dir == tmp_path / "city.sqlite3.index"
    one, two = (
        Settings(database_url=f"postgresql://kyodo@db.internal/{name}").saved_index_dir
        for name in ("kyodo", "kyodo_test")
    )
    assert one is not None and two is not None and one != two and one.parent == two.parent
    assert one.parent.name == "index" and "kyodo-match" in one.parts
    chosen = Settings(database_url="sqlite://", index_dir=str(tmp_path / "fits"))
    assert chosen.saved_index_dir == tmp_path / "fits"
    assert Settings(index_dir="off").saved_index_dir is None


def test_more_changes_since_the_saved_fit_than_a_running_index_takes_are_fitted(
    api: Server, fits: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the share of changes at which a running index refits, a start fits too; the
    changes are counted by need and profile (a profile edited twice is one), and readings
    (a profile's contact details viewed) are none."""
    coord = api.client("coord")
    restarted_index(api, tmp_path)
    needs, orgs = seed(coord)
    _listed(coord, needs)
    monkeypatch.setattr(index_module, "REFIT_MIN_CHANGES", 1)
    monkeypatch.setattr(index_module, "REFIT_SHARE", 0.0)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        audit(session, None, "update", "organization", orgs["P2"])
        audit(session, None, "update", "organization", orgs["P2"])
        for key in ("P3", "P4", "P3"):
            audit(session, None, "view", "organization", orgs[key])
        session.commit()
    one = restarted_index(api, tmp_path)
    _sync(one, engine=api.engine)
    assert len(fits) == 1 and one.loaded  # one change: resumed
    with Session(api.engine) as session:  # type: ignore[arg-type]
        audit(session, None, "update", "organization", orgs["P3"])
        session.commit()
    two = restarted_index(api, tmp_path)
    _sync(two, engine=api.engine)
    assert len(fits) == 2 and not two.loaded  # two: fitted
    assert two.seen_audit_id == two.fitted_audit_id


@pytest.mark.parametrize("damage", ["not json", '{"key": "x"}', '["a list"]'])
def test_a_damaged_note_is_not_resumed(
    api: Server, fits: list[int], tmp_path: Path, damage: str
) -> None:
    coord = api.client("coord")
    restarted_index(api, tmp_path)
    needs, orgs = seed(coord)
    _listed(coord, needs)
    (note,) = tmp_path.glob("ranker-*.json")
    note.write_text(damage, encoding="utf-8")
    with Session(api.engine) as session:  # type: ignore[arg-type]
        audit(session, None, "update", "organization", orgs["P2"])
        session.commit()
    index = restarted_index(api, tmp_path)
    _sync(index, engine=api.engine)
    assert len(fits) == 2 and not index.loaded
