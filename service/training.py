"""Retraining the ranking model from the coordinator's stored decisions.

A new model is promoted only if it beats the cold start on held-out decisions and, when a
learned model already serves, is not worse than that one on the decisions made since it
was trained (``matching.compare_with_current``); otherwise the serving model stays.

Decisions are the current state of each decided suggestion (a revised decision counts as
revised). Training is deterministic, so a model is stored as its training data (the
decisions up to ``max_decision_id``) and its validation report, never as a pickle; every
server process rebuilds the current model from the database. A model that does not beat
the cold start on held-out decisions is recorded but not promoted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

import matching

from .audit import audit
from .errors import PermissionDenied
from .index import MatchingIndex, item_key
from .models import Decision, RankingModel, Role, Suggestion, SuggestionStatus, User

log = logging.getLogger(__name__)


def stored_decisions(session: Session, *, up_to: int | None = None) -> list[matching.Decision]:
    """``confirm``/``reject`` per decided suggestion, with the reason of its latest decision.
    The columns it reads only: whole rows (a suggestion's reasons among them) took 0.5 s
    for 3,000 decisions, at every start with a promoted model."""
    query = (
        sa_select(
            col(Suggestion.id),
            col(Suggestion.need_id),
            col(Suggestion.organization_id),
            col(Suggestion.status),
            col(Decision.action),
            col(Decision.reason_code),
        )
        .join(Decision, col(Decision.suggestion_id) == Suggestion.id)
        .where(col(Decision.action).in_(["confirm", "reject"]))
        .order_by(col(Decision.id))
    )
    if up_to is not None:
        query = query.where(col(Decision.id) <= up_to)
    latest: dict[int | None, tuple[int, int, SuggestionStatus, str, str | None]] = {}
    for suggestion_id, need_id, org_id, status, action, reason in session.execute(query):
        latest[suggestion_id] = (need_id, org_id, status, action, reason)
    return [
        matching.Decision(item_key(need_id), item_key(org_id), action, reason or "")
        for need_id, org_id, status, action, reason in latest.values()
        if status in (SuggestionStatus.confirmed, SuggestionStatus.rejected)
    ]


def may_train(user: User | None) -> None:
    """Raise unless ``user`` may retrain (the coordinator; ``None``: the command line)."""
    if user is not None and user.role != Role.coordinator:
        raise PermissionDenied("モデルの再学習はコーディネーターだけが行えます。")


def train(
    session: Session,
    index: MatchingIndex,
    *,
    user: User | None,
    on_stage: Callable[[str], None] = lambda stage: None,
) -> RankingModel:
    """Train on every stored decision; record the model; promote it if it validates.
    ``on_stage`` hears ``learning`` and, when a learned model serves, ``comparing``
    (``service.training_run`` runs this in the background and shows the stage)."""
    may_train(user)
    last = int(session.exec(select(func.max(Decision.id))).one() or 0)
    decisions = stored_decisions(session, up_to=last)
    serving = current_model(session)
    before = stored_decisions(session, up_to=serving.max_decision_id) if serving else []
    serving_version = serving.version if serving else None
    # trained on the ranker as it is now, outside the index lock (requests go on)
    ranker = index.sync(session)
    session.commit()  # no transaction stays open while it learns (minutes at 50k)
    on_stage("learning")
    learned = matching.LearnedRanker().fit_on(ranker, decisions) if ranker is not None else None
    promoted = bool(learned is not None and learned.promoted_)
    report = dict(learned.report_) if learned is not None else {}
    if promoted and ranker is not None and serving_version is not None:
        # a learned model serves: the new one replaces it only if it is not worse on
        # what was decided since that model was trained
        on_stage("comparing")
        with index.lock:
            held = index.learned if index.model_version == serving_version else None
        comparison = matching.compare_with_current(ranker, before, decisions, serving=held)
        report["against_current"] = {"version": serving_version, **comparison.as_dict()}
        if not comparison.not_worse:
            promoted = False
            report.update(
                promoted=False,
                code="worse_than_current" if comparison.enough else "no_new_evidence",
            )
    count = int(session.exec(select(func.count()).select_from(RankingModel)).one())
    row = RankingModel(
        version=f"{'learned' if promoted else 'cold-start'}-{count + 1}",
        created_by=user.id if user else None,
        decisions=len(decisions),
        max_decision_id=last,
        promoted=promoted,
        report=_jsonable(
            report if learned else {"reason": "nothing to rank yet", "code": "nothing_to_rank"}
        ),
    )
    session.add(row)
    session.flush()
    audit(session, user, "train", "model", row.id, version=row.version, promoted=promoted)
    promotion = (
        # every other process switches at its next request (see MatchingIndex.sync)
        audit(session, user, "promote", "index", row.id, version=row.version) if promoted else None
    )
    session.commit()
    session.refresh(row)
    if promotion is not None and learned is not None:
        with index.lock:  # this process already has the model: no need to train it again
            if index.ranker is not None and index.ranker is not ranker:
                learned.rebind(index.ranker)  # the index moved on while it trained
            index.learned, index.model_version = learned, row.version
            if promotion.id is not None:
                index.recent_ids.add(promotion.id)
    return row


def stored_stages(model: RankingModel) -> matching.Stages | None:
    """What the stored model's validation chose: its report's ``stages`` or, in a report
    written before they were kept, the same choices under their own keys. ``None`` (the
    model is validated again) when the report holds none this version can read."""
    report = model.report
    record = report.get("stages")
    if record is None and "alpha" in report and "expansion" in report:
        record = {
            "calibration": report.get("calibration") or {},
            "expansion": report["expansion"],
            "map_lambda": report.get("map_lambda", 0.0),
            "alpha": report["alpha"],
        }
    if not isinstance(record, dict):
        return None
    try:
        return matching.Stages.of(record)
    except matching.StagesError as error:
        log.warning(
            "model %s: stored stages not usable (%s): validating again", model.version, error
        )
        return None


def current_model(session: Session) -> RankingModel | None:
    return session.exec(
        select(RankingModel).where(RankingModel.promoted).order_by(col(RankingModel.id).desc())
    ).first()


def _jsonable(report: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in report.items():
        out[key] = {str(k): v for k, v in value.items()} if isinstance(value, dict) else value
    return out
