"""Login limits (#13 item 4): counted atomically, per name × address and per address,
the same answer for unknown names, a lock the coordinator can lift, bounded hashing; and
a page session's cookie is not an API token (nor the reverse)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlmodel import Session, select

from service import throttle
from service.models import AuditLog, LoginAttempt

from ..serving import TLS
from .conftest import PASSWORD, TOKENS, Server
from .helpers import csrf_of, ok, post_form
from .test_pages import login

WRONG = "not-the-password-9"


def _token(api: Server, username: str, password: str, address: str) -> httpx.Response:
    """The API login, as a client at ``address`` behind the (trusted, loopback) proxy."""
    return httpx.post(
        f"{api.url}/api/auth/token",
        data={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
        timeout=60,
    )


def _new_user(api: Server, username: str) -> None:
    ok(
        api.client("coord").post(
            "/api/users",
            json={"username": username, "password": PASSWORD, "role": "npo"},
        ),
        201,
    )


def test_parallel_guesses_get_five_checks_not_more(api: Server) -> None:
    """(30 parallel wrong passwords were 19 guesses: the count was read, then written.)"""
    _new_user(api, "parallel-guess")
    with ThreadPoolExecutor(max_workers=15) as pool:
        answers = list(
            pool.map(lambda _: _token(api, "parallel-guess", WRONG, "198.51.100.7"), range(30))
        )
    codes = sorted(r.status_code for r in answers)
    checked = codes.count(401)
    # never more than the limit (a burst may be refused a little early, never let through)
    assert 1 <= checked <= throttle.PAIR_LIMIT and codes.count(429) == 30 - checked, codes
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json()["code"] == "TOO_MANY_ATTEMPTS"
    assert int(refused.headers["Retry-After"]) > 0
    with Session(api.engine) as session:  # type: ignore[arg-type]
        failed = session.exec(select(AuditLog).where(AuditLog.action == "login_failed")).all()
    assert len(failed) == checked
    assert {row.detail["address"] for row in failed} == {"198.51.100.7"}


def test_a_lock_is_per_address_and_unknown_names_answer_the_same(api: Server) -> None:
    """A stranger typing a name locks it from the stranger's address only; and whether
    the name exists cannot be told from the answers."""
    for name in ("coord", "nobody-has-this-name"):
        answers = [_token(api, name, WRONG, "203.0.113.9") for _ in range(throttle.PAIR_LIMIT + 1)]
        assert [r.status_code for r in answers] == [401] * throttle.PAIR_LIMIT + [429], name
        assert answers[-1].json()["code"] == "TOO_MANY_ATTEMPTS"
    first = _token(api, "coord", WRONG, "203.0.113.9").json()
    second = _token(api, "nobody-has-this-name", WRONG, "203.0.113.9").json()
    assert first == second
    # the coordinator, at the office's own address, logs in as ever
    assert _token(api, "coord", PASSWORD, "192.0.2.10").status_code == 200
    # and from the stranger's address the right password is refused too
    assert _token(api, "coord", PASSWORD, "203.0.113.9").status_code == 429


def test_one_address_guessing_many_names_is_stopped(api: Server) -> None:
    codes = [
        _token(api, f"name-{i}", WRONG, "198.51.100.200").status_code
        for i in range(throttle.ADDRESS_LIMIT + 1)
    ]
    assert codes == [401] * throttle.ADDRESS_LIMIT + [429]
    # another address is not affected
    assert _token(api, "npo1", PASSWORD, "198.51.100.201").status_code == 200


def test_a_right_password_clears_the_count_and_the_coordinator_can_unlock(
    api: Server,
) -> None:
    _new_user(api, "forgetful")
    address = "192.0.2.55"
    for _ in range(throttle.PAIR_LIMIT - 1):
        assert _token(api, "forgetful", WRONG, address).status_code == 401
    assert _token(api, "forgetful", PASSWORD, address).status_code == 200
    # four more mistakes are allowed again: the success cleared the name × address
    for _ in range(throttle.PAIR_LIMIT):
        assert _token(api, "forgetful", WRONG, address).status_code == 401
    assert _token(api, "forgetful", PASSWORD, address).status_code == 429
    # the coordinator sees the lock on the users page and lifts it
    coord = login(api, "coord")
    page = coord.get("/users")
    assert "ログインが制限されている利用者" in page.text and address in page.text
    r = post_form(coord, "/users", "/users/unlock", {"username": "forgetful", "address": address})
    assert r.status_code == 303
    assert "ログインが制限されている利用者" not in coord.get("/users").text
    assert _token(api, "forgetful", PASSWORD, address).status_code == 200
    with Session(api.engine) as session:  # type: ignore[arg-type]
        unlocked = session.exec(select(AuditLog).where(AuditLog.action == "login_unlocked")).one()
        assert unlocked.detail == {"username": "forgetful", "address": address}
        assert session.exec(select(LoginAttempt)).all() == []
    # only the coordinator may unlock
    npo = login(api, "npo1")
    r = npo.post("/users/unlock", data={"username": "x", "address": address})
    assert r.status_code == 403


def test_the_login_page_shows_the_limit_in_japanese(api: Server) -> None:
    client = httpx.Client(
        verify=TLS,
        base_url=api.url,
        headers={"X-Forwarded-For": "192.0.2.99"},
        follow_redirects=False,
    )
    api.clients.append(client)
    token = csrf_of(client.get("/login"))
    form = {"username": "npo2", "password": WRONG, "csrf_token": token}
    for _ in range(throttle.PAIR_LIMIT):
        assert client.post("/login", data=form).status_code == 401
    r = client.post("/login", data={**form, "password": PASSWORD})
    assert r.status_code == 429 and "しばらくログインできません" in r.text
    assert int(r.headers["Retry-After"]) > 0


def test_password_hashing_waits_for_a_slot_then_answers_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At most HASH_SLOTS hashes at once; a login that cannot get one in time is told so."""
    monkeypatch.setattr(throttle, "HASH_WAIT", 0.05)
    held = [throttle._slots.acquire(timeout=1) for _ in range(throttle.HASH_SLOTS)]
    assert all(held)
    try:
        with pytest.raises(throttle.LoginBusy) as caught, throttle.hashing_slot():
            pass
        assert caught.value.status == 503 and caught.value.retry_after
    finally:
        for _ in held:
            throttle._slots.release()
    with throttle.hashing_slot():  # free again
        pass


