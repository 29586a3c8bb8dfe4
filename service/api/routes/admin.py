from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel
from sqlmodel import Session, col, select

from ... import invitations, training, training_run
from ...audit import audit
from ...deps import CurrentUser, IndexDep, SessionDep, SettingsDep
from ...errors import NotFound, PermissionDenied
from ...index import MatchingIndex
from ...models import RankingModel, Role, TrainingRun, as_utc
from ...schemas import (
    InvitationIn,
    InvitationOut,
    RankingModelPublic,
    TrainingRunPublic,
    UserCreate,
    UserPublic,
)
from ...served import first_fit
from ...users import create_user, user_public

router = APIRouter(tags=["admin"])

RunId = Annotated[int, Path(ge=1, le=2_147_483_647, description="再学習の番号")]


class IndexInfo(BaseModel):
    version: str
    needs: int
    organizations: int
    vocabulary: int
    # what the index is doing: state idle | fitting | ranking | waiting (for another
    # worker's refresh of every need), done / total, seconds so far, and the last run's
    # state and seconds
    progress: dict[str, object]
    # the fit was loaded from the saved index (``service.saved_index``), not made here
    loaded: bool = False


@router.post("/users", response_model=UserPublic, status_code=201, summary="利用者を追加する")
def add_user(session: SessionDep, user: CurrentUser, data: UserCreate) -> UserPublic:
    return user_public(session, create_user(session, data, by=user))


@router.post(
    "/invitations", response_model=InvitationOut, status_code=201, summary="利用者を招待する"
)
def invite(
    session: SessionDep, settings: SettingsDep, user: CurrentUser, data: InvitationIn
) -> InvitationOut:
    """A one-time link (valid 14 days) with which the invited person chooses a login; with
    ``email``, the link is also mailed there (through the outbox)."""
    invitation, token = invitations.create_invitation(
        session,
        by=user,
        role=data.role,
        display_name=data.display_name,
        department=data.department,
        organization_id=data.organization_id,
        email=data.email,
        mail_base_url=settings.base_url,
    )
    return InvitationOut(
        path=f"/invite/{token}", expires_at=invitation.expires_at, mailed_to=invitation.email
    )


@router.post("/index/refit", response_model=IndexInfo, summary="索引を作り直す（全件再学習）")
def refit(session: SessionDep, index: IndexDep, user: CurrentUser) -> IndexInfo:
    if user.role != Role.coordinator:
        raise PermissionDenied()
    audit(session, user, "refit", "index")
    session.commit()
    index.refit(session)
    return _info(index)


@router.get("/index", response_model=IndexInfo, summary="索引の状態")
def index_info(session: SessionDep, index: IndexDep, user: CurrentUser) -> IndexInfo:
    if user.role != Role.coordinator:
        raise PermissionDenied()
    if not first_fit(index):  # while the warm-up fits, its progress at once
        index.sync(session)
    return _info(index)


@router.post(
    "/model/train", response_model=TrainingRunPublic, status_code=202, summary="判断から再学習する"
)
def train_model(
    session: SessionDep, index: IndexDep, user: CurrentUser, response: Response
) -> TrainingRunPublic:
    """Start a retraining on every stored decision, in the background; the answer is the
    run, to follow at ``GET /api/model/training/{id}`` (``Location``). The model serves
    only if it beats the cold start. ``409 TRAINING_RUNNING`` while another run goes on."""
    run = training_run.start(session.get_bind(), index, user=user)  # type: ignore[arg-type]
    response.headers["Location"] = f"/api/model/training/{run.id}"
    return _run_public(session, run)


@router.get("/model/training", response_model=TrainingRunPublic, summary="最新の再学習の進み具合")
def latest_training(session: SessionDep, user: CurrentUser) -> TrainingRunPublic:
    if user.role != Role.coordinator:
        raise PermissionDenied()
    run = training_run.latest(session)
    if run is None:
        raise NotFound("再学習の記録")
    return _run_public(session, run)


@router.get(
    "/model/training/{run_id}", response_model=TrainingRunPublic, summary="再学習の進み具合"
)
def training_status(session: SessionDep, user: CurrentUser, run_id: RunId) -> TrainingRunPublic:
    if user.role != Role.coordinator:
        raise PermissionDenied()
    run = session.get(TrainingRun, run_id)
    if run is None:
        raise NotFound("再学習の記録")
    return _run_public(session, run)


@router.get("/models", response_model=list[RankingModelPublic], summary="学習したモデルの一覧")
def list_models(session: SessionDep, user: CurrentUser) -> list[RankingModelPublic]:
    if user.role != Role.coordinator:
        raise PermissionDenied()
    rows = session.exec(select(RankingModel).order_by(col(RankingModel.id).desc())).all()
    current = training.current_model(session)
    return [_model_public(r, current) for r in rows]


def _model_public(row: RankingModel, current: RankingModel | None) -> RankingModelPublic:
    assert row.id is not None
    return RankingModelPublic(
        id=row.id,
        version=row.version,
        created_at=row.created_at,
        decisions=row.decisions,
        promoted=row.promoted,
        current=current is not None and current.id == row.id,
        report=row.report,
    )


def _run_public(session: Session, run: TrainingRun) -> TrainingRunPublic:
    assert run.id is not None
    model = session.get(RankingModel, run.model_id) if run.model_id is not None else None
    started = as_utc(run.started_at)
    assert started is not None
    return TrainingRunPublic(
        id=run.id,
        state=training_run.state_of(run),
        stage=run.stage,
        started_at=started,
        finished_at=as_utc(run.finished_at),
        seconds=round(training_run.seconds(run), 1),
        code=run.error_code,
        model=_model_public(model, training.current_model(session)) if model else None,
    )


def _info(index: MatchingIndex) -> IndexInfo:
    r = index.ranker
    return IndexInfo(
        version=index.version,
        needs=len(r.need_ids_) if r else 0,
        organizations=len(r.org_ids_) if r else 0,
        vocabulary=len(r.vectorizer_.vocabulary_) if r else 0,
        progress=index.progress.as_dict(),
        loaded=index.loaded,
    )
