"""What a department sends to propose a group for its need."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from ..schemas import Strict


class ProposalIn(Strict):
    """A group the department proposes for its own need, with an optional note to the
    coordinator (why this group)."""

    organization_id: Annotated[int, Field(ge=1, le=2_147_483_647)]
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""
