"""Small validated string types shared by the domain schemas."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, AnyHttpUrl, StringConstraints, TypeAdapter

from callwright.security.outbound import OUTBOUND_URL

__all__ = [
    "E164_PATTERN",
    "EXTERNAL_ID_PATTERN",
    "E164Number",
    "ExternalId",
    "HttpUrlString",
    "NonEmptyStr",
    "OutboundUrlString",
    "is_external_id",
]

E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"
# An external id may not be all digits (those are database ids); checked in code, as
# pydantic's regex engine has no look-ahead.
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
_HTTP_URL_PATTERN = r"^https?://[^\s/?#]+[^\s]*$"

_url_adapter: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)


def _check_http_url(value: str) -> str:
    # Validated as a URL, but stored as given: AnyHttpUrl would add a trailing slash.
    _url_adapter.validate_python(value)
    return value


HttpUrlString = Annotated[
    str,
    StringConstraints(max_length=2048, pattern=_HTTP_URL_PATTERN),
    AfterValidator(_check_http_url),
]
# A URL the server calls on a user's behalf: checked by the outbound-URL policy when the
# resource is saved (domain.validation.check_outbound_urls) and on every connection.
OutboundUrlString = Annotated[HttpUrlString, OUTBOUND_URL]
E164Number = Annotated[str, StringConstraints(pattern=E164_PATTERN)]


def _not_all_digits(value: str) -> str:
    if value.isdigit():
        raise ValueError("an external id cannot be all digits (those are database ids)")
    return value


ExternalId = Annotated[
    str, StringConstraints(pattern=EXTERNAL_ID_PATTERN), AfterValidator(_not_all_digits)
]
NonEmptyStr = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]

_external_id_re = re.compile(EXTERNAL_ID_PATTERN)


def is_external_id(value: str) -> bool:
    return _external_id_re.match(value) is not None and not value.isdigit()
