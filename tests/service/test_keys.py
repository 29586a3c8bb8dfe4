"""Keys the service makes for itself (``service.keys``): made once, shared, secret."""

from __future__ import annotations

import threading

from sqlmodel import Session

from service.keys import app_key, keyed_hash

from .conftest import Server


def test_a_key_is_made_once_and_every_session_reads_the_same(api: Server) -> None:
    engine = api.engine
    keys: list[bytes] = []

    def read() -> None:
        with Session(engine) as session:  # type: ignore[arg-type]
            keys.append(app_key(session, "test-key"))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 32
    with Session(engine) as session:  # type: ignore[arg-type]
        assert app_key(session, "test-key") == keys[0]
        assert app_key(session, "another-key") != keys[0]
        same = keyed_hash(session, "test-key", "192.0.2.1")
        assert same == keyed_hash(session, "test-key", "192.0.2.1")
        assert same != keyed_hash(session, "another-key", "192.0.2.1")
        assert same != keyed_hash(session, "test-key", "192.0.2.2")
