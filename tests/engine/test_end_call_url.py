"""end_call_url: when the call ends, for whatever reason, the URL receives a signed POST."""

from __future__ import annotations

import json

import httpx

from callwright.engine.config import CallConfig
from callwright.engine.events import EndReason
from callwright.engine.lifecycle import EndCallHook
from callwright.runtime.hooks import end_call_url_hook
from callwright.security.signing import verify_signature
from tests.engine.harness import make_call, run_call
from tests.engine.test_conversation import hang_up_after


async def test_end_call_url_receives_the_end_of_every_call() -> None:
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    def hook(config: CallConfig) -> EndCallHook | None:
        return end_call_url_hook(
            config.end_call_url,
            {"id": "call-7"},
            signing_secret="org-secret",
            transport=httpx.MockTransport(receiver),
        )

    call = make_call(
        end_call_trigger_phrase="bye",
        end_call_url="https://hooks.example.com/end",
        utterances=("Ok bye.",),
        end_hook=hook,
    )
    await run_call(call, hang_up_after(("say", 0.5), ("silence", 30)))

    (request,) = received
    assert str(request.url) == "https://hooks.example.com/end"
    body = json.loads(request.content)
    assert body["type"] == "call-ended"
    assert body["call"] == {"id": "call-7"}
    assert body["endedReason"] == EndReason.CUSTOMER_SAID_END_CALL_PHRASE.value
    assert verify_signature(
        "org-secret",
        request.headers["x-callwright-timestamp"],
        request.content,
        request.headers["x-callwright-signature"],
    )


async def test_a_failing_end_call_url_does_not_hold_the_call() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    hook = end_call_url_hook("https://down.example.com", {}, transport=httpx.MockTransport(down))
    assert hook is not None
    await hook(EndReason.CUSTOMER_ENDED_CALL)  # logs, does not raise


def test_no_url_no_hook() -> None:
    assert end_call_url_hook(None, {}) is None
