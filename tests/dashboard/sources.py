"""The dashboard's source folder as the tests see it: where it is, where its build goes,
and the digest of its sources (the same as ``dashboard/build.mjs`` computes)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
SOURCES = ROOT / "dashboard"
BUILD = ROOT / "src" / "callwright" / "web" / "dashboard"


def sources_digest(folder: Path = SOURCES) -> str:
    """sha256 over ``relative/path\\0sha256(content)\\n`` lines sorted by path; node_modules
    and dot-files are not sources."""
    paths = sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file()
        and not any(
            part == "node_modules" or part.startswith(".")
            for part in path.relative_to(folder).parts
        )
    )
    digest = hashlib.sha256()
    for path in paths:
        content = hashlib.sha256((folder / path).read_bytes()).hexdigest()
        digest.update(f"{path}\0{content}\n".encode())
    return digest.hexdigest()


def built_manifest() -> dict[str, Any] | None:
    manifest = BUILD / "manifest.json"
    if not manifest.is_file():
        return None
    loaded: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
    return loaded


def catalogued_fields() -> list[str]:
    """The dotted paths the editor's field catalog (``dashboard/src/fields.js``) lists."""
    text = (SOURCES / "src" / "fields.js").read_text(encoding="utf-8")
    return re.findall(r'field\("([a-z0-9_.]+)"', text)
