"""Mail kind ``proposal``: a group put forward for a need from outside the ranking.

A group's 「この課題に取り組みたい」 request, approved by the coordinator, tells the need's
department users which group stepped forward (in the approval's transaction, once, unless
they turned the kind off). A group the coordinator pairs by hand is already told to the
department by the confirmation's own mail: that path sends no second one.

Real server, real database, real HTTP; the mail is read back from a real SMTP server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from service.mail.delivery import deliver_due
from service.mail.models import MailOutbox, MailPreference
from service.models import User
from service.registrations import service as registration_service
from service.registrations.models import RegistrationRequest, RequestStatus

from ..mailserver import SmtpServer
from ..serving import TLS
from .conftest import PASSWORD, Server
from .helpers import clear_addresses, need_payload, ok, outbox, page_login, post_form, seed

ADDRESSES = {
    "coord": "coord@example.jp",
    "bousai": "bousai@example.jp",  # 防災危機管理室: the need's department
    "kourei": "kourei@example.jp",  # 高齢福祉課: another department
    "npo1": "npo1@example.jp",
    "npo2": "npo2@example.jp",
}
# markup and quotes in both names: a plain-text mail carries them as typed
GROUP = "<b>さくら</b>&防災の会"
TITLE = "子ども<防災>教室 & 「避難所」体験"
PROFILE = "南区で防災ワークショップを開いています。\n子ども向けの教材もあります。"
SUBJECT = "協働の種に取り組みたい団体が名乗り出ました"


@pytest.fixture
def w(api: Server) -> Iterator[dict[str, Any]]:
    """Every user with an address; the toy data and a published need of 防災危機管理室's
    whose title is markup."""
    coord = api.client("coord")
    needs, orgs = seed(coord)
    bousai_need = ok(coord.post("/api/needs", json=need_payload(1, key="NX", title=TITLE)), 201)
    assert bousai_need["department"] == "防災危機管理室"
    with Session(api.engine) as session:  # type: ignore[arg-type]
        # the users every test module starts with (others may have invited more)
        users = [u for u in session.exec(select(User)).all() if u.username in ADDRESSES]
        for user in users:
            user.email = ADDRESSES[user.username]
            session.add(user)
        session.commit()
        ids = {u.username: u.id for u in users}
    anon = httpx.Client(verify=TLS, base_url=api.url, timeout=30, follow_redirects=False)
    coord_page = page_login(api.url, "coord", PASSWORD)
    api.clients += [anon, coord_page]
    yield {
        "api": api,
        "need": bousai_need["id"],
        "kourei_need": needs["N1"],
        "orgs": orgs,
        "ids": ids,
        "anon": anon,
        "coord": coord_page,
    }
    clear_addresses(api)


def requests(api: Server) -> list[RegistrationRequest]:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        return list(
            session.exec(select(RegistrationRequest).order_by(col(RegistrationRequest.id))).all()
        )


def step_forward(w: dict[str, Any], need: int, group: str = GROUP) -> int:
    """The public form, as a visitor sends it; the request's id."""
    form: dict[str, object] = {
        "group_name": group,
        "contact_name": "佐藤 花子",
        "email": "sakura@example.jp",
        "phone": "045-987-6543",
        "profile": PROFILE,
        "area": "南区",
    }
    r = post_form(w["anon"], f"/public/needs/{need}", f"/public/needs/{need}/register", form)
    assert r.status_code == 303, r.text
    last = requests(w["api"])[-1]
    assert last.need_id == need and last.group_name == group and last.id is not None
    return last.id


def approve(w: dict[str, Any], request_id: int) -> None:
    action = f"/registrations/{request_id}/approve"
    r = post_form(w["coord"], "/registrations", action, {"email": ""})  # no invitation mail
    assert r.status_code == 200, r.text


