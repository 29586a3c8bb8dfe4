"""「この課題に取り組みたい」: registration requests from a published need's public page, and
the coordinator's queue (/registrations) that turns them into invitations or declines them.

Real server, real database, real HTTP: the form is posted as a browser posts it (CSRF
token from the page, its cookie), and what was stored is read back from the database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlmodel import Session, col, select

from service.models import AppKey, AuditLog, Invitation, Organization, Role
from service.registrations import service as registration_service
from service.registrations.models import RegistrationRequest, RequestStatus

from ..serving import TLS
from .conftest import PASSWORD, Server
from .helpers import csrf_of, need_payload, ok, page_login, post_form, seed

GROUP = "みどりの子ども食堂ネットワーク"
EMAIL = "kodomo-shokudo@example.jp"
CONTACT = "山田 みどり"
PROFILE = "北区で月2回、子ども食堂を開いています。防災の出前授業もできます。"
PUBLIC_OUTPUTS = ("/public/needs", "/public/needs.csv", "/public/needs.json", "/public/needs.atom")


@dataclass
class World:
    api: Server
    anon: httpx.Client
    need: int  # published
    draft: int

    def stored(self) -> list[RegistrationRequest]:
        with Session(self.api.engine) as session:  # type: ignore[arg-type]
            return list(
                session.exec(select(RegistrationRequest).order_by(col(RegistrationRequest.id)))
            )

    def page(self, user: str) -> httpx.Client:
        client = page_login(self.api.url, user, PASSWORD)
        self.api.clients.append(client)
        return client


@pytest.fixture
def world(api: Server) -> Iterator[World]:
    coord = api.client("coord")
    needs, _ = seed(coord)
    draft = ok(coord.post("/api/needs", json=need_payload(2, key="ND", status="draft")), 201)["id"]
    anon = httpx.Client(verify=TLS, base_url=api.url, timeout=30, follow_redirects=False)
    api.clients.append(anon)
    yield World(api, anon, needs["N1"], draft)


def form(**over: str) -> dict[str, object]:
    data: dict[str, object] = {
        "group_name": GROUP,
        "contact_name": CONTACT,
        "email": EMAIL,
        "phone": "045-123-4567",
        "profile": PROFILE,
        "area": "北区",
    }
    data.update(over)
    return data


def send(w: World, need: int | None = None, /, **over: str) -> httpx.Response:
    need_id = need or w.need
    return post_form(
        w.anon, f"/public/needs/{need_id}", f"/public/needs/{need_id}/register", form(**over)
    )


def test_the_public_page_has_the_form_and_a_request_is_stored_as_pending(world: World) -> None:
    page = world.anon.get(f"/public/needs/{world.need}")
    assert "この課題に取り組みたい" in page.text
    assert f'action="/public/needs/{world.need}/register' in page.text
    assert 'class="hp"' in page.text and 'name="website"' in page.text
    assert "style=" not in page.text  # the honeypot is hidden by the stylesheet (strict CSP)

    r = send(world)
    assert r.status_code == 303
    assert r.headers["location"] == f"/public/needs/{world.need}/registered"
    thanks = world.anon.get(r.headers["location"])
    assert thanks.status_code == 200
    assert "受け付けました。市民自治推進課から連絡します。" in thanks.text
    [stored] = world.stored()
    assert stored.status == RequestStatus.pending
    assert (stored.need_id, stored.group_name, stored.email) == (world.need, GROUP, EMAIL)
    assert stored.profile == PROFILE and stored.area == "北区"
    with Session(world.api.engine) as session:  # type: ignore[arg-type]
        assert stored.address_hash == registration_service.address_hash(session, "127.0.0.1")
        key = session.get(AppKey, "registration-address")
    # keyed: not what hashing every IPv4 address would find (sha256 of it, salted or not)
    assert key is not None and len(bytes.fromhex(key.value)) == 32
    for guess in ("127.0.0.1", "kyodo-registration:127.0.0.1"):
        assert stored.address_hash != hashlib.sha256(guess.encode()).hexdigest()
    assert (
        stored.address_hash
        == hmac.new(bytes.fromhex(key.value), b"127.0.0.1", hashlib.sha256).hexdigest()
    )
    assert stored.decided_at is None and stored.decided_by is None


def test_a_draft_or_unknown_need_is_refused(world: World) -> None:
    page = world.anon.get(f"/public/needs/{world.need}")  # a page that gives a CSRF token
    for need_id in (world.draft, 999_999):
        r = world.anon.post(
            f"/public/needs/{need_id}/register", data={**form(), "csrf_token": csrf_of(page)}
        )
        assert r.status_code == 404
        assert world.anon.get(f"/public/needs/{need_id}/registered").status_code == 404
    assert world.stored() == []


def test_without_the_csrf_token_nothing_is_stored(world: World) -> None:
    world.anon.get(f"/public/needs/{world.need}")  # the CSRF cookie is set, the token not sent
    r = world.anon.post(f"/public/needs/{world.need}/register", data=form())
    assert r.status_code == 403
    r = world.anon.post(
        f"/public/needs/{world.need}/register", data={**form(), "csrf_token": "0" * 64}
    )
    assert r.status_code == 403
    assert world.stored() == []


def test_a_filled_honeypot_gets_the_same_thanks_and_stores_nothing(world: World) -> None:
    r = send(world, website="https://spam.example.com/")
    assert r.status_code == 303
    assert r.headers["location"] == f"/public/needs/{world.need}/registered"
    assert world.stored() == []


def test_the_sixth_request_from_one_address_within_the_hour_gets_429(world: World) -> None:
    assert registration_service.LIMIT == 5
    for i in range(5):
        assert send(world, group_name=f"{GROUP}{i}").status_code == 303
    r = send(world, group_name="六つ目の団体")
    assert r.status_code == 429
    assert "申し込みが多すぎます" in r.text and "時間ほど待って" in r.text
    assert int(r.headers["retry-after"]) == 3600
    stored = world.stored()
    assert len(stored) == 5 and "六つ目の団体" not in {s.group_name for s in stored}


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"email": "not-an-address"}, "メールアドレスの形"),
        ({"email": ""}, "メールアドレスは必須です。"),
        ({"group_name": "   "}, "団体名は必須です。"),
        ({"profile": "あ" * 1001}, "団体の紹介は1000文字以内で入力してください。"),
        ({"group_name": "ベル\x07の会"}, "団体名に使えない文字"),
        ({"contact_name": "山田\nみどり"}, "担当者名に使えない文字"),
        ({"phone": "電話してください"}, "電話番号は数字とハイフン"),
    ],
)
def test_bad_input_is_refused_in_japanese_and_nothing_is_stored(
    world: World, over: dict[str, str], message: str
) -> None:
    r = send(world, **over)
    assert r.status_code == 422
    assert message in r.text
    assert "入力内容を確かめてください。" in r.text
    assert 'value="' + CONTACT + '"' in r.text or "contact_name" in over  # the form keeps values
    assert world.stored() == []


def test_a_nul_character_is_refused_in_japanese(world: World) -> None:
    r = send(world, profile="活動\x00内容")
    assert r.status_code == 422
    assert "使えない文字" in r.text
    assert world.stored() == []


def test_the_coordinator_approves_and_gets_an_invitation_for_the_new_organization(
    world: World,
) -> None:
    assert send(world).status_code == 303
    [request] = world.stored()
    coord = world.page("coord")
    queue = coord.get("/registrations")
    assert queue.status_code == 200
    assert GROUP in queue.text and EMAIL in queue.text and PROFILE in queue.text
    title = need_payload(0)["title"]
    assert f'<a href="/needs/{world.need}">{title}</a>' in queue.text
    # the menu shows how many wait
    assert re.search(r'href="/registrations".*?class="nav-count">1<', queue.text)

    r = coord.post(f"/registrations/{request.id}/approve", data={"csrf_token": csrf_of(queue)})
    assert r.status_code == 200, r.text
    link = re.search(r'value="(http[^"]+/invite/([^"]+))"', r.text)
    assert link, r.text
    assert "nav-count" not in r.text  # none waits any more

    [done] = world.stored()
    assert done.status == RequestStatus.approved and done.decided_at is not None
    with Session(world.api.engine) as session:  # type: ignore[arg-type]
        org = session.get(Organization, done.organization_id)
        invitation = session.get(Invitation, done.invitation_id)
        audits = session.exec(
            select(AuditLog.action, AuditLog.entity, AuditLog.entity_id).where(
                col(AuditLog.entity).in_(["registration_request", "organization", "invitation"])
            )
        ).all()
        coord_id = invitation.created_by if invitation else None
    assert org is not None and invitation is not None
    assert (org.name, org.activities, org.contact_email) == (GROUP, PROFILE, EMAIL)
    assert org.contact_name == CONTACT and org.areas == "|北区|"
    assert invitation.role == Role.npo and invitation.organization_id == org.id
    assert invitation.display_name == CONTACT and invitation.used_at is None
    assert done.decided_by == coord_id
    assert ("approve", "registration_request", done.id) in audits
    assert ("create", "organization", org.id) in audits
    assert ("invite", "invitation", invitation.id) in audits
    # the link works for whoever the coordinator hands it to
    invite = world.anon.get(f"/invite/{link.group(2)}")
    assert invite.status_code == 200
    # a second approval (another tab, a double click) changes nothing
    again = coord.post(f"/registrations/{request.id}/approve", data={"csrf_token": csrf_of(queue)})
    assert again.status_code == 409
    with Session(world.api.engine) as session:  # type: ignore[arg-type]
        assert len(session.exec(select(Organization).where(Organization.name == GROUP)).all()) == 1
        assert len(session.exec(select(Invitation)).all()) == 1


def test_the_coordinator_declines_with_a_reason(world: World) -> None:
    assert send(world).status_code == 303
    [request] = world.stored()
    coord = world.page("coord")
    action = f"/registrations/{request.id}/decline"
    r = post_form(coord, "/registrations", action, {"reason": "  "})
    assert r.status_code == 422 and "お断りの理由" in r.text
    assert world.stored()[0].status == RequestStatus.pending

    r = post_form(coord, "/registrations", action, {"reason": "市外の団体のため（地域外）"})
    assert (
        r.status_code == 303 and r.headers["location"] == "/registrations?msg=registration_declined"
    )
    [done] = world.stored()
    assert done.status == RequestStatus.declined
    assert done.decline_reason == "市外の団体のため（地域外）"
    assert done.decided_at is not None and done.organization_id is None
    with Session(world.api.engine) as session:  # type: ignore[arg-type]
        audit = session.exec(
            select(AuditLog).where(
                AuditLog.entity == "registration_request", AuditLog.action != "view"
            )
        ).one()
        assert session.exec(select(Organization).where(Organization.name == GROUP)).first() is None
        assert session.exec(select(Invitation)).first() is None
    assert (audit.action, audit.entity_id) == ("decline", done.id)
    assert audit.detail["reason"] == "市外の団体のため（地域外）"
    page = coord.get("/registrations")
    assert "未対応の申し込みはありません。" in page.text and "市外の団体のため" in page.text
    # declined is final: it cannot be approved afterwards
    r = post_form(coord, "/registrations", f"/registrations/{request.id}/approve", {})
    assert r.status_code == 409


@pytest.mark.parametrize("user", ["bousai", "npo1"])
def test_departments_and_groups_cannot_see_or_decide_requests(world: World, user: str) -> None:
    assert send(world).status_code == 303
    [request] = world.stored()
    client = world.page(user)
    assert client.get("/registrations").status_code == 403
    assert "/registrations" not in client.get("/my").text  # not in their menu
    attempts: list[tuple[str, dict[str, object]]] = [
        ("approve", {}),
        ("decline", {"reason": "勝手にお断り"}),
    ]
    for action, data in attempts:
        r = post_form(client, "/account", f"/registrations/{request.id}/{action}", data)
        assert r.status_code == 403, (action, r.text)
    [still] = world.stored()
    assert still.status == RequestStatus.pending and still.decided_at is None
    # and anonymous visitors are sent to the login page
    r = world.anon.get("/registrations")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_the_public_pages_never_show_requests(world: World) -> None:
    assert send(world).status_code == 303
    assert send(world, group_name="お断りされる会", email="decline@example.jp").status_code == 303
    first, second = world.stored()
    coord = world.page("coord")
    queue = coord.get("/registrations")
    assert (
        coord.post(
            f"/registrations/{first.id}/approve", data={"csrf_token": csrf_of(queue)}
        ).status_code
        == 200
    )
    r = post_form(coord, "/registrations", f"/registrations/{second.id}/decline", {"reason": "x"})
    assert r.status_code == 303
    assert send(world, group_name="まだ未対応の会", email="pending@example.jp").status_code == 303
    secrets = (
        GROUP,
        EMAIL,
        CONTACT,
        "045-123-4567",
        "お断りされる会",
        "decline@example.jp",
        "まだ未対応の会",
        "pending@example.jp",
        PROFILE[:10],
    )
    pages = [
        *PUBLIC_OUTPUTS,
        f"/public/needs/{world.need}",
        f"/public/needs/{world.need}/registered",
    ]
    for url in pages:
        body = world.anon.get(url).content.decode("utf-8-sig")
        assert body, url
        for secret in secrets:
            assert secret not in body, (url, secret)
