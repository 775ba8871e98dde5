"""What a realtime vendor would refuse in an assistant's ``realtime_settings``, asked of
its adapter module (an optional ``setting_problems(realtime_settings) -> list[str]``),
so that ``POST /validate`` says it before a call ends on it (decision 018)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from callwright.providers.vendors import CATALOG

__all__ = ["setting_problems"]


def setting_problems(vendor: str, realtime_settings: Mapping[str, Any]) -> list[str]:
    """The problems ``vendor``'s adapter finds in ``realtime_settings`` ([] for none,
    or a vendor that checks nothing ahead of a call)."""
    entry = CATALOG.get("realtime", vendor)
    if entry is None or entry.adapter is None:
        return []
    check = getattr(importlib.import_module(entry.adapter), "setting_problems", None)
    return list(check(realtime_settings)) if check is not None else []
