"""事前打ち合わせ: a confirmed pairing's meetings (``service.meetings``), for its three
parties: the coordinator, the need's department and the organisation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from ...deps import CurrentUser, SessionDep, SettingsDep
from ...meetings import lifecycle, notices
from ...meetings import service as meetings
from ...meetings.schemas import MeetingCancel, MeetingIn, MeetingPublic, MeetingUpdate
from ...openapi import ICS, file_responses

router = APIRouter(tags=["meetings"])

SuggestionId = Annotated[int, Path(ge=1, le=2_147_483_647, description="提案（組み合わせ）の番号")]
MeetingId = Annotated[int, Path(ge=1, le=2_147_483_647, description="打ち合わせの番号")]


@router.get(
    "/suggestions/{suggestion_id}/meetings",
    response_model=list[MeetingPublic],
    summary="組み合わせの事前打ち合わせ（日時順）",
)
def list_meetings(
    session: SessionDep, user: CurrentUser, suggestion_id: SuggestionId
) -> list[MeetingPublic]:
    p, rows = meetings.list_meetings(session, suggestion_id, user=user)
    return [meetings.meeting_public(m, p) for m in rows]


@router.post(
    "/suggestions/{suggestion_id}/meetings",
    response_model=MeetingPublic,
    status_code=201,
    summary="事前打ち合わせを設定する（担当課は日程案）",
)
def create_meeting(
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    suggestion_id: SuggestionId,
    data: MeetingIn,
) -> MeetingPublic:
    """日時は日本時間（``date`` 2026-12-20、``start`` 14:00、``end`` 15:00）。場所か
    ``online_url`` が必須。コーディネーターが設定すると組み合わせは「事前打ち合わせ設定」に進み、
    団体と担当課にメールが送られる。担当課の設定は日程案（``proposed``）。
    422: ``BAD_DATE`` ``BAD_TIME`` ``PAST_DATE`` ``PLACE_REQUIRED`` ``BAD_URL``
    ``REASON_REQUIRED``（結果が見送りで理由なし）。過去の日時は、結果（``outcome``）を
    添えた「済んだ打ち合わせの記録」のときだけ受け付ける（メールは送らない）。"""
    return meetings.create(session, suggestion_id, data, user=user, base_url=settings.base_url)


@router.get("/meetings/{meeting_id}", response_model=MeetingPublic, summary="打ち合わせを見る")
def read_meeting(session: SessionDep, user: CurrentUser, meeting_id: MeetingId) -> MeetingPublic:
    m, p = meetings.get_meeting(session, meeting_id, user=user)
    return meetings.meeting_public(m, p)


@router.patch("/meetings/{meeting_id}", response_model=MeetingPublic, summary="打ち合わせを変える")
def update_meeting(
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    meeting_id: MeetingId,
    data: MeetingUpdate,
) -> MeetingPublic:
    """送った項目だけを変える（``version`` は読んだときの値: 409 ``STALE_VERSION``）。
    結果 ``project``（協働事業化へ）は「協働事業化」、``dropped``（見送り、
    ``outcome_reason`` 必須）は「見送り」に組み合わせを進める。"""
    return meetings.update(session, meeting_id, data, user=user, base_url=settings.base_url)


@router.post(
    "/meetings/{meeting_id}/cancel", response_model=MeetingPublic, summary="打ち合わせを中止する"
)
def cancel_meeting(
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    meeting_id: MeetingId,
    data: MeetingCancel,
) -> MeetingPublic:
    """中止にする（``reason`` 必須: 422 ``REASON_REQUIRED``; ``version`` は読んだときの値）。
    記録は「中止」として残り、.ics は同じ UID・より大きい SEQUENCE の取り消し
    （METHOD:CANCEL）になる。日程確定済みでまだ終わっていなければ団体と担当課にメール。
    409: ``MEETING_CANCELLED``（中止済み）、``OUTCOME_RECORDED``（結果を記録済み）、
    ``STALE_VERSION``。担当課は自分の日程案だけを取り下げられる。"""
    return lifecycle.cancel(
        session,
        meeting_id,
        reason=data.reason,
        version=data.version,
        user=user,
        base_url=settings.base_url,
    )


@router.get(
    "/meetings/{meeting_id}/ics",
    response_class=Response,
    summary="打ち合わせのカレンダー用ファイル（.ics）",
    responses=file_responses(ICS),
)
def meeting_ics(
    session: SessionDep, settings: SettingsDep, user: CurrentUser, meeting_id: MeetingId
) -> Response:
    m, p = meetings.get_meeting(session, meeting_id, user=user)
    return ics_response(notices.calendar_file(m, p, base_url=settings.base_url), m.id or 0)


def ics_response(content: bytes, meeting_id: int) -> Response:
    return Response(
        content,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="meeting-{meeting_id}.ics"'},
    )
