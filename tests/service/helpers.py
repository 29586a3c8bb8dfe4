"""Payloads built from the toy rows of tests/conftest.py."""

from __future__ import annotations

import httpx

from matching import parse_areas, parse_fields

from ..conftest import NEED_ROWS, ORG_ROWS


def need_payload(i: int, **over: object) -> dict[str, object]:
    key, dept, title, desc, goal, fields, area, forms, contact = NEED_ROWS[i]
    body = {
        "key": key,
        "department": dept,
        "title": title,
        "description": desc,
        "goal": goal,
        "fields": parse_fields(fields)[0],
        "areas": parse_areas(area),
        "forms": [forms] if forms else [],
        "contact_name": contact,
    }
    body.update(over)
    return body


def org_payload(i: int, **over: object) -> dict[str, object]:
    key, name, legal, fields, area, acts, offers, wishes, cname, email, phone = ORG_ROWS[i]
    body = {
        "key": key,
        "name": name,
        "legal_form": legal,
        "fields": parse_fields(fields)[0],
        "areas": parse_areas(area),
        "activities": acts,
        "offerings": offers,
        "wishes": wishes,
        "contact_name": cname,
        "contact_email": email,
        "contact_phone": phone,
    }
    body.update(over)
    return body


def ok(response: httpx.Response, status: int = 200) -> dict:  # type: ignore[type-arg]
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def seed(coord: httpx.Client) -> tuple[dict[str, int], dict[str, int]]:
    """All toy organisations and needs, created through the API by the coordinator."""
    orgs = {
        row[0]: ok(coord.post("/api/organizations", json=org_payload(i)), 201)["id"]
        for i, row in enumerate(ORG_ROWS)
    }
    needs = {
        row[0]: ok(coord.post("/api/needs", json=need_payload(i)), 201)["id"]
        for i, row in enumerate(NEED_ROWS)
    }
    return needs, orgs
