"""Every time the API answers is aware and in UTC, on SQLite as on PostgreSQL (issue 13).

SQLite keeps no time zone: before ``models.UTCDateTime`` its timestamps came back naive
and the API wrote them without an offset, while PostgreSQL's said ``Z``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlmodel import Session, select

from service.models import User

from .conftest import Server
from .helpers import ok, seed

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _times(value: object) -> Iterator[str]:
    """Every ISO 8601 date-time string anywhere in a JSON value."""
    if isinstance(value, str) and ISO.match(value):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _times(v)
    elif isinstance(value, list):
        for v in value:
            yield from _times(v)


def test_every_time_the_api_answers_is_utc_with_an_offset(api: Server) -> None:
    coord = api.client("coord")
    needs, orgs = seed(coord)
    need = needs["N1"]
    answers: list[object] = [
        ok(coord.get(f"/api/needs/{need}")),
        ok(coord.get("/api/needs")),
        ok(coord.get(f"/api/organizations/{orgs['P1']}")),
    ]
    suggestion = ok(coord.get(f"/api/needs/{need}/suggestions"))[0]
    answers.append(
        ok(
            coord.post(
                f"/api/suggestions/{suggestion['id']}/decision",
                json={"action": "confirm", "version": suggestion["version"]},
            )
        )
    )
    answers.append(ok(coord.get(f"/api/suggestions/{suggestion['id']}/history")))
    answers.append(ok(coord.post("/api/invitations", json={"role": "npo"}), 201))
    with Session(api.engine) as session:  # type: ignore[arg-type]
        npo1 = session.exec(select(User).where(User.username == "npo1")).one()
        npo1.organization_id = orgs["P1"]  # the group's staff (emptied by the next reset)
        session.add(npo1)
        session.commit()
    answers.append(ok(api.client("npo1").post(f"/api/needs/{need}/interest", json={}), 201))
    answers.append(ok(coord.get(f"/api/needs/{need}/interests")))
    times = [t for answer in answers for t in _times(answer)]
    assert len(times) >= 12, times
    for t in times:
        assert t.endswith("Z") or re.search(r"[+-]\d{2}:\d{2}$", t), t
        parsed = datetime.fromisoformat(t)
        assert parsed.utcoffset() == timedelta(0), t
