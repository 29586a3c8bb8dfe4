"""Request bodies are bounded before anything reads them.

A body larger than its route allows is refused with 413 and the JSON error shape: by its
``Content-Length`` before a byte is read, or, for a body sent without one (chunked), as
soon as the bytes received pass the cap, without reading further. Uploads (the import
routes) may carry a file up to ``matching.Limits().file_bytes`` plus the multipart
envelope; every other body (JSON, forms) is small.
"""

from __future__ import annotations

import json
from typing import Any

import matching

__all__ = ["BodyLimit", "body_cap"]

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


class _TooLarge(Exception):
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
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > cap):
            await _refuse(send, cap)
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _TooLarge
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app answers to a body cut short, the answer is 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            pass
        if exceeded and not started:
            await _refuse(send, cap)


async def _refuse(send: Any, cap: int) -> None:
    size = f"{cap / (1 << 20):.0f} MB" if cap >= 1 << 20 else f"{cap // 1024} KB"
    body = json.dumps(
        {
            "code": "PAYLOAD_TOO_LARGE",
            "message": f"送信されたデータが大きすぎます（上限 {size}）。",
            "errors": [],
        },
        ensure_ascii=False,
    ).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
