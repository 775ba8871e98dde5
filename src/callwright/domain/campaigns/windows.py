"""Calling windows: the days and hours a recipient may be called, in its own zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["DAYS", "CallingWindow", "zone"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The zone named ``name`` (read once per process; names are checked on upload)."""
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class CallingWindow:
    """Calls start on ``days`` between ``start`` (inclusive) and ``end`` (exclusive),
    local time. A call started inside the window may run past its end."""

    days: frozenset[int]  # 0 = Monday, as datetime.weekday()
    start: time
    end: time

    @classmethod
    def from_stored(cls, stored: dict[str, object]) -> CallingWindow:
        days = stored["days"]
        assert isinstance(days, list)
        return cls(
            days=frozenset(DAYS.index(str(day)) for day in days),
            start=time.fromisoformat(str(stored["start"])),
            end=time.fromisoformat(str(stored["end"])),
        )

    def next_opening(self, now: datetime, timezone: str) -> datetime | None:
        """``now`` when it is inside the window in ``timezone``, else the window's next
        opening (UTC); None when the window has no day at all."""
        tz = zone(timezone)
        local_today = now.astimezone(tz).date()
        for offset in range(8):
            day = local_today + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            opens = datetime.combine(day, self.start, tz).astimezone(UTC)
            closes = datetime.combine(day, self.end, tz).astimezone(UTC)
            if now < closes:
                return max(opens, now)
        return None
