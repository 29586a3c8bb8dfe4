"""The OpenAPI schema says what the server answers: its errors in the one error shape,
the files it sends, and PATCH bodies that refuse null where the server does."""

from __future__ import annotations

from typing import Any

from .conftest import Server
from .helpers import ok, seed


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]  # type: ignore[no-any-return]


def test_every_operation_documents_its_errors_in_the_error_shape(api: Server) -> None:
    spec = ok(api.client().get("/openapi.json"))
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "message", "errors"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    operations = [
        (path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()
    ]
    assert len(operations) >= 40
    for path, method, op in operations:
        responses = op["responses"]
        expected = {"400", "403", "422", "503"}
        expected |= {"401"} if op.get("security") else set()
        expected |= {"404"} if "{" in path else set()
        expected |= {"409"} if method != "get" else set()
        assert expected <= set(responses), (method, path, sorted(responses))
        for code in expected:
            content = responses[code]["content"]["application/json"]["schema"]
            assert content == {"$ref": "#/components/schemas/Error"}, (method, path, code)


def test_files_are_documented_as_files(api: Server) -> None:
    spec = ok(api.client().get("/openapi.json"))
    paths = spec["paths"]
    content = {
        path: set(paths[path]["get"]["responses"]["200"]["content"])
        for path in (
            "/api/export/{kind}",
            "/api/reports/{fiscal_year}/xlsx",
            "/api/meetings/{meeting_id}/ics",
        )
    }
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert content == {
        "/api/export/{kind}": {"text/csv", xlsx},
        "/api/reports/{fiscal_year}/xlsx": {xlsx},
        "/api/meetings/{meeting_id}/ics": {"text/calendar"},
    }
    # and the server sends what the schema names
    coord = api.client("coord")
    for fmt, media in (("csv", "text/csv"), ("xlsx", xlsx)):
        sent = coord.get("/api/export/needs", params={"format": fmt})
        assert sent.status_code == 200 and sent.headers["content-type"].startswith(media)


def test_patch_bodies_allow_null_only_where_the_server_does(api: Server) -> None:
    """(The schema said every PATCH field could be null; the server refused each.)"""
    spec = ok(api.client().get("/openapi.json"))
    nullable: dict[str, set[str]] = {}
    for path, ops in spec["paths"].items():
        if "patch" not in ops:
            continue
        body = ops["patch"]["requestBody"]["content"]["application/json"]["schema"]
        props = _resolve(spec, body)["properties"]
        nullable[path] = {
            name for name, prop in props.items() if {"type": "null"} in prop.get("anyOf", [])
        }
        for name, prop in props.items():  # no "default": null where null is refused
            assert name in nullable[path] or prop.get("default", "") is not None, (path, name)
    assert nullable == {
        "/api/needs/{need_id}": {"deadline"},
        "/api/organizations/{org_id}": set(),
        "/api/meetings/{meeting_id}": {"outcome"},
    }
    coord = api.client("coord")
    needs, orgs = seed(coord)
    refused = coord.patch(f"/api/needs/{needs['N1']}", json={"goal": None})
    assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "NULL_NOT_ALLOWED"
    assert ok(coord.patch(f"/api/needs/{needs['N1']}", json={"deadline": None}))["deadline"] is None
    refused = coord.patch(f"/api/organizations/{orgs['P1']}", json={"name": None})
    assert refused.status_code == 422
