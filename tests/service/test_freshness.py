"""A new or edited profile is rankable at once, in this process and in another one."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from ..serving import TLS, free_port
from .conftest import TOKENS, Server
from .helpers import ok, org_payload, seed


def test_new_profile_is_suggested_without_refit(api: Server) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    before = ok(coord.get("/api/index"))
    new = ok(
        coord.post(
            "/api/organizations", json=org_payload(4, key="P9", name="竹林の守り人", areas=["西区"])
        ),
        201,
    )
    ranked = ok(coord.get(f"/api/needs/{needs['N3']}/suggestions"))
    assert new["id"] in [s["organization_id"] for s in ranked[:2]]
    after = ok(coord.get("/api/index"))
    assert after["vocabulary"] == before["vocabulary"]  # no refit happened
    assert after["version"] != before["version"]
    new_row = next(s for s in ranked if s["organization_id"] == new["id"])
    assert new_row["index_version"] == after["version"]


def test_edit_and_withdrawal_change_the_ranking(api: Server) -> None:
    coord = api.client("coord")
    needs, orgs = seed(coord)
    ok(
        coord.patch(
            f"/api/organizations/{orgs['P5']}",
            json={"activities": "高齢者の見守り訪問をしています。", "offerings": ""},
        )
    )
    ranked = [
        s["organization_id"]
        for s in ok(coord.get(f"/api/needs/{needs['N3']}/suggestions"))
        if s["rank"]
    ]
    assert orgs["P5"] not in ranked[:1]
    ok(coord.delete(f"/api/organizations/{orgs['P1']}"))
    ranked = [
        s["organization_id"]
        for s in ok(coord.get(f"/api/needs/{needs['N1']}/suggestions"))
        if s["rank"]
    ]
    assert orgs["P1"] not in ranked


def _index_dir(api: Server) -> dict[str, str]:
    """The test server's folder of saved fits, shared by the processes a test starts."""
    return {"KYODO_INDEX_DIR": str(api.settings.saved_index_dir)}


def _wait_until_up(client: httpx.Client, proc: subprocess.Popen[bytes], seconds: float) -> None:
    """Until the server process answers its health check (failing if it exits first)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if client.get("/api/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


def test_two_server_processes_rank_from_the_same_data(api: Server) -> None:
    """A second server process (``python -m service serve``) on the same database sees the
    first one's new profile at its next request."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": api.settings.database_url, **_index_dir(api)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with httpx.Client(
            verify=TLS,
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKENS['coord']}"},
            timeout=30,
        ) as other:
            _wait_until_up(other, proc, 60)
            coord = api.client("coord")
            needs, _ = seed(coord)
            ok(other.get(f"/api/needs/{needs['N1']}/suggestions"))  # its own index is fitted
            new = ok(
                coord.post(
                    "/api/organizations", json=org_payload(0, key="P8", name="新しい見守りの会")
                ),
                201,
            )
            ranked = ok(other.get(f"/api/needs/{needs['N1']}/suggestions"))
            assert new["id"] in [s["organization_id"] for s in ranked]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # waits and closes the stderr pipe


def test_a_change_committed_late_with_an_earlier_audit_id_is_not_missed(api: Server) -> None:
    """On PostgreSQL a transaction can take audit id N and commit after N+1 is visible;
    the index re-checks recent ids so such a change still arrives."""
    from sqlmodel import Session, select

    from service.index import MatchingIndex, item_key
    from service.models import AuditLog, Organization

    seed(api.client("coord"))
    index = MatchingIndex(api.engine)  # type: ignore[arg-type]
    with Session(api.engine) as session:  # type: ignore[arg-type]
        index.sync(session)  # fitted
        api.client("coord").post("/api/organizations", json=org_payload(1, key="P7"))
        api.client("coord").post("/api/organizations", json=org_payload(3, key="P8"))
        last = session.exec(select(AuditLog).order_by(AuditLog.id.desc())).first()  # type: ignore[union-attr]
        assert last is not None and last.id is not None
        # id last-1 "has not committed yet": the index sees only the later one
        hidden = session.exec(select(AuditLog).where(AuditLog.id == last.id - 1)).one()
        session.delete(hidden)
        session.commit()
        index.sync(session)
        assert index.seen_audit_id == last.id
        # now the late transaction commits, with its earlier id, for a new group
        late = Organization(
            key="LATE", name="遅れて届いた会", activities="放置竹林の竹を伐採しています。"
        )
        session.add(late)
        session.flush()
        session.add(
            AuditLog(id=last.id - 1, action="create", entity="organization", entity_id=late.id)
        )
        session.commit()
        assert late.id is not None
        index.sync(session)
        assert item_key(late.id) in index.ranker.org_index_  # type: ignore[union-attr]


def test_several_worker_processes_serve_the_same_data(api: Server) -> None:
    """``serve --workers 2`` (PostgreSQL): each worker keeps its own index in step through
    the audit log, so whichever worker answers sees a profile registered a moment ago. On
    SQLite several processes are refused with a clear message."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": api.settings.database_url,
        "KYODO_WARM_UP": "false",
        **_index_dir(api),
    }
    command = [sys.executable, "-m", "service", "serve", "--port", str(port), "--workers", "2"]
    if api.settings.database_url.startswith("sqlite"):
        refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and "PostgreSQL" in refused.stderr
        return
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with httpx.Client(
            verify=TLS,
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKENS['coord']}"},
            timeout=60,
        ) as workers:
            _wait_until_up(workers, proc, 90)
            coord = api.client("coord")
            needs, _ = seed(coord)
            new = ok(
                coord.post(
                    "/api/organizations", json=org_payload(0, key="P8", name="新しい見守りの会")
                ),
                201,
            )
            for _ in range(6):  # new connections: either worker may answer
                with httpx.Client(
                    verify=TLS,
                    base_url=f"http://127.0.0.1:{port}",
                    headers={"Authorization": f"Bearer {TOKENS['coord']}"},
                    timeout=60,
                ) as one:
                    ranked = ok(one.get(f"/api/needs/{needs['N1']}/suggestions"))
                    assert new["id"] in [s["organization_id"] for s in ranked]
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
