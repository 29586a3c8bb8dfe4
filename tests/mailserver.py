"""A real SMTP server for tests: aiosmtpd on a loopback port, recording what it receives."""

from __future__ import annotations

import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from service.config import Settings

from .serving import free_port


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content)
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed, raw))
        return "250 OK"


class SmtpServer:
    """An aiosmtpd server on a fixed loopback port that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.recorder = Recorder()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def settings(self, base: Settings) -> Settings:
        return base.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_starttls": False}
        )

    def wait_for(self, to: str, subject: str, *, seconds: float = 30) -> EmailMessage:
        """The first message received for ``to`` with ``subject``, waiting for the sender
        (a worker that runs every few seconds) up to ``seconds``; AssertionError if none."""
        deadline = time.monotonic() + seconds
        while True:
            for rcpt, msg, _ in list(self.recorder.messages):
                if to in rcpt and msg["Subject"] == subject:
                    return msg
            if time.monotonic() > deadline:
                got = [(r, m["Subject"]) for r, m, _ in self.recorder.messages]
                raise AssertionError(f"no mail {subject!r} to {to} (received: {got})")
            time.sleep(0.1)
