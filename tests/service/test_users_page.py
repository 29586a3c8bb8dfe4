"""The users page: inviting asks for a role, and a coordinator only when asked twice."""

from __future__ import annotations

import re

from .conftest import Server
from .helpers import post_form
from .test_pages import login


def test_the_invite_form_has_no_default_role_and_a_coordinator_needs_confirming(
    api: Server,
) -> None:
    """(The first role, コーディネーター, was checked by default: one click too few made a
    new user able to see and change everything.)"""
    coord = login(api, "coord")
    page = coord.get("/users").text
    assert re.search(r'name="role" value="[a-z]+" required checked', page) is None
    r = post_form(coord, "/users", "/users/invite", {"display_name": "誰か"})
    assert r.status_code == 422 and "役割を選んでください" in r.text
    r = post_form(coord, "/users", "/users/invite", {"role": "coordinator"})
    assert r.status_code == 422 and "確認のチェックを入れて" in r.text
    assert 'id="invitation-link"' not in r.text
    r = post_form(
        coord, "/users", "/users/invite", {"role": "coordinator", "confirm_coordinator": "1"}
    )
    assert r.status_code == 200 and 'id="invitation-link"' in r.text
