"""The yearly report against a small data set counted by hand."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlmodel import Session, select

from service.models import BY_HAND, Decision, Department, Need, Organization, Suggestion, User

from .conftest import PASSWORD, Server
from .helpers import ok, page_login

JST = ZoneInfo("Asia/Tokyo")


def t(text: str) -> datetime:
    """A JST wall time, stored as UTC like everything the service writes (SQLite keeps no zone)."""
    return datetime.fromisoformat(text).replace(tzinfo=JST).astimezone(UTC)


def _world(api: Server) -> None:
    with Session(api.engine) as s:  # type: ignore[arg-type]
        coord = s.exec(select(User).where(User.username == "coord")).one()
        bousai = s.exec(select(Department).where(Department.name == "防災危機管理室")).one()
        kourei = s.exec(select(Department).where(Department.name == "高齢福祉課")).one()

        def need(key: str, dept: Department, fields: str, at: str) -> Need:
            row = Need(
                key=key,
                department_id=dept.id,
                title=key,
                description="…",
                fields=fields,
                created_at=t(at),
                updated_at=t(at),
            )
            s.add(row)
            s.flush()
            return row

        n1 = need("n1", bousai, "|8|13|", "2025-05-01T09:00")
        n2 = need("n2", kourei, "|1|", "2025-03-31T23:00")  # still fiscal 2024
        n3 = need("n3", kourei, "|1|", "2026-03-31T23:59")  # last minute of fiscal 2025
        need("n4", bousai, "|8|", "2026-04-01T00:00")  # fiscal 2026
        o1 = Organization(key="o1", name="o1", activities="…")
        o2 = Organization(key="o2", name="o2", activities="…")
        o3 = Organization(key="o3", name="o3", activities="…")
        s.add_all([o1, o2, o3])
        s.flush()

        def suggestion(
            n: Need, o: Organization, at: str, made_by: str = "x", rank: int | None = 1
        ) -> Suggestion:
            row = Suggestion(
                need_id=n.id,
                organization_id=o.id,
                rank=rank,
                score=0.5,
                index_version="x",
                model_version=made_by,
                created_at=t(at),
                updated_at=t(at),
            )
            s.add(row)
            s.flush()
            return row

        s1 = suggestion(n1, o1, "2025-06-01T10:00")
        s2 = suggestion(n1, o2, "2025-06-01T10:00")
        s3 = suggestion(n2, o1, "2025-02-01T10:00")
        s4 = suggestion(n3, o2, "2026-01-10T10:00")
        # the coordinator paired n3 with o1 by hand: not a suggestion made, but a pairing
        s5 = suggestion(n3, o1, "2025-09-01T10:00", made_by=BY_HAND, rank=None)
        # fell out of n1's top list at a refit before anyone decided on it: not counted
        suggestion(n1, o3, "2025-06-01T10:00", rank=None)
        for sug, action, reason, at in [
            (s1, "confirm", None, "2025-06-02T10:00"),
            (s1, "meeting_arranged", None, "2025-07-01T10:00"),
            (s1, "project_started", None, "2026-02-01T10:00"),
            (s2, "reject", "地域外", "2025-06-02T10:00"),
            (s3, "confirm", None, "2025-02-02T10:00"),
            (s4, "reject", "体制不足", "2026-01-11T10:00"),
            (s4, "confirm", None, "2026-01-12T10:00"),  # revised: counts once, as confirmed
            (s5, "confirm", None, "2025-09-01T10:00"),
            (s5, "meeting_arranged", None, "2025-10-01T10:00"),
        ]:
            s.add(
                Decision(
                    suggestion_id=sug.id,
                    action=action,
                    reason_code=reason,
                    user_id=coord.id,
                    created_at=t(at),
                )
            )
        s.commit()


def test_report_figures_by_hand(api: Server) -> None:
    _world(api)
    coord = api.client("coord")
    fy = ok(coord.get("/api/reports/2025"))
    assert fy["totals"] == {
        "needs_posted": 2,
        "suggestions_made": 3,
        "reviewed": 3,
        "confirmed": 2,
        "by_hand": 1,
        "meetings": 2,
        "projects": 1,
    }
    assert fy["confirmation_rate"] == round(2 / 3, 4)
    assert fy["rejection_reasons"] == {"地域外": 1}
    assert fy["by_department"]["防災危機管理室"] == {
        "needs_posted": 1,
        "suggestions_made": 2,
        "reviewed": 2,
        "confirmed": 1,
        "by_hand": 0,
        "meetings": 1,
        "projects": 1,
    }
    assert fy["by_department"]["高齢福祉課"] == {
        "needs_posted": 1,
        "suggestions_made": 1,
        "reviewed": 1,
        "confirmed": 1,
        "by_hand": 1,
        "meetings": 1,
        "projects": 0,
    }
    assert fy["by_field"]["保健・医療・福祉"]["needs_posted"] == 1
    assert fy["by_field"]["子どもの健全育成"]["projects"] == 1
    # fiscal 2024: n2, s3 confirmed → the change is counted against it
    assert fy["change"] == {
        "needs_posted": 1,
        "suggestions_made": 2,
        "reviewed": 2,
        "confirmed": 1,
        "by_hand": 1,
        "meetings": 2,
        "projects": 1,
    }
    assert ok(coord.get("/api/reports/2026"))["totals"]["needs_posted"] == 1
    # fiscal 2023 recorded nothing: 2024 has no change to show, not a change from zero
    assert set(ok(coord.get("/api/reports/2024"))["change"].values()) == {None}
    pages = page_login(api.url, "coord", PASSWORD)
    api.clients.append(pages)
    dashboard = pages.get("/dashboard", params={"fy": 2024}).text
    assert "前年度比 —" in dashboard and "前年度比 +" not in dashboard
    assert "前年度比 +" in pages.get("/dashboard", params={"fy": 2025}).text
    xlsx = coord.get("/api/reports/2025/xlsx")
    book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert book.sheetnames == ["概要", "担当課別", "分野別", "見送り理由"]
    summary = list(book["概要"].iter_rows(values_only=True))
    assert summary[1] == ("登録された課題", 2, 1) and summary[-1] == (
        "承認率",
        round(2 / 3, 4),
        None,
    )
    assert api.client("bousai").get("/api/reports/2025").status_code == 403
    assert coord.get("/api/reports/99999").status_code == 422


def test_fields_come_in_the_laws_order_and_every_department_is_charted(api: Server) -> None:
    """(活動分野 were in the order of their names; the department chart kept 15 and dropped
    the rest without saying so.)"""
    from matching import FIELD_NAMES
    from service.web.admin import CHART_BARS, _by_department

    _world(api)
    fy = ok(api.client("coord").get("/api/reports/2025"))
    numbers = {name: n for n, name in FIELD_NAMES.items()}
    order = [numbers[name] for name in fy["by_field"]]
    assert order == sorted(order) and len(order) >= 2
    table = {f"課{i:02d}": {"needs_posted": 100 - i} for i in range(CHART_BARS + 5)}
    bars = _by_department(table, "needs_posted")
    assert len(bars) == CHART_BARS
    assert bars[-1] == (
        "その他（6 課）",
        sum(100 - i for i in range(CHART_BARS - 1, CHART_BARS + 5)),
    )
    assert sum(n for _, n in bars) == sum(v["needs_posted"] for v in table.values())
    small = {name: table[name] for name in list(table)[:3]}
    assert _by_department(small, "needs_posted") == [
        (k, v["needs_posted"]) for k, v in small.items()
    ]