def test_an_approved_request_tells_the_need_department_who_stepped_forward(
    api: Server, w: dict[str, Any], smtp: SmtpServer
) -> None:
    request_id = step_forward(w, w["need"])
    assert outbox(api) == []  # a request alone tells nobody: the coordinator checks it first
    approve(w, request_id)
    rows = outbox(api)
    assert [(r.kind, r.to_address, r.user_id) for r in rows] == [
        ("proposal", "bousai@example.jp", w["ids"]["bousai"])
    ]
    assert rows[0].dedup_key == f"proposal:registration:{request_id}:{w['ids']['bousai']}"
    deliver_due(api.engine, settings=smtp.settings(api.settings))  # type: ignore[arg-type]
    [(rcpt, msg, raw)] = smtp.recorder.messages
    assert rcpt == ["bousai@example.jp"] and msg["Subject"] == SUBJECT
    assert SUBJECT.encode() not in raw and GROUP.encode() not in raw  # encoded on the wire
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    body = msg.get_content()
    assert body.startswith("bousai さま\n\n")
    assert f"{GROUP} さまが、防災危機管理室の協働の種に「この課題に取り組みたい」" in body
    assert f"協働の種：{TITLE}\n団体：{GROUP}\n活動地域：南区\n団体の紹介：\n{PROFILE}\n" in body
    assert f"\n{api.settings.base_url}/needs/{w['need']}\n" in body
    # plain text: the names as typed, never entity-escaped; the contact's details stay out
    assert "&lt;" not in body and "&amp;" not in body and "&#" not in body
    for private in ("佐藤 花子", "sakura@example.jp", "045-987-6543"):
        assert private not in body
    # the coordinator's outbox page shows the same body as text, not markup
    shown = w["coord"].get("/mail").text
    assert "&lt;b&gt;さくら&lt;/b&gt;&amp;防災の会 さまが" in shown and "<b>さくら" not in shown
    # the same request cannot be approved twice, so it is never mailed twice
    r = post_form(w["coord"], "/registrations", f"/registrations/{request_id}/approve", {})
    assert r.status_code == 409 and len(outbox(api)) == 1


def test_a_department_that_turned_it_off_gets_nothing(
    api: Server, w: dict[str, Any], smtp: SmtpServer
) -> None:
    bousai = page_login(api.url, "bousai", PASSWORD)
    npo = page_login(api.url, "npo1", PASSWORD)
    api.clients += [bousai, npo]
    page = bousai.get("/account/mail")
    assert 'value="proposal"' in page.text
    assert "自課の協働の種に取り組みたいと団体が名乗り出たとき（担当課）" in page.text
    assert 'value="proposal"' not in npo.get("/account/mail").text  # a department's kind
    # every other kind ticked, this one not
    kept = ("suggestion_confirmed", "interest", "deadline_reminder", "meeting")
    r = post_form(
        bousai, "/account/mail", "/account/mail", {"email": "bousai@example.jp", "kind": kept}
    )
    assert r.status_code == 303, r.text
    with Session(api.engine) as session:  # type: ignore[arg-type]
        off = session.exec(select(MailPreference.user_id, MailPreference.kind)).all()
    assert off == [(w["ids"]["bousai"], "proposal")]
    # 防災危機管理室 turned it off; 高齢福祉課 did not
    approve(w, step_forward(w, w["need"]))
    approve(w, step_forward(w, w["kourei_need"], group="みなみ見守りの会"))
    assert [(r.kind, r.to_address) for r in outbox(api)] == [("proposal", "kourei@example.jp")]
    deliver_due(api.engine, settings=smtp.settings(api.settings))  # type: ignore[arg-type]
    [(rcpt, msg, _)] = smtp.recorder.messages
    assert rcpt == ["kourei@example.jp"] and "みなみ見守りの会 さまが、高齢福祉課の" in (
        msg.get_content()
    )


def test_the_mail_goes_with_its_approval(
    api: Server, w: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = step_forward(w, w["need"])
    seen: list[int] = []

    def failing_invitation(session: Session, **kwargs: object) -> None:
        seen.append(len(session.exec(select(MailOutbox)).all()))
        raise RuntimeError("invitation failed")

    monkeypatch.setattr(registration_service, "create_invitation", failing_invitation)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        coordinator = session.get(User, w["ids"]["coord"])
        assert coordinator is not None
        with pytest.raises(RuntimeError):
            registration_service.approve(
                session, request_id=request_id, by=coordinator, mail_base_url="http://x"
            )
        session.rollback()
    assert seen == [1]  # queued inside the approval's transaction …
    assert outbox(api) == []  # … and gone with it
    [still] = requests(api)
    assert still.status == RequestStatus.pending and still.organization_id is None
    monkeypatch.undo()
    approve(w, request_id)  # the approval that succeeds mails once
    assert [r.kind for r in outbox(api)] == ["proposal"]


def test_a_group_paired_by_hand_is_told_once_by_its_confirmation(
    api: Server, w: dict[str, Any]
) -> None:
    need = w["need"]
    suggested = {
        s["organization_id"] for s in ok(api.client("coord").get(f"/api/needs/{need}/suggestions"))
    }
    org = min(set(w["orgs"].values()) - suggested)
    r = post_form(w["coord"], f"/needs/{need}", f"/needs/{need}/pair", {"organization_id": org})
    assert r.status_code == 303, r.text
    told = [(m.kind, m.to_address) for m in outbox(api) if m.to_address == "bousai@example.jp"]
    assert told == [("suggestion_confirmed", "bousai@example.jp")]
    assert "proposal" not in {m.kind for m in outbox(api)}
