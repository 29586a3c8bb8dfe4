"""Request bodies are bounded before they are read, and uploads after authentication."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlparse

import matching
from service.limits import ENVELOPE, SMALL_BODY

from .conftest import TOKENS, Server
from .helpers import need_payload, ok


def _raw(server: Server, head: str, chunks: Iterator[bytes]) -> tuple[int, bytes, int]:
    """Send a request by hand: ``(status, response, bytes of the body sent before the
    server answered)``. The body is sent chunk by chunk until the server answers."""
    url = urlparse(server.url)
    sent = 0
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1"))
        sock.setblocking(False)
        response = b""
        for chunk in chunks:
            try:
                response += sock.recv(65536)
            except BlockingIOError:
                pass
            if response:
                break
            try:
                sock.sendall(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        sock.setblocking(True)
        sock.settimeout(30)
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            try:
                data = sock.recv(65536)
            except ConnectionResetError:  # the server closed after answering
                break
            if not data:
                break
            response += data
    status = int(response.split(b" ", 2)[1])
    return status, response, sent


def test_a_too_long_content_length_is_refused_before_the_body_is_read(api: Server) -> None:
    """(The probe sent 500 MiB to /api/import/needs: 477 MiB spooled to disk, then 401.)"""
    host = urlparse(api.url).netloc
    huge = 500 << 20
    head = (
        f"POST /api/import/needs HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {huge}\r\n\r\n"
    )
    status, response, sent = _raw(api, head, iter([b"x" * 65536] * 200))
    assert status == 413 and b'"code":"PAYLOAD_TOO_LARGE"' in response.replace(b" ", b"")
    assert "上限".encode() in response
    assert sent < 16 << 20  # answered long before the body would have been read


def test_a_chunked_body_is_cut_at_the_cap(api: Server) -> None:
    """Without a Content-Length the server counts what it receives and stops at the cap."""
    host = urlparse(api.url).netloc
    head = (
        f"POST /api/needs HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {TOKENS['coord']}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"a" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    status, response, sent = _raw(api, head, iter([chunk] * 400))
    assert status == 413, response[:200]
    assert sent < 8 * SMALL_BODY


def test_json_and_upload_caps_differ_by_route(api: Server) -> None:
    coord = api.client("coord")
    big_json = need_payload(0, description="あ" * (SMALL_BODY // 2))  # 1.5 MiB in UTF-8
    r = coord.post("/api/needs", json=big_json)
    assert r.status_code == 413 and r.json()["code"] == "PAYLOAD_TOO_LARGE"
    # a need at every field's limit still fits
    ok(coord.post("/api/needs", json=need_payload(1, description="あ" * 5000)), 201)
    limit = matching.Limits().file_bytes
    r = coord.post("/api/import/needs", files={"file": ("n.csv", b"a" * (limit + ENVELOPE + 1))})
    assert r.status_code == 413


def test_uploads_are_read_only_after_authentication(api: Server) -> None:
    anonymous = api.client()
    r = anonymous.post("/api/import/needs", files={"file": ("n.csv", "課題ID\n".encode())})
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
    npo = api.client("npo1")
    assert npo.post("/api/import/needs", files={"file": ("n.csv", b"x")}).status_code == 403
    r = api.client("coord").post("/api/import/needs", data={"other": "1"})
    assert r.status_code == 422 and r.json()["code"] == "NO_FILE"


def test_nul_characters_are_refused_everywhere_with_a_japanese_422(api: Server) -> None:
    """(On PostgreSQL they were 500s: the login form, ?q=, titles, comments, imports.)"""
    from sqlmodel import Session, func, select

    from service.models import Need

    from .helpers import csrf_of

    coord = api.client("coord")
    cases = [
        coord.post("/api/needs", json=need_payload(0, title="防災\x00訓練")),
        coord.post("/api/needs", json=need_payload(0, title="防災\\u0000訓練")),
        coord.get("/api/needs", params={"q": "防災\x00"}),
        coord.get("/api/needs/%00"),
    ]
    anonymous = api.client()
    token = csrf_of(anonymous.get("/login"))
    cases.append(
        anonymous.post(
            "/login", data={"username": "coord\x00", "password": "x", "csrf_token": token}
        )
    )
    for response in cases:
        assert response.status_code == 422, (response.request.url, response.text)
        body = response.json()
        assert body["code"] == "NUL_CHARACTER" and "NUL" in body["message"]
    with Session(api.engine) as session:  # type: ignore[arg-type]
        assert session.exec(select(func.count()).select_from(Need)).one() == 0
    # an imported file with a NUL in a cell: the row is refused, with its line
    csv = "課題ID,担当課,件名,課題の内容\nN1,防災課,避難\x00所,内容\nN2,防災課,訓練,内容\n"
    report = ok(coord.post("/api/import/needs", files={"file": ("n.csv", csv.encode())}))
    assert [(p["line"], p["code"]) for p in report["rejected"]] == [(2, "NUL_CHARACTER")]
    applied = coord.post(
        "/api/import/needs", params={"apply": True}, files={"file": ("n.csv", csv.encode())}
    )
    assert applied.status_code == 422  # all rows or none
    with Session(api.engine) as session:  # type: ignore[arg-type]
        assert session.exec(select(func.count()).select_from(Need)).one() == 0


def test_text_that_only_looks_like_an_escape_is_kept(api: Server) -> None:
    """``%00`` is a NUL only in a URL or a form: in JSON it is three characters."""
    coord = api.client("coord")
    created = ok(coord.post("/api/needs", json=need_payload(0, title="達成率100%00件")), 201)
    assert created["title"] == "達成率100%00件"


def _multipart(fields: dict[str, str], filename: bytes, data: bytes) -> dict[str, object]:
    """A multipart body written by hand (httpx would percent-encode a NUL in a file name):
    keyword arguments for ``httpx.Client.post``."""
    boundary = b"kyodo-test-boundary"
    body = b""
    for name, value in fields.items():
        body += b"--" + boundary + b'\r\nContent-Disposition: form-data; name="'
        body += name.encode() + b'"\r\n\r\n' + value.encode() + b"\r\n"
    body += b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="'
    body += filename + b'"\r\nContent-Type: text/csv\r\n\r\n' + data + b"\r\n"
    body += b"--" + boundary + b"--\r\n"
    content_type = "multipart/form-data; boundary=" + boundary.decode()
    return {"content": body, "headers": {"Content-Type": content_type}}


def test_nul_in_an_upload_s_name_headers_or_form_fields_is_refused(api: Server) -> None:
    """A NUL where the body scan does not look (a multipart upload's file name, a CSV's
    header row, a multipart form's text field) is a clear 4xx too, never a 500, and
    nothing is written, on both databases."""
    from sqlmodel import Session, func, select

    from service.models import Need

    from .test_pages import login

    coord = api.client("coord")
    good = "課題ID,担当課,件名,課題の内容\nN1,防災課,訓練,内容\n".encode()
    header_nul = "課題ID,担当課,件\x00名,課題の内容\nN1,防災課,訓練,内容\n".encode()
    cases = [
        coord.post("/api/import/needs", **_multipart({}, b"n\x00.csv", good)),  # type: ignore[arg-type]
        coord.post(
            "/api/import/needs",
            params={"apply": True},
            **_multipart({}, b"n\x00.csv", good),  # type: ignore[arg-type]
        ),
        coord.post(
            "/api/import/needs", params={"apply": True}, files={"file": ("n.csv", header_nul)}
        ),
    ]
    pages = login(api, "coord")
    from .helpers import csrf_of

    token = csrf_of(pages.get("/files"))
    cases += [
        pages.post(
            "/files/import",
            **_multipart({"kind": "needs", "csrf_token": token}, b"n\x00.csv", good),  # type: ignore[arg-type]
        ),
        pages.post(
            "/files/import",
            **_multipart({"kind": "needs\x00", "csrf_token": token}, b"n.csv", good),  # type: ignore[arg-type]
        ),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, (response.request.url, response.text[:300])
        # a NUL in the file name: said so; in the kind or a header cell: no such kind, column
        assert any(m in response.text for m in ("NUL、文字コード 0", "選んで", "必須の列")), (
            response.text[:300]
        )
    # a header cell with a NUL is an unknown column: the preview says so, like any other
    preview = ok(coord.post("/api/import/needs", files={"file": ("n.csv", header_nul)}))
    assert preview["rejected"] and not preview["applied"]
    with Session(api.engine) as session:  # type: ignore[arg-type]
        assert session.exec(select(func.count()).select_from(Need)).one() == 0
