"""An edit refreshes the stored suggestions of the needs it can move, not every need's
(#14), and leaves them as a full refresh would."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlmodel import Session, select

from corpus import load_corpus
from service import loader
from service.index import MatchingIndex
from service.models import Organization, Suggestion
from service.refresh import ensure_fresh

from .conftest import Server
from .helpers import ok, org_payload, restarted_index, train
from .test_pages import login

TOP = 10


Stored = dict[tuple[int, int], tuple[Any, ...]]


def _stored(server: Server) -> Stored:
    """Every stored suggestion: rank, status, versions, shared terms, and the score last
    (compared within 2e-6 by ``_same``: float32 word vectors give a block of another shape
    another last digit, which rounding to any number of places can still show)."""
    with Session(server.engine) as session:  # type: ignore[arg-type]
        return {
            (s.need_id, s.organization_id): (
                s.rank,
                s.status,
                s.index_version,
                s.model_version,
                s.reasons.get("terms"),
                s.score,
            )
            for s in session.exec(select(Suggestion)).all()
        }


def _same(a: Stored, b: Stored, *, tolerance: float = 2e-6) -> bool:
    """The same rows, every part equal but the score, and the scores within ``tolerance``."""
    return a.keys() == b.keys() and all(
        a[k][:-1] == b[k][:-1] and abs(a[k][-1] - b[k][-1]) <= tolerance for k in a
    )


def _full_refresh(server: Server, index: MatchingIndex) -> None:
    """Every need ranked again over the same index, as a process that has not refreshed
    and finds no lists kept beside its fit (``service/kept_lists.py``)."""
    if index.saved is not None:
        for kept in index.saved.folder.glob("lists-*.joblib"):
            kept.unlink()
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
        assert _same(_stored(api), incremental)


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
    assert _same(_stored(api), incremental)


def _promote(api: Server, *, reranking: bool, needs: set[int] | None = None) -> dict:
    """A learned model promoted by the training path. ``reranking``: the coordinator
    decides the review queue by the completeness of the profiles (as in
    ``test_training``): a re-ranking model (and whatever else validates; ``needs``: the
    queue's suggestions for these needs only). Else each
    department's needs are paired by hand with one group the cold start ranks 20th for
    the department's first need: confirmations alone teach the expansion, no re-ranking
    model."""
    coord = api.client("coord")
    index: MatchingIndex = api.app.state.index  # type: ignore[attr-defined]
    ranker = index.ranker
    assert ranker is not None
    if reranking:
        _, orgs, _ = load_corpus(("c",))
        complete = {
            o.id
            for o in orgs
            if o.offerings and o.wishes and o.fields and o.legal_form and len(o.activities) >= 60
        }
        keys = {o.id: o.key for o in _organizations(api)}
        for offset in (0, 100):
            queue = ok(coord.get("/api/review-queue", params={"limit": 100, "offset": offset}))
            for s in queue["items"]:
                if needs is not None and s["need_id"] not in needs:
                    continue
                body = (
                    {"action": "confirm", "version": s["version"]}
                    if keys[s["organization_id"]] in complete
                    else {"action": "reject", "reason_code": "体制不足", "version": s["version"]}
                )
                ok(coord.post(f"/api/suggestions/{s['id']}/decision", json=body))
    else:
        partner: dict[str, str] = {}
        for need in ranker.needs_:
            if need.department not in partner:
                partner[need.department] = ranker.rank_orgs([need.id], top=20)[0][1][-1][0]
        for need in ranker.needs_[::3] + ranker.needs_[1::3]:
            response = coord.post(
                f"/api/needs/{int(need.id)}/pairings",
                json={"organization_id": int(partner[need.department])},
            )
            assert response.status_code in (201, 409)  # 409: suggested already
    model = train(coord)
    assert model["promoted"], model["report"]
    assert (model["report"]["alpha"] > 0) == reranking, model["report"]
    ok(coord.get("/api/review-queue"))  # every need stored by the model
    assert index.refreshed is not None and index.refreshed.learned is index.learned
    return model


def _organizations(api: Server) -> list[Organization]:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        return list(session.exec(select(Organization)).all())


@pytest.mark.parametrize("reranking", [False, True], ids=["expansion", "reranking"])
def test_under_a_learned_model_an_edit_stores_what_a_full_refresh_would(
    corpus_c: Server, reranking: bool
) -> None:
    """A promoted learned model follows each edit (``rebind``: the rows changed) and the
    refresh ranks the needs the edit can move under it (``needs_to_rerank``): the stored
    rows equal a full refresh's. With no re-ranking model a profile's edit moves a few
    needs; with one, the needs among whose 50 candidates it is or comes, which in part c
    (133 profiles: most needs' last candidate scores 0) is most of them."""
    api = corpus_c
    coord = api.client("coord")
    index: MatchingIndex = api.app.state.index  # type: ignore[attr-defined]
    model = _promote(api, reranking=reranking)
    _, orgs, _ = load_corpus(("c",))
    edited = replace(orgs[3], activities=orgs[3].activities + "子ども食堂と防災訓練を始めました。")
    needs = ok(coord.get("/api/needs", params={"limit": 3}))["items"]
    changes = {
        "profile edited": lambda: coord.patch(
            f"/api/organizations/{_org_id(api, edited.id)}",
            json={"activities": edited.activities},
        ),
        "profile added": lambda: coord.post(
            "/api/organizations", json=org_payload(4, key="P9", name="竹林の守り人", areas=["西区"])
        ),
        "profile removed": lambda: coord.delete(f"/api/organizations/{_org_id(api, orgs[0].id)}"),
        "need edited": lambda: coord.patch(
            f"/api/needs/{needs[0]['id']}", json={"goal": "子ども食堂と連携したい。"}
        ),
        "need withdrawn": lambda: coord.delete(f"/api/needs/{needs[1]['id']}"),
    }
    for label, change in changes.items():
        learned = index.learned
        assert change().status_code in (200, 201, 204), label
        ok(coord.get("/api/review-queue"))
        assert index.learned is not learned and index.model_version == model["version"]
        every = len(index.ranker.need_ids_)  # type: ignore[union-attr]
        ranked = index.progress.last_total
        if label.startswith("profile"):
            assert 0 < ranked <= every if reranking else 0 < ranked < every, label
        incremental = _stored(api)
        assert {v[3] for v in incremental.values() if v[0] is not None} >= {model["version"]}
        _full_refresh(api, index)
        assert _same(_stored(api), incremental), label


def test_a_restart_under_a_learned_model_takes_the_kept_lists_with_their_best_scores(
    corpus_c: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart (or a second worker) that takes the lists a refresh of every need kept
    ranks nothing; under a learned model it also takes each need's best scores that
    refresh's model kept (``kept_lists``), which scope its first edit
    (``test_learn_splice``): its model holds them as the process that ranked did, and
    the edit's refresh stores what a full refresh would. It builds the model once: the
    promotion's audit row, written after the fit it resumes, names the model it built."""
    api = corpus_c
    coord = api.client("coord")
    first: MatchingIndex = api.app.state.index  # type: ignore[attr-defined]
    # decisions on some needs: the others' bests are not made by the model's training
    listed = ok(coord.get("/api/needs", params={"limit": 100}))["items"]
    _promote(api, reranking=True, needs={n["id"] for n in listed[::2]})
    assert first.learned is not None and first.ranker is not None
    every = len(first.ranker.need_ids_)
    decided = {d.need_id for d in first.learned.decisions_}
    assert 0 < len(decided) < every
    kept = first.learned.kept_bests()
    assert kept and all(len(scores) == every for scores in kept.values())
    folder = api.settings.saved_index_dir
    assert folder is not None
    built: list[MatchingIndex] = []
    build = MatchingIndex._learned_for

    def counted(self: MatchingIndex, *args: Any) -> Any:
        built.append(self)
        return build(self, *args)

    monkeypatch.setattr(MatchingIndex, "_learned_for", counted)
    second = restarted_index(api, folder)
    ok(coord.get("/api/review-queue"))
    assert second.loaded and second.learned is not None
    assert second.resumed_at is None and second.fitted_audit_id < second.seen_audit_id
    assert built == [second]
    assert (second.progress.last_state, second.progress.last_total) == ("ranking", 0)
    assert second.learned.kept_bests() == kept
    _, orgs, _ = load_corpus(("c",))
    edited = replace(orgs[5], activities=orgs[5].activities + "子ども食堂と防災訓練を始めました。")
    ok(
        coord.patch(
            f"/api/organizations/{_org_id(api, edited.id)}", json={"activities": edited.activities}
        )
    )
    ok(coord.get("/api/review-queue"))
    assert 0 < second.progress.last_total <= every
    incremental = _stored(api)
    _full_refresh(api, second)
    assert _same(_stored(api), incremental)


def test_a_refresh_reads_the_stored_rows_without_their_reasons(corpus_c: Server) -> None:
    """The refresh only writes a row's reasons (a few kB each, for every pair a need was
    ever suggested with): it reads the rows without them, and what it writes is whole."""
    from sqlalchemy import inspect

    from service.refresh import _existing

    api = corpus_c
    with Session(api.engine) as session:  # type: ignore[arg-type]
        need_id = session.exec(select(Suggestion.need_id)).first()
        assert need_id is not None
        rows = _existing(session, [need_id])
        assert rows and all("reasons" in inspect(r).unloaded for r in rows.values())
        assert all(r.reasons.get("reasons") for r in rows.values())  # loaded when read
    coord = api.client("coord")
    ok(coord.post("/api/organizations", json=org_payload(4, key="P9", name="竹林の守り人")), 201)
    ok(coord.get("/api/review-queue"))
    with Session(api.engine) as session:  # type: ignore[arg-type]
        stored = session.exec(select(Suggestion)).all()
        assert all(s.reasons.get("reasons") and "terms" in s.reasons for s in stored)
