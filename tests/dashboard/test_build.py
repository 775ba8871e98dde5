"""The dashboard's build is the build of its committed sources, and the editor's field
catalog names every setting of the Assistant resource."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel

from callwright.domain.assistants.schemas import AssistantIn
from tests.dashboard.sources import SOURCES, built_manifest, catalogued_fields, sources_digest
from tests.support.optional import unavailable


def test_the_served_build_is_built_from_the_current_sources() -> None:
    manifest = built_manifest()
    if manifest is None:
        unavailable("the dashboard is not built (./dev builds it)")
    assert manifest["sources_sha256"] == sources_digest(), (
        "the dashboard build is stale: its sources changed since it was built "
        "(./dev rebuilds it; or `node build.mjs` in dashboard/)"
    )


def test_the_digest_changes_with_any_source_and_ignores_node_modules(tmp_path: Any) -> None:
    folder = tmp_path / "dashboard"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "main.jsx").write_text("one")
    (folder / "package-lock.json").write_text("{}")
    before = sources_digest(folder)

    (folder / "node_modules" / "preact").mkdir(parents=True)
    (folder / "node_modules" / "preact" / "index.js").write_text("vendor")
    assert sources_digest(folder) == before

    (folder / "src" / "main.jsx").write_text("two")
    assert sources_digest(folder) != before


def test_the_lockfile_pins_every_package_of_the_manifest() -> None:
    package = json.loads((SOURCES / "package.json").read_text())
    lock = json.loads((SOURCES / "package-lock.json").read_text())
    declared = {**package["dependencies"], **package["devDependencies"]}
    for name, version in declared.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name


def _setting_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, info in model.model_fields.items():
        nested = _model_in(info.annotation)
        # A settings object absent by default (analysis_plan) is edited whole, as JSON:
        # listing its fields would make every saved assistant have one.
        if nested is not None and info.default is not None:
            paths.extend(_setting_paths(nested, f"{prefix}{name}."))
        else:
            paths.append(f"{prefix}{name}")
    return paths


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The settings object behind ``X`` or ``X | None``; lists of objects are one field."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [_model_in(arg) for arg in typing.get_args(annotation) if arg is not type(None)]
        return models[0] if len(models) == 1 else None
    return None


def test_the_editor_catalogues_every_setting_once() -> None:
    catalogued = catalogued_fields()
    settings = _setting_paths(AssistantIn)

    assert "llm_settings.temperature" in settings  # the walk reaches nested settings
    assert sorted(set(catalogued)) == sorted(catalogued), "a field is listed twice"
    assert sorted(set(settings) - set(catalogued)) == [], "settings the editor does not show"
    assert sorted(set(catalogued) - set(settings)) == [], "fields the API does not have"
