from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ... import reviews, stages
from ... import suggestions as sugg
from ...deps import CurrentUser, IndexDep, SessionDep, SettingsDep, TodayDep
from ...schemas import (
    DecisionIn,
    DecisionPublic,
    Page,
    PairIn,
    StageIn,
    StageUndoIn,
    SuggestionPublic,
)
from ...served import SUGGESTION_HEADERS

router = APIRouter(tags=["review"])

Id = Annotated[int, Path(ge=1, le=2_147_483_647, description="提案の番号")]


@router.get(
    "/review-queue",
    response_model=Page[SuggestionPublic],
    summary="確認待ちの提案（スコア順）",
    responses={200: {"headers": SUGGESTION_HEADERS}},
)
def review_queue(
    response: Response,
    session: SessionDep,
    index: IndexDep,
    settings: SettingsDep,
    today: TodayDep,
    user: CurrentUser,
    department: Annotated[str | None, Query(max_length=100)] = None,
    field: Annotated[int | None, Query(ge=1, le=20)] = None,
    need_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[SuggestionPublic]:
    page, served = sugg.queue(
        session,
        index,
        user=user,
        top=settings.suggestions_per_need,
        department=department,
        field=field,
        need_id=need_id,
        limit=limit,
        offset=offset,
        today=today,
    )
    response.headers.update(served.headers)
    return page


@router.get("/suggestions/{suggestion_id}", response_model=SuggestionPublic, summary="提案を見る")
def read_suggestion(session: SessionDep, user: CurrentUser, suggestion_id: Id) -> SuggestionPublic:
    return reviews.get_suggestion(session, suggestion_id, user=user)


@router.get(
    "/suggestions/{suggestion_id}/history",
    response_model=list[DecisionPublic],
    summary="判断の履歴",
)
def suggestion_history(
    session: SessionDep, user: CurrentUser, suggestion_id: Id
) -> list[DecisionPublic]:
    return reviews.history(session, suggestion_id, user=user)


@router.post(
    "/suggestions/{suggestion_id}/decision", response_model=SuggestionPublic, summary="承認・見送り"
)
def decide(
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    suggestion_id: Id,
    data: DecisionIn,
) -> SuggestionPublic:
    """``confirm`` or ``reject`` (with ``reason_code``); ``version`` is the one you read."""
    return reviews.decide(session, suggestion_id, data, user=user, base_url=settings.base_url)


@router.post(
    "/needs/{need_id}/pairings",
    response_model=SuggestionPublic,
    status_code=201,
    summary="提案にない団体を組み合わせる（その場で承認）",
)
def pair_by_hand(
    session: SessionDep,
    settings: SettingsDep,
    index: IndexDep,
    user: CurrentUser,
    need_id: Annotated[int, Path(ge=1, le=2_147_483_647, description="課題の番号")],
    data: PairIn,
) -> SuggestionPublic:
    """A group the coordinator knows fits the need, though the ranking did not suggest it:
    stored as a confirmed suggestion (``rank`` null, ``model_version`` ``by-hand``), taught to
    the ranking model at the next retraining. 409 ``ALREADY_SUGGESTED`` if the pair is
    already a suggestion (decide it there)."""
    return reviews.pair_by_hand(
        session, index, need_id, data, user=user, base_url=settings.base_url
    )


@router.post(
    "/suggestions/{suggestion_id}/stage",
    response_model=SuggestionPublic,
    summary="次の段階へ進める",
)
def advance(
    session: SessionDep, user: CurrentUser, suggestion_id: Id, data: StageIn
) -> SuggestionPublic:
    """事前打ち合わせ設定 → 協働事業化 / 見送り（見送りは ``comment`` に理由が必須:
    422 ``REASON_REQUIRED``）."""
    return stages.advance(session, suggestion_id, data, user=user)


@router.post(
    "/suggestions/{suggestion_id}/stage/undo",
    response_model=SuggestionPublic,
    summary="直前の段階を取り消す",
)
def undo_stage(
    session: SessionDep, user: CurrentUser, suggestion_id: Id, data: StageUndoIn
) -> SuggestionPublic:
    """誤って記録した段階を、理由を添えて取り消す（コーディネーターのみ。履歴と監査ログに残る）。
    409 ``NO_STAGE``: 取り消す段階がない。"""
    return stages.undo(session, suggestion_id, data, user=user)
