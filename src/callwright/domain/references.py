"""References by id inside a request body: an assistant's ``tool_ids``, a phone
number's or a call's ``assistant_id``, a call's ``phone_number_id``, the
``tool_ids`` of a call's ``assistant_overrides``.

A referenced resource must be readable by the principal that references it, and the
principal's own repository query decides (its organization, not deleted, and its own
user's rows for a user-scoped key). A reference it cannot read is refused exactly like
a reference to nothing: a 422 naming the field, with the same message, so that the
answer never tells whether another user's or organization's id exists.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from callwright.domain.tools.repository import ToolRepository
from callwright.domain.validation import field_path, summary
from callwright.errors import ValidationFailed

__all__ = ["check_tool_ids", "not_found_detail", "unknown_reference"]


def not_found_detail(location: Sequence[str | int], message: str) -> dict[str, Any]:
    """One ``details`` entry for a reference the principal cannot read."""
    loc = ["body", *location]
    return {"field": field_path(loc), "message": message, "type": "not_found", "loc": loc}


def unknown_reference(location: Sequence[str | int], message: str) -> ValidationFailed:
    """The 422 for one reference the principal cannot read (or that does not exist)."""
    details = [not_found_detail(location, message)]
    return ValidationFailed(summary(details), details=details)


async def check_tool_ids(
    tools: ToolRepository,
    tool_ids: Sequence[int],
    *,
    location: Sequence[str | int] = ("tool_ids",),
    already: Collection[int] = (),
) -> None:
    """Every id in ``tool_ids`` must be a tool ``tools``' principal can read; the 422
    names each other one as ``<location>[i]``. Ids in ``already`` (those the resource
    held before this write) are not checked again: deleting a tool must not block
    later edits of the assistants that reference it, and an id an organization-scoped
    key put there stays when a user-scoped key edits something else. Each call checks
    what it may use when it starts (``tools_for_call``)."""
    new = [tool_id for tool_id in tool_ids if tool_id not in already]
    readable = await tools.readable_ids(new)
    details = [
        not_found_detail([*location, index], f"no tool {tool_id} found")
        for index, tool_id in enumerate(tool_ids)
        if tool_id in new and tool_id not in readable
    ]
    if details:
        raise ValidationFailed(summary(details), details=details)
