"""One server process of the fault tests: ``python -m tests.faults.node PORT``.

It is what ``callwright serve`` runs — the same app, settings read from the
environment, its own node id, uvicorn on a real port — with one difference: its calls
run on the scripted providers of ``tests.calls.harness`` (a process of its own cannot
be handed an in-process factory any other way), so that a call's turns are known in
advance and no vendor or model is needed. ``CALLWRIGHT_FAULTS_SCRIPT`` holds the
script: ``{"utterances": [...], "replies": [...]}``.
"""

from __future__ import annotations

import json
import os
import sys

import uvicorn

from callwright.api.app import create_app
from callwright.observability.logging import configure_logging
from callwright.settings import Settings
from tests.calls.harness import FakeProviders


def main() -> None:
    port = int(sys.argv[1])
    script = json.loads(os.environ.get("CALLWRIGHT_FAULTS_SCRIPT", "{}"))
    providers = FakeProviders(
        utterances=tuple(script.get("utterances", ())), replies=list(script.get("replies", ()))
    )
    settings = Settings()
    configure_logging(json=False, level="INFO")
    app = create_app(settings, provider_factory=providers.factory())
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None)


if __name__ == "__main__":
    main()
