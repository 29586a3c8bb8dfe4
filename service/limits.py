"""Request bodies are bounded before anything reads them, and NUL characters refused.

A body larger than its route allows is refused with 413 and the JSON error shape: by its
``Content-Length`` before a byte is read, or, for a body sent without one (chunked), as
soon as the bytes received pass the cap, without reading further. Uploads (the import
routes) may carry a file up to ``matching.Limits().file_bytes`` plus the multipart
envelope; every other body (JSON, forms) is small.

A NUL character (U+0000) is no text a person types, and PostgreSQL cannot store it: a
path, a query or a form body that carries one (raw or ``%00``), or a JSON body (raw or
``\\u0000``), is refused with 422 before the application sees it. Uploaded files are
checked cell by cell by the reader (``NUL_CHARACTER`` for the row).
"""

from __future__ import annotations

import json
from typing import Any

import matching

__all__ = ["BodyLimit", "body_cap", "carries_nul"]

# JSON and form bodies: a need or a profile is a few kilobytes (a cell is at most 20,000
# characters); 1 MiB leaves room for every field at its limit
SMALL_BODY = 1 << 20
# the multipart envelope around an uploaded file: boundaries and the form's other fields
ENVELOPE = 64 << 10
UPLOAD_PATHS = ("/api/import/", "/files/import")

Scope = dict[str, Any]
Message = dict[str, Any]


def body_cap(path: str, file_bytes: int) -> int:
    """The largest body ``path`` accepts."""
    if path.startswith(UPLOAD_PATHS):
        return file_bytes + ENVELOPE
    return SMALL_BODY


# how a NUL character is written in a URL or a form (raw or %00) and in JSON (raw or
# \u0000); a multipart upload is a file, checked by the reader
_URL_NUL = (b"\x00", b"%00")
_SCANNED = {
    b"application/json": (b"\x00", b"\\u0000"),
    b"application/x-www-form-urlencoded": _URL_NUL,
}
# the tail kept between chunks, so an escape split across two is found
_TAIL = 5


def carries_nul(data: bytes, forms: tuple[bytes, ...] = _URL_NUL) -> bool:
    """Whether ``data`` holds a NUL character, raw or escaped as ``forms`` write it."""
    return any(form in data for form in forms)


class _TooLarge(Exception):
    pass


class _Nul(Exception):
    pass


class BodyLimit:
    """ASGI middleware that enforces ``body_cap`` on every HTTP request."""

    def __init__(self, app: Any, *, file_bytes: int | None = None) -> None:
        self.app = app
        self.file_bytes = file_bytes if file_bytes is not None else matching.Limits().file_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = body_cap(scope["path"], self.file_bytes)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > cap):
            await _refuse(send, cap)
            return
        if carries_nul(scope.get("raw_path") or b"") or carries_nul(scope.get("query_string", b"")):
            await _refuse_nul(send)
            return
        scan = _SCANNED.get(headers.get(b"content-type", b"").split(b";")[0].strip().lower())
        received = 0
        refused: type[Exception] | None = None
        started = False
        tail = b""

        async def limited_receive() -> Message:
            nonlocal received, refused, tail
            if refused is not None:
                raise refused
            message: Message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                received += len(body)
                if received > cap:
                    refused = _TooLarge
                elif scan and carries_nul(tail + body, scan):
                    refused = _Nul
                tail = (tail + body)[-_TAIL:]
                if refused is not None:
                    raise refused
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused is not None:
                return  # whatever the app answers to a body cut short, the answer is ours
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except (_TooLarge, _Nul):
            pass
        if refused is not None and not started:
            if refused is _TooLarge:
                await _refuse(send, cap)
            else:
                await _refuse_nul(send)


async def _refuse(send: Any, cap: int) -> None:
    size = f"{cap / (1 << 20):.0f} MB" if cap >= 1 << 20 else f"{cap // 1024} KB"
    await _answer(
        send, 413, "PAYLOAD_TOO_LARGE", f"送信されたデータが大きすぎます（上限 {size}）。"
    )


async def _refuse_nul(send: Any) -> None:
    await _answer(send, 422, "NUL_CHARACTER", "使えない文字（NUL、文字コード 0）が含まれています。")


async def _answer(send: Any, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message, "errors": []}, ensure_ascii=False).encode(
        "utf-8"
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
