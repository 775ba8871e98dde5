"""``{{variable}}`` placeholders in welcome messages and prompts, Liquid-compatible.

Supported: ``{{name}}``, ``{{ name }}``, dotted paths into nested mappings
(``{{customer.name}}``) and one filter, ``{{ name | default: "there" }}`` with a quoted
string or a number. As in Liquid, ``default`` applies when the value is missing,
``None``, ``False`` or empty. Values render with ``str()``; ``None`` renders as nothing.

Nothing is ever evaluated: a path is looked up key by key in ``Mapping`` objects only
(no attributes, indexes or calls). A placeholder that is missing, or that uses any
other syntax (other filters, expressions), renders as an empty string, so a caller
never hears template syntax; ``missing="keep"`` leaves it verbatim instead, which helps
when a template is rendered in two passes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

__all__ = ["render_template", "template_variables"]

# No braces inside and a bounded body, so a stray "{{" cannot make matching quadratic.
_PLACEHOLDER = re.compile(r"\{\{([^{}]{0,256})\}\}")
_EXPRESSION = re.compile(
    r"""\s*(?P<path>[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)
    (?:\s*\|\s*default\s*:\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<num>-?\d+(?:\.\d+)?)))?
    \s*""",
    re.VERBOSE,
)
_MISSING = object()


def template_variables(template: str) -> set[str]:
    """The variable paths (``"customer.name"``) used by the template's placeholders."""
    names: set[str] = set()
    for placeholder in _PLACEHOLDER.finditer(template):
        expression = _EXPRESSION.fullmatch(placeholder.group(1))
        if expression is not None:
            names.add(expression.group("path"))
    return names


def render_template(
    template: str,
    variables: Mapping[str, object],
    *,
    missing: Literal["empty", "keep"] = "empty",
) -> str:
    """Replace each ``{{ ... }}`` placeholder with its value from ``variables``."""

    def replace(placeholder: re.Match[str]) -> str:
        expression = _EXPRESSION.fullmatch(placeholder.group(1))
        if expression is None:
            return placeholder.group(0) if missing == "keep" else ""
        value = _lookup(variables, expression.group("path"))
        default = next((d for d in expression.group("dq", "sq", "num") if d is not None), None)
        if default is not None and _is_blank(value):
            return default
        if value is _MISSING:
            return placeholder.group(0) if missing == "keep" else ""
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(replace, template)


def _lookup(variables: Mapping[str, object], path: str) -> object:
    if path in variables:  # a flat key that contains dots, e.g. {"customer.name": ...}
        return variables[path]
    value: object = variables
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _is_blank(value: object) -> bool:
    if value is _MISSING or value is None or value is False:
        return True
    return isinstance(value, str | Mapping | list | tuple) and len(value) == 0
