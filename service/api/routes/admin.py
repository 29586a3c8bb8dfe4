from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from ...audit import audit
from ...deps import CurrentUser, IndexDep, SessionDep
from ...errors import PermissionDenied
from ...index import MatchingIndex
from ...models import Role
from ...schemas import UserCreate, UserPublic
from ...users import create_user, user_public

router = APIRouter(tags=["admin"])


class IndexInfo(BaseModel):
    version: str
    needs: int
    organizations: int
    vocabulary: int


@router.post("/users", response_model=UserPublic, status_code=201, summary="利用者を追加する")
def add_user(session: SessionDep, user: CurrentUser, data: UserCreate) -> UserPublic:
    return user_public(session, create_user(session, data, by=user))


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
    index.sync(session)
    return _info(index)


def _info(index: MatchingIndex) -> IndexInfo:
    r = index.ranker
    return IndexInfo(
        version=index.version,
        needs=len(r.need_ids_) if r else 0,
        organizations=len(r.org_ids_) if r else 0,
        vocabulary=len(r.vectorizer_.vocabulary_) if r else 0,
    )