def test_a_session_cookie_is_not_an_api_token_nor_the_reverse(api: Server) -> None:
    """(The session cookie's value worked as a bearer token.)"""
    pages = login(api, "npo1")
    cookie = pages.cookies["kyodo_session"]
    r = httpx.get(f"{api.url}/api/auth/me", headers={"Authorization": f"Bearer {cookie}"})
    assert r.status_code == 401
    # the bearer token does not open the pages either
    bearer_as_cookie = httpx.get(
        f"{api.url}/account", cookies={"kyodo_session": TOKENS["npo1"]}, follow_redirects=False
    )
    assert bearer_as_cookie.status_code == 303 and "/login" in bearer_as_cookie.headers["location"]
    # each still works where it belongs
    assert pages.get("/account").status_code == 200
    assert api.client("npo1").get("/api/auth/me").status_code == 200


def test_attempts_past_the_window_are_dropped(api: Server) -> None:
    """Old failures neither count nor pile up: an address's next attempt deletes them."""
    from datetime import UTC, datetime, timedelta

    with Session(api.engine) as session:  # type: ignore[arg-type]
        old = datetime.now(UTC) - throttle.WINDOW - timedelta(minutes=1)
        for _ in range(throttle.PAIR_LIMIT + 2):
            session.add(LoginAttempt(username_key="someone-else", address="192.0.2.77", at=old))
        session.commit()
    assert _token(api, "npo1", PASSWORD, "192.0.2.77").status_code == 200
    with Session(api.engine) as session:  # type: ignore[arg-type]
        left = session.exec(select(LoginAttempt).where(LoginAttempt.address == "192.0.2.77"))
        assert left.all() == []


