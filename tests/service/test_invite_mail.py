"""Invitations by e-mail: the coordinator's invitation and a registration's approval mail
the one-time link through the outbox (read back from a real SMTP server, aiosmtpd), the
link is still shown for hand-over, the mail's body is blanked once sent, and the address
becomes the new user's."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
from sqlmodel import Session, col, select

from service.mail.delivery import deliver_due
from service.mail.models import SECRET_REMOVED
from service.models import AuditLog, Invitation, User
from service.registrations.models import RegistrationRequest, RequestStatus

from ..mailserver import SmtpServer
from ..serving import TLS
from .conftest import PASSWORD, Server
from .helpers import csrf_of, ok, outbox, page_login, post_form, seed

ADDRESS = "satoyama@example.jp"
LINK = re.compile(r'id="invitation-link" class="copy" readonly value="[^"]*(/invite/([^"]+))"')


def invitations(api: Server) -> list[Invitation]:
    with Session(api.engine) as session:  # type: ignore[arg-type]
        return list(session.exec(select(Invitation).order_by(col(Invitation.id))).all())


def test_an_invitation_is_mailed_delivered_and_blanked(
    api: Server, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    coord = page_login(api.url, "coord", PASSWORD)
    api.clients.append(coord)
    seed(api.client("coord"))
    form = {"role": "npo", "display_name": "里山 太郎", "organization": "P1", "email": ADDRESS}
    page = post_form(coord, "/users", "/users/invite", form)
    assert page.status_code == 200, page.text
    match = LINK.search(page.text)
    assert match, "no invitation link on the page: hand-over must stay possible"
    path, token = match.group(1), match.group(2)
    assert f"{ADDRESS} あてに招待のメールを送信待ちに入れました" in page.text
    assert "デモモード" in page.text  # the test server has no SMTP host
    [row] = outbox(api)
    assert (row.kind, row.to_address, row.user_id) == ("invitation", ADDRESS, None)
    assert row.subject == "協働マッチングへのご招待"
    assert f"{api.settings.base_url}{path}\n" in row.body
    [invitation] = invitations(api)
    assert invitation.email == ADDRESS
    with Session(api.engine) as session:  # type: ignore[arg-type]
        detail = session.exec(select(AuditLog.detail).where(AuditLog.entity == "invitation")).one()
    assert detail == {"role": "npo", "mailed": True} and token not in str(detail)

    caplog.set_level(logging.DEBUG)
    done = deliver_due(api.engine, settings=smtp.settings(api.settings))  # type: ignore[arg-type]
    assert len(done.sent) == 1
    [(rcpt, msg, raw)] = smtp.recorder.messages
    assert rcpt == [ADDRESS] and msg["Subject"] == "協働マッチングへのご招待"
    assert token.encode() not in raw  # base64 on the wire, the link only in the decoded body
    body = msg.get_content()
    assert body.startswith("里山 太郎 さま\n")
    assert "のスタッフとして、協働マッチングにご招待します。" in body
    assert f"{api.settings.base_url}{path}\n" in body and "14日以内" in body
    assert "通知の設定" not in body  # not a user yet: no settings to point to
    # the secret is in no log line of ours, and no longer kept in the outbox once sent
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    assert all(token not in r.getMessage() for r in ours)
    [row] = outbox(api)
    assert row.sent_at is not None and row.body == SECRET_REMOVED and token not in row.body

    # the person follows the link from the mail: the address becomes the new user's
    with httpx.Client(verify=TLS, base_url=api.url, timeout=30) as person:
        form_page = person.get(path)
        assert form_page.status_code == 200
        r = person.post(
            path,
            data={
                "username": "invited-by-mail",
                "password": "kawa-no-nagare-2026",
                "password2": "kawa-no-nagare-2026",
                "csrf_token": csrf_of(form_page),
            },
        )
        assert r.status_code == 303, r.text
    with Session(api.engine) as session:  # type: ignore[arg-type]
        user = session.exec(select(User).where(User.username == "invited-by-mail")).one()
        assert user.email == ADDRESS
        user.email = ""  # the user stays (others refer to it); its address does not
        session.add(user)
        session.commit()


def test_without_an_address_nothing_is_mailed_and_a_bad_one_invites_nobody(api: Server) -> None:
    coord = page_login(api.url, "coord", PASSWORD)
    api.clients.append(coord)
    page = post_form(coord, "/users", "/users/invite", {"role": "npo"})
    assert page.status_code == 200 and LINK.search(page.text)
    assert "このリンクをメールなどで本人に送ってください" in page.text
    assert outbox(api) == [] and [i.email for i in invitations(api)] == [""]
    bad = post_form(coord, "/users", "/users/invite", {"role": "npo", "email": "not an address"})
    assert bad.status_code == 422 and "メールアドレスの形式" in bad.text
    assert len(invitations(api)) == 1 and outbox(api) == []
    # the API takes the address too, and says where the link went
    out = ok(
        api.client("coord").post(
            "/api/invitations",
            json={"role": "department", "department": "防災危機管理室", "email": ADDRESS},
        ),
        201,
    )
    assert out["mailed_to"] == ADDRESS
    [row] = outbox(api)
    assert row.to_address == ADDRESS and f"{out['path']}\n" in row.body
    assert "防災危機管理室の協働推進員として" in row.body


def test_an_approved_registration_mails_the_invitation(api: Server, smtp: SmtpServer) -> None:
    coord_api = api.client("coord")
    needs, _ = seed(coord_api)
    with Session(api.engine) as session:  # type: ignore[arg-type]
        for i, email in enumerate(("group1@example.jp", "group2@example.jp")):
            session.add(
                RegistrationRequest(
                    need_id=needs["N1"],
                    group_name=f"みどりの会{i}",
                    contact_name="山田 みどり",
                    email=email,
                    profile="北区で子ども食堂を開いています。",
                    address_hash=f"h{i}",
                )
            )
        session.commit()
        first, second = session.exec(
            select(RegistrationRequest.id).order_by(col(RegistrationRequest.id))
        ).all()
    coord = page_login(api.url, "coord", PASSWORD)
    api.clients.append(coord)
    queue = coord.get("/registrations")
    # the form offers the address the group gave
    assert f'id="email-{first}" name="email" type="email" maxlength="254" value="group1@' in (
        queue.text
    )
    bad = post_form(coord, "/registrations", f"/registrations/{first}/approve", {"email": "x@"})
    assert bad.status_code == 422 and "メールアドレスの形式" in bad.text
    with Session(api.engine) as session:  # type: ignore[arg-type]
        still = session.get(RegistrationRequest, first)
        assert still is not None and still.status == RequestStatus.pending
    r = post_form(
        coord, "/registrations", f"/registrations/{first}/approve", {"email": "group1@example.jp"}
    )
    assert r.status_code == 200, r.text
    path = LINK.search(r.text)
    assert path and "group1@example.jp あてに招待のメールを送信待ちに入れました" in r.text
    # emptied: approved, nothing mailed, the link handed over
    r2 = post_form(coord, "/registrations", f"/registrations/{second}/approve", {"email": ""})
    assert r2.status_code == 200 and LINK.search(r2.text)
    assert [(m.kind, m.to_address) for m in outbox(api)] == [("invitation", "group1@example.jp")]
    deliver_due(api.engine, settings=smtp.settings(api.settings))  # type: ignore[arg-type]
    [(rcpt, msg, _)] = smtp.recorder.messages
    body = msg.get_content()
    assert rcpt == ["group1@example.jp"] and body.startswith("山田 みどり さま\n")
    assert "登録のお申し込みをいただきありがとうございました" in body
    assert "みどりの会0 のスタッフとして" in body
    assert f"{api.settings.base_url}{path.group(1)}\n" in body


def test_an_address_that_is_markup_is_shown_as_text(api: Server) -> None:
    coord = page_login(api.url, "coord", PASSWORD)
    api.clients.append(coord)
    hostile = "<script>alert(1)</script>@example.jp"
    page = post_form(coord, "/users", "/users/invite", {"role": "npo", "email": hostile})
    assert page.status_code == 200 and "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@example.jp あてに" in page.text
    outbox_page = coord.get("/mail")
    assert "<script>alert(1)" not in outbox_page.text
    assert "宛先 &lt;script&gt;alert(1)&lt;/script&gt;@example.jp" in outbox_page.text
