"""An edit refreshes the stored suggestions of the needs it can move, not every need's
(#14), and leaves them as a full refresh would."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlmodel import Session, select

from corpus import load_corpus
from service import loader
from service.index import MatchingIndex
from service.models import Organization, Suggestion
from service.refresh import ensure_fresh

from .conftest import Server
from .helpers import ok, org_payload
from .test_pages import login

TOP = 10


def _stored(server: Server) -> dict[tuple[int, int], tuple[object, ...]]:
    """Every stored suggestion (the score to 5 places: float32 word vectors give a block
    of another shape another last digit)."""
    with Session(server.engine) as session:  # type: ignore[arg-type]
        return {
            (s.need_id, s.organization_id): (
                s.rank,
                s.status,
                round(s.score, 5),
                s.index_version,
                s.model_version,
                s.reasons.get("terms"),
            )
            for s in session.exec(select(Suggestion)).all()
        }


def _full_refresh(server: Server, index: MatchingIndex) -> None:
    """Every need ranked again over the same index, as a process that has not refreshed."""
    index.refreshed, index.suggestions_version = None, ""
    with Session(server.engine) as session:  # type: ignore[arg-type]
        ensure_fresh(session, index, top=TOP)
    assert index.progress.last_total == len(index.ranker.need_ids_)  # type: ignore[union-attr]


def _org_id(server: Server, key: str) -> int:
    with Session(server.engine) as session:  # type: ignore[arg-type]
        org = session.exec(select(Organization).where(Organization.key == key)).one()
        assert org.id is not None
        return org.id


@pytest.fixture
def corpus_c(api: Server) -> Server:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        needs, orgs, _ = load_corpus(("c",))
        loader.import_organizations(session, orgs, user=None)
        loader.import_needs(session, needs, user=None)
    ok(api.client("coord").get("/api/review-queue"))  # fitted, every need stored
    return api


def test_a_profile_edit_refreshes_the_needs_it_can_move_as_a_full_refresh_would(
    corpus_c: Server,
) -> None:
    api = corpus_c
    coord = api.client("coord")
    index: MatchingIndex = api.app.state.index  # type: ignore[attr-defined]
    assert index.ranker is not None
    every = len(index.ranker.need_ids_)
    _, orgs, _ = load_corpus(("c",))
    edited = replace(orgs[3], activities=orgs[3].activities + "子ども食堂と防災訓練を始めました。")
    changes = [
        lambda: coord.patch(
            f"/api/organizations/{_org_id(api, edited.id)}",
            json={"activities": edited.activities},
        ),
        lambda: coord.post(
            "/api/organizations", json=org_payload(4, key="P9", name="竹林の守り人", areas=["西区"])
        ),
        lambda: coord.delete(f"/api/organizations/{_org_id(api, orgs[0].id)}"),
    ]
    for change in changes:
        assert change().status_code in (200, 201)
        before = index.suggestions_version
        ok(coord.get("/api/review-queue"))
        assert index.suggestions_version != before
        # ranked again: the needs the group was or now would be on the list of, not all
        assert 0 < index.progress.last_total < every
        assert ok(coord.get("/api/index"))["progress"]["last_total"] < every
        models = login(api, "coord").get("/models").text
        assert f"提案を計算し直しています（{index.progress.last_total} 件）" in models
        incremental = _stored(api)
        _full_refresh(api, index)
        assert _stored(api) == incremental


def test_a_need_edit_and_withdrawal_store_what_a_full_refresh_would(corpus_c: Server) -> None:
    api = corpus_c
    coord = api.client("coord")
    index: MatchingIndex = api.app.state.index  # type: ignore[attr-defined]
    listed = ok(coord.get("/api/needs", params={"limit": 3}))["items"]
    ok(coord.patch(f"/api/needs/{listed[0]['id']}", json={"goal": "子ども食堂と連携したい。"}))
    ok(coord.delete(f"/api/needs/{listed[1]['id']}"))
    ok(coord.get("/api/review-queue"))
    incremental = _stored(api)
    withdrawn = [v for (n, _), v in incremental.items() if n == listed[1]["id"]]
    assert withdrawn and all(rank is None for rank, *_ in withdrawn)  # kept, out of the list
    _full_refresh(api, index)
    assert _stored(api) == incremental
