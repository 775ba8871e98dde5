"""The Assistant resource in the shapes of the other seeds ("dialects").

Each dialect renders the canonical masked resource (``StoredAssistant.public()``) in a
vendor's shape and parses that shape back into a canonical create body, losslessly for
the fields both share:

- ``vapi``: seed 001, a camelCase object (lists are bare arrays);
- ``envelope``: seed 002, snake_case inside ``{"success": true, "data": ...}``;
- ``details``: seed 004, ``assistant_*`` fields inside ``{success, message, data}``.

The mapping of every field is documented in the dialect's module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from . import details, envelope, vapi

__all__ = ["DIALECTS", "Dialect"]


@dataclass(frozen=True, slots=True)
class Dialect:
    """One vendor shape of the Assistant resource.

    ``one_model`` and ``list_model`` document the rendered shapes in OpenAPI;
    ``render`` / ``render_list`` take canonical masked public dicts; ``to_canonical``
    turns the dialect's shape into a valid canonical create body holding only the fields
    the payload carried, or raises ``ValidationFailed`` naming the dialect's fields.
    """

    name: str
    one_model: type[BaseModel]
    list_model: type[BaseModel]
    render: Callable[[dict[str, Any]], dict[str, Any]]
    render_list: Callable[[list[dict[str, Any]]], Any]
    to_canonical: Callable[[dict[str, Any]], dict[str, Any]]


DIALECTS: dict[str, Dialect] = {
    "vapi": Dialect(
        name="vapi",
        one_model=vapi.VapiAssistant,
        list_model=vapi.VapiAssistantList,
        render=vapi.render,
        render_list=vapi.render_list,
        to_canonical=vapi.to_canonical,
    ),
    "envelope": Dialect(
        name="envelope",
        one_model=envelope.EnvelopeAssistant,
        list_model=envelope.EnvelopeAssistantList,
        render=envelope.render,
        render_list=envelope.render_list,
        to_canonical=envelope.to_canonical,
    ),
    "details": Dialect(
        name="details",
        one_model=details.DetailsAssistant,
        list_model=details.DetailsAssistantList,
        render=details.render,
        render_list=details.render_list,
        to_canonical=details.to_canonical,
    ),
}
