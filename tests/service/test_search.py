"""Keyword search (#15): NFKC- and 表記ゆれ-aware, over the goal too, on pages and API,
the same on SQLite and PostgreSQL (this suite runs on both); and the migration that
adds the search text fills it for rows written before it."""

from __future__ import annotations

from sqlalchemy import text

from service.db import make_engine
from service.migrate import upgrade

from .conftest import Server
from .helpers import need_payload, ok, org_payload
from .test_pages import login


def _keys(page: dict) -> set[str]:  # type: ignore[type-arg]
    return {item["key"] for item in page["items"]}


def test_search_folds_width_and_spelling_and_reads_the_goal(api: Server) -> None:
    coord = api.client("coord")
    ok(
        coord.post(
            "/api/needs",
            json=need_payload(
                0,
                key="S1",
                title="パラスポーツ体験会の運営",
                description="障害のある人とない人が一緒に楽しめる場をつくる。",
                goal="子供たちに体験の機会を届けたい。",
            ),
        ),
        201,
    )
    ok(
        coord.post(
            "/api/needs",
            json=need_payload(
                1,
                key="S2",
                title="公園の清掃",
                description="落ち葉の回収。",
                goal="地域の見守りの目を増やしたい。",
            ),
        ),
        201,
    )
    ok(
        coord.post(
            "/api/organizations",
            json=org_payload(0, key="SO1", activities="こども食堂を月2回ひらいています。"),
        ),
        201,
    )

    def needs(q: str) -> set[str]:
        return _keys(ok(coord.get("/api/needs", params={"q": q})))

    assert needs("ﾊﾟﾗｽﾎﾟｰﾂ") == {"S1"}  # half-width kana (NFKC)
    assert needs("パラスポーツ") == {"S1"}
    assert needs("子ども") == {"S1"}  # 子ども and 子供: one lemma, in the goal
    assert needs("見守る") == {"S2"}  # 見守り in the text
    assert needs("Ｓ１") == {"S1"} and needs("s1") == {"S1"}  # the key, any width or case
    assert needs("存在しない語") == set()
    assert _keys(ok(coord.get("/api/organizations", params={"q": "子供"}))) == {"SO1"}
    # the pages search the same way
    pages = login(api, "coord")
    listing = pages.get("/needs", params={"q": "ﾊﾟﾗｽﾎﾟｰﾂ"}).text
    assert "パラスポーツ体験会の運営" in listing and "公園の清掃" not in listing
    # and an edit keeps the search text current
    need_id = ok(coord.get("/api/needs", params={"q": "公園"}))["items"][0]["id"]
    ok(coord.patch(f"/api/needs/{need_id}", json={"goal": "花壇の手入れ"}))
    assert needs("見守る") == set() and needs("花壇") == {"S2"}


def test_the_migration_fills_the_search_text_of_existing_rows(empty_database: str) -> None:
    upgrade(empty_database, "0004")
    engine = make_engine(empty_database)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO department (id, name) VALUES (1, '福祉課')"))
            conn.execute(
                text(
                    "INSERT INTO need (id, key, department_id, title, description, goal, fields,"
                    " areas, forms, contact_name, status, created_at, updated_at) VALUES"
                    " (1, 'N1', 1, 'ﾊﾟﾗｽﾎﾟｰﾂ', '説明', '子ども', '', '', '', '', 'published',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        upgrade(empty_database)
        with engine.connect() as conn:
            filled = conn.execute(text("SELECT search_text FROM need WHERE id = 1")).scalar_one()
        assert "パラスポーツ" in filled and " 子供 " in filled
    finally:
        engine.dispose()
