"""Recipients uploads, CSV or JSON, read into rows a campaign can call, and a report
of every row refused and why.

CSV: a header row; a ``number`` column (E.164; spaces, dashes, dots and brackets are
ignored), an optional ``timezone`` column (IANA), every other column a template
variable (``{{first_name}}``). JSON: a list of ``{"number", "timezone"?,
"variables"?}`` objects. A row's zone is its own, else its country code's
representative zone (``timezones``), else the campaign's ``default_timezone``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from callwright.domain.types import E164_PATTERN
from callwright.errors import CallwrightError, ValidationFailed

from .schemas import RejectedRow, check_timezone
from .timezones import zone_for_number

__all__ = [
    "MAX_ROWS_PER_UPLOAD",
    "ParsedRecipients",
    "RecipientRow",
    "UnsupportedRecipientsType",
    "parse_recipients",
]

MAX_ROWS_PER_UPLOAD = 10_000
_E164 = re.compile(E164_PATTERN)
_FORMATTING = re.compile(r"[\s\-().]")
_JSON_KEYS = frozenset({"number", "timezone", "variables"})


class UnsupportedRecipientsType(CallwrightError):
    """An upload that is neither CSV nor JSON."""

    status_code = 415
    code = "unsupported_media_type"


@dataclass(frozen=True, slots=True)
class RecipientRow:
    number: str
    timezone: str
    variables: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ParsedRecipients:
    accepted: list[RecipientRow]
    rejected: list[RejectedRow]


def _reject(row: int, number: object, reason: str) -> RejectedRow:
    return RejectedRow(row=row, number=number if isinstance(number, str) else None, reason=reason)


class _Reader:
    """Checks rows one by one: number, zone, duplicates (in this upload and already in
    the campaign)."""

    def __init__(self, default_timezone: str | None, existing: Collection[str]) -> None:
        self._default = default_timezone
        self._seen: dict[str, int] = {}
        self._existing = existing
        self.accepted: list[RecipientRow] = []
        self.rejected: list[RejectedRow] = []

    def add(
        self, row: int, raw_number: object, timezone: object, variables: dict[str, Any]
    ) -> None:
        if not isinstance(raw_number, str) or not raw_number.strip():
            self.rejected.append(_reject(row, raw_number, "no number"))
            return
        number = _FORMATTING.sub("", raw_number)
        if not _E164.match(number):
            self.rejected.append(
                _reject(row, raw_number, "not an E.164 number: '+', country code, then digits")
            )
            return
        if number in self._existing:
            self.rejected.append(_reject(row, raw_number, "already a recipient of this campaign"))
            return
        if (first := self._seen.get(number)) is not None:
            self.rejected.append(_reject(row, raw_number, f"the same number as row {first}"))
            return
        if timezone not in (None, ""):
            if not isinstance(timezone, str):
                self.rejected.append(_reject(row, raw_number, "timezone must be a string"))
                return
            try:
                zone_name = check_timezone(timezone.strip())
            except ValueError as exc:
                self.rejected.append(_reject(row, raw_number, str(exc)))
                return
        else:
            found = zone_for_number(number) or self._default
            if found is None:
                self.rejected.append(
                    _reject(
                        row,
                        raw_number,
                        "no time zone: add a timezone column or set the campaign's "
                        "default_timezone",
                    )
                )
                return
            zone_name = found
        self._seen[number] = row
        self.accepted.append(RecipientRow(number, zone_name, variables))


def _too_many(count: int) -> ValidationFailed:
    return ValidationFailed(
        f"{count} rows in one upload: at most {MAX_ROWS_PER_UPLOAD}, upload the rest separately"
    )


def _csv_rows(text: str, reader: _Reader) -> None:
    rows = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in rows.fieldnames or []]
    if "number" not in header:
        raise ValidationFailed("the CSV needs a header row with a 'number' column")
    if len(set(header)) != len(header):
        raise ValidationFailed("the CSV header names a column twice")
    rows.fieldnames = header
    for index, row in enumerate(rows, start=1):
        if index > MAX_ROWS_PER_UPLOAD:
            raise _too_many(index)
        if None in row:
            reader.rejected.append(_reject(index, row.get("number"), "more fields than the header"))
            continue
        variables = {key: value for key, value in row.items() if key not in ("number", "timezone")}
        reader.add(index, row.get("number"), row.get("timezone"), variables)


def _json_rows(items: Iterable[Any], reader: _Reader) -> None:
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            reader.rejected.append(_reject(index, None, "not an object"))
            continue
        unknown = sorted(set(item) - _JSON_KEYS)
        if unknown:
            reason = f"unknown field(s) {', '.join(unknown)}: put template values in variables"
            reader.rejected.append(_reject(index, item.get("number"), reason))
            continue
        variables = item.get("variables", {})
        if not isinstance(variables, dict):
            reader.rejected.append(
                _reject(index, item.get("number"), "variables must be an object")
            )
            continue
        reader.add(index, item.get("number"), item.get("timezone"), variables)


def parse_recipients(
    body: bytes,
    content_type: str,
    *,
    default_timezone: str | None,
    existing: Collection[str] = (),
) -> ParsedRecipients:
    """Read an upload (CPU work: run it off the event loop). A malformed file as a
    whole is a ``ValidationFailed``; a bad row is only reported."""
    reader = _Reader(default_timezone, existing)
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("the upload is not UTF-8 text") from exc
    if media in ("text/csv", "application/csv"):
        _csv_rows(text, reader)
    elif media == "application/json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"the upload is not JSON: {exc}") from exc
        if not isinstance(items, list):
            raise ValidationFailed("the JSON upload must be a list of recipient objects")
        if len(items) > MAX_ROWS_PER_UPLOAD:
            raise _too_many(len(items))
        _json_rows(items, reader)
    else:
        raise UnsupportedRecipientsType(
            f"recipients are uploaded as text/csv or application/json, not {media or 'nothing'}"
        )
    return ParsedRecipients(reader.accepted, reader.rejected)
