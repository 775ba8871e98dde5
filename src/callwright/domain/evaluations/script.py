"""A simulated caller's script, as ``callwright simulate`` and test suites read it::

    {"variables": {"name": "Ada"},
     "steps": [{"say": "What time do you open?"},
               {"say": "And on Sunday?", "interrupt_after_s": 0.6},
               {"dtmf": "12#"}, {"silence_s": 12}, {"hangup": true}]}

``say`` speaks and then waits for the assistant's reply to finish; with
``interrupt_after_s`` it waits for the reply to start and talks over it that many
seconds in. ``load_script`` reads one from a file (``callwright simulate --script``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from callwright.domain.validation import validate_as
from callwright.errors import ValidationFailed

__all__ = ["Script", "Step", "load_script"]


class Step(BaseModel):
    """One thing the caller does: exactly one of say, dtmf, silence_s, hangup."""

    model_config = ConfigDict(extra="forbid")

    say: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    interrupt_after_s: Annotated[float, Field(ge=0, le=60)] | None = None
    dtmf: Annotated[str, Field(pattern=r"^[0-9*#A-D]+$", max_length=64)] | None = None
    silence_s: Annotated[float, Field(gt=0, le=600)] | None = None
    hangup: bool | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        actions = [self.say, self.dtmf, self.silence_s, self.hangup]
        if sum(action is not None for action in actions) != 1:
            raise ValueError("a step is exactly one of say, dtmf, silence_s, hangup")
        if self.interrupt_after_s is not None and self.say is None:
            raise ValueError("interrupt_after_s goes with say")
        return self


class Script(BaseModel):
    """The caller's lines in order, and the variables the assistant's templates read."""

    model_config = ConfigDict(extra="forbid")

    variables: dict[str, Any] = Field(default_factory=dict)
    steps: Annotated[list[Step], Field(max_length=200)]


def load_script(path: Path) -> Script:
    """The script in ``path``: JSON when it ends in ``.json``, else YAML."""
    text = path.read_text()
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValidationFailed(f"{path}: not valid JSON/YAML: {exc}") from exc
    return validate_as(Script, data)