def test_old_attempts_of_an_address_that_never_returns_are_purged(
    api: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(Old rows were deleted only at the same address's next attempt: those of an
    address that never came back stayed for good.) Any login purges them, at most once
    a minute per process."""
    from datetime import UTC, datetime, timedelta

    def add_old(address: str) -> None:
        with Session(api.engine) as session:  # type: ignore[arg-type]
            old = datetime.now(UTC) - throttle.WINDOW - timedelta(minutes=1)
            session.add(LoginAttempt(username_key="gone-for-good", address=address, at=old))
            session.commit()

    def left(address: str) -> int:
        with Session(api.engine) as session:  # type: ignore[arg-type]
            rows = session.exec(select(LoginAttempt).where(LoginAttempt.address == address))
            return len(rows.all())

    now = [throttle._clock() + 10 * throttle.PURGE_EVERY]  # past any earlier purge's minute
    monkeypatch.setattr(throttle, "_clock", lambda: now[0])
    add_old("192.0.2.91")
    assert _token(api, "npo1", PASSWORD, "192.0.2.92").status_code == 200
    assert left("192.0.2.91") == 0
    add_old("192.0.2.93")
    now[0] += throttle.PURGE_EVERY / 2  # within the minute: no second purge yet
    assert _token(api, "npo1", PASSWORD, "192.0.2.92").status_code == 200
    assert left("192.0.2.93") == 1
    now[0] += throttle.PURGE_EVERY
    assert _token(api, "npo1", PASSWORD, "192.0.2.94").status_code == 200
    assert left("192.0.2.93") == 0


def test_a_login_waiting_for_a_hashing_slot_holds_no_database_connection(api: Server) -> None:
    """Guesses queued behind the password hashes must not hold the pool's connections:
    16 of them held every one, and every other request waited behind the hashes
    (benchmarks/login_flood.py: a user's p95 went from 7 ms to 343 ms)."""
    engine = api.engine
    held = [throttle._slots.acquire(timeout=5) for _ in range(throttle.HASH_SLOTS)]
    assert all(held)
    answers: list[httpx.Response] = []
    waiting = threading.Thread(
        target=lambda: answers.append(
            httpx.post(
                f"{api.url}/api/auth/token",
                data={"username": "queued-guess", "password": "wrong-password-1"},
                timeout=30,
            )
        )
    )
    try:
        waiting.start()
        key = throttle.login_key("queued-guess")
        for _ in range(500):  # until its attempt is written: it then counts and waits
            with Session(engine) as session:  # type: ignore[arg-type]
                written = session.exec(
                    select(LoginAttempt).where(LoginAttempt.username_key == key)
                ).first()
            if written is not None:
                break
            time.sleep(0.01)
        assert written is not None
        time.sleep(0.3)  # past its counting, into the wait for a slot
        assert waiting.is_alive()  # still waiting: every slot is held here
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        for _ in held:
            throttle._slots.release()
    waiting.join(timeout=30)
    assert answers and answers[0].status_code == 401


def test_a_password_hashed_with_other_settings_is_hashed_again_at_login(api: Server) -> None:
    """One lane per hash (a hash on several threads took the core the hashing slots keep
    free); a password stored with argon2's default four lanes moves over at its next
    right login, and still works."""
    from argon2 import PasswordHasher

    from service.models import User

    with Session(api.engine) as session:  # type: ignore[arg-type]
        user = session.exec(select(User).where(User.username == "npo2")).one()
        user.password_hash = PasswordHasher().hash(PASSWORD)  # four lanes
        session.add(user)
        session.commit()
    for _ in range(2):
        r = httpx.post(f"{api.url}/api/auth/token", data={"username": "npo2", "password": PASSWORD})
        assert r.status_code == 200, r.text
        with Session(api.engine) as session:  # type: ignore[arg-type]
            stored = session.exec(select(User).where(User.username == "npo2")).one().password_hash
        assert stored.startswith("$argon2id$") and ",p=1$" in stored
