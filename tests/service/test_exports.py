"""Exports: Excel-friendly CSV and XLSX, formula neutralisation, and the round trip."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from corpus import part_paths

from .conftest import Server
from .helpers import ok, org_payload, seed


def test_export_round_trips_through_import(api: Server) -> None:
    coord = api.client("coord")
    needs_path, npos_path, _ = part_paths("c")
    for kind, path in (("organizations", npos_path), ("needs", needs_path)):
        ok(
            coord.post(
                f"/api/import/{kind}",
                params={"apply": True},
                files={"file": (path.name, path.read_bytes())},
            )
        )
    for kind, count in (("needs", 71), ("organizations", 133)):
        for fmt in ("csv", "xlsx"):
            exported = coord.get(f"/api/export/{kind}", params={"format": fmt})
            assert exported.status_code == 200
            assert f"{kind}.{fmt}" in exported.headers["content-disposition"]
            if fmt == "csv":
                assert exported.content.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 with a BOM
            back = ok(
                coord.post(f"/api/import/{kind}", files={"file": (f"back.{fmt}", exported.content)})
            )
            assert (len(back["unchanged"]), back["created"], back["updated"], back["rejected"]) == (
                count,
                [],
                [],
                [],
            ), (kind, fmt)


def test_formula_cells_are_neutralised_and_read_back(api: Server) -> None:
    coord = api.client("coord")
    ok(
        coord.post(
            "/api/organizations",
            json=org_payload(0, name='=HYPERLINK("http://x")', offerings="+1 助け合い"),
        ),
        201,
    )
    csv_text = coord.get("/api/export/organizations").content.decode("utf-8-sig")
    assert "'=HYPERLINK" in csv_text and "'+1 助け合い" in csv_text
    xlsx = coord.get("/api/export/organizations", params={"format": "xlsx"}).content
    sheet = load_workbook(io.BytesIO(xlsx), read_only=True).worksheets[0]
    values = [c for row in sheet.iter_rows(values_only=True) for c in row]
    assert '\'=HYPERLINK("http://x")' in values
    back = ok(coord.post("/api/import/organizations", files={"file": ("o.xlsx", xlsx)}))
    assert back["unchanged"] == ["P1"]


def test_a_control_character_does_not_smuggle_a_formula_into_the_xlsx(api: Server) -> None:
    """Neutralisation runs after control characters are removed, and every text cell is
    written as a string: no export cell is ever a formula."""
    coord = api.client("coord")
    ok(
        coord.post(
            "/api/organizations",
            json=org_payload(0, name='\x0b=HYPERLINK("http://x","開く")', offerings="\x07@SUM(1)"),
        ),
        201,
    )
    for kind in ("organizations", "suggestions"):
        xlsx = coord.get(f"/api/export/{kind}", params={"format": "xlsx"}).content
        sheet = load_workbook(io.BytesIO(xlsx)).worksheets[0]
        cells = [c for row in sheet.iter_rows() for c in row]
        assert cells and all(c.data_type != "f" for c in cells), kind
        texts = [c.value for c in cells if isinstance(c.value, str)]
        assert not any(t.startswith(("=", "@", "\x0b")) for t in texts), kind
    values = [
        c.value
        for row in load_workbook(
            io.BytesIO(coord.get("/api/export/organizations", params={"format": "xlsx"}).content)
        )
        .worksheets[0]
        .iter_rows()
        for c in row
    ]
    assert '\'=HYPERLINK("http://x","開く")' in values and "'@SUM(1)" in values
    csv_text = coord.get("/api/export/organizations").content.decode("utf-8-sig")
    assert "'=HYPERLINK" in csv_text and "\x0b" not in csv_text


def test_contacts_and_roles(api: Server) -> None:
    coord = api.client("coord")
    needs, _ = seed(coord)
    exported = coord.get("/api/export/organizations")
    assert exported.headers["cache-control"] == "no-store"  # contacts: never cached
    with_contacts = exported.content.decode("utf-8-sig")
    assert "メールアドレス" in with_contacts and "hanako@example.jp" in with_contacts
    dept = api.client("bousai")
    own = dept.get("/api/export/needs").content.decode("utf-8-sig")
    assert "子どもの防災教育" in own and "独居高齢者" not in own
    assert dept.get("/api/export/organizations").status_code == 403
    assert api.client("npo1").get("/api/export/needs").status_code == 403
    s = ok(coord.get(f"/api/needs/{needs['N1']}/suggestions"))[0]
    ok(
        coord.post(
            f"/api/suggestions/{s['id']}/decision",
            json={"action": "confirm", "comment": "=危険", "version": s["version"]},
        )
    )
    decisions = coord.get("/api/export/decisions").content.decode("utf-8-sig")
    assert "承認" in decisions and "'=危険" in decisions and "confirm" not in decisions
    pairings = coord.get("/api/export/pairings").content.decode("utf-8-sig").splitlines()
    assert pairings[0].startswith("課題ID,件名,担当課,団体ID,団体名,段階") and len(pairings) == 2
    suggestions = coord.get("/api/export/suggestions", params={"format": "xlsx"})
    assert suggestions.status_code == 200 and suggestions.content.startswith(b"PK")


def test_control_characters_do_not_break_the_xlsx_export(api: Server) -> None:
    """(Found by schemathesis: a pasted vertical tab or bell made openpyxl refuse the cell.)"""
    coord = api.client("coord")
    ok(coord.post("/api/organizations", json=org_payload(0, offerings="見守り\x0b訪問\x07")), 201)
    xlsx = coord.get("/api/export/organizations", params={"format": "xlsx"})
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).worksheets[0]
    values = [c for row in sheet.iter_rows(values_only=True) for c in row]
    assert "見守り訪問" in values  # the control characters dropped, the text kept
    csv_text = coord.get("/api/export/organizations").content.decode("utf-8-sig")
    # the CSV drops them too: a spreadsheet may skip a leading control character and run
    # what follows as a formula
    assert "見守り訪問" in csv_text and "\x0b" not in csv_text


def test_the_decisions_export_reads_back_into_rank_decisions(api: Server, tmp_path) -> None:
    """Every action the export names (承認, 見送り, the stages) is read by
    ``python -m matching rank --decisions``: a stage reached is the confirmation, a
    pairing ended after it is left out."""
    import json
    import subprocess
    import sys

    coord = api.client("coord")
    needs, _ = seed(coord)
    first, second = ok(coord.get(f"/api/needs/{needs['N1']}/suggestions"))[:2]
    third = ok(coord.get(f"/api/needs/{needs['N2']}/suggestions"))[0]
    decide = [
        (first, {"action": "confirm"}),
        (second, {"action": "reject", "reason_code": "営利・事業者"}),
        (third, {"action": "confirm"}),
    ]
    for s, body in decide:
        ok(
            coord.post(
                f"/api/suggestions/{s['id']}/decision", json={**body, "version": s["version"]}
            )
        )
    for s, stage in ((first, "meeting_arranged"), (third, "dropped")):
        current = ok(coord.get(f"/api/suggestions/{s['id']}"))
        ok(
            coord.post(
                f"/api/suggestions/{s['id']}/stage",
                json={"stage": stage, "version": current["version"], "comment": "予算の都合"},
            )
        )
    # a stage taken back and set again: the export holds 「段階の取り消し」 too
    current = ok(coord.get(f"/api/suggestions/{first['id']}"))
    current = ok(
        coord.post(
            f"/api/suggestions/{first['id']}/stage/undo",
            json={"reason": "日付の誤り", "version": current["version"]},
        )
    )
    ok(
        coord.post(
            f"/api/suggestions/{first['id']}/stage",
            json={"stage": "meeting_arranged", "version": current["version"]},
        )
    )
    files = {}
    for kind in ("needs", "organizations", "decisions"):
        path = tmp_path / f"{kind}.csv"
        path.write_bytes(coord.get(f"/api/export/{kind}").content)
        files[kind] = path
    text = files["decisions"].read_text(encoding="utf-8-sig")
    # times in Japan time, with the zone stated (a manager's spreadsheet reads the office's clock)
    stamps = [row["日時"] for row in csv.DictReader(io.StringIO(text))]
    assert stamps and all(s.endswith("+09:00") for s in stamps), stamps
    labels = (
        "承認",
        "見送り",
        "営利・事業者",
        "事前打ち合わせ設定",
        "見送り（承認後）",
        "段階の取り消し",
    )
    for label in labels:
        assert label in text, label
    result = subprocess.run(
        [
            sys.executable,
            *("-m", "matching", "rank", "--top", "10"),
            *("--needs", str(files["needs"]), "--npos", str(files["organizations"])),
            *("--decisions", str(files["decisions"])),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = next(json.loads(x) for x in result.stdout.splitlines() if '"N1"' in x)
    ranked = [r["npo_id"] for r in line["ranking"]]
    keys = {s["id"]: ok(coord.get(f"/api/suggestions/{s['id']}")) for s in (first, second, third)}
    org_key = {
        s: ok(coord.get(f"/api/organizations/{keys[s]['organization_id']}"))["key"] for s in keys
    }
    # N1's confirmed pair (now at 事前打ち合わせ設定) comes first, the rejected one last
    assert ranked[0] == org_key[first["id"]] and ranked[-1] == org_key[second["id"]]
    # N2's pairing ended after its confirmation: the ending is no rejection of the match,
    # so the group stays first, pinned by its confirmation
    line2 = next(json.loads(x) for x in result.stdout.splitlines() if '"N2"' in x)
    assert line2["ranking"][0]["npo_id"] == org_key[third["id"]]
    assert line2["ranking"][0]["score"] >= 1 > line2["ranking"][1]["score"]
