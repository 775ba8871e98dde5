"""``tools_settings.end_call`` / ``transfer_call``, field by field, on a call on
virtual time driven from the assistant's fields: what the model is offered, what the
caller hears and what happens to the line."""

from __future__ import annotations

import json
from typing import Any

from callwright.engine.events import EndReason
from callwright.providers.protocols import ToolCall
from tests.engine.harness import Call, make_call, run_call
from tests.engine.test_conversation import hang_up_after

NUMBER = "+14155550100"


async def _transfer(transfer_call: dict[str, Any], **fields: Any) -> Call:
    """A call whose model transfers the caller as soon as they speak."""
    call = make_call(
        tools_settings={
            "transfer_call": {"enabled": True, "transfer_numbers": [NUMBER], **transfer_call}
        },
        utterances=("A human please.",),
        replies=[[ToolCall("call_1", "transfer_call", json.dumps({"destination": NUMBER}))]],
        **fields,
    )
    return await run_call(call, hang_up_after(("say", 0.6), ("silence", 60)))


async def _end(end_call: dict[str, Any], **fields: Any) -> Call:
    """A call whose model ends it as soon as the caller speaks."""
    call = make_call(
        tools_settings={"end_call": {"enabled": True, **end_call}},
        utterances=("Bye.",),
        replies=[[ToolCall("call_1", "end_call", "{}")]],
        **fields,
    )
    return await run_call(call, hang_up_after(("say", 0.5), ("silence", 60)))


def _offered(call: Call, name: str) -> str:
    """The description of the tool ``name`` the model was offered on the first turn."""
    (tool,) = [tool for tool in call.llm.requests[0].tools if tool.name == name]
    return tool.description


async def test_tools_settings_transfer_call_scenarios() -> None:
    """The scenarios are the model's instructions for when to transfer."""
    call = await _transfer({"scenarios": ["The caller asks for billing.", "They are angry."]})
    description = _offered(call, "transfer_call")
    assert "The caller asks for billing.; They are angry." in description
    assert "the caller asks for a person" not in description  # the default's words
    without = await _transfer({})
    assert "The caller asks for billing." not in _offered(without, "transfer_call")


async def test_tools_settings_transfer_call_custom_message() -> None:
    """Said before the transfer, in place of transfer_call_message."""
    call = await _transfer(
        {"custom_message": "Putting you through to billing."},
        transfer_call_message="Connecting you now.",
    )
    assert call.transcript[-1] == ("assistant", "Putting you through to billing.", False)
    assert call.transport.transferred_to == NUMBER
    assert call.end.reason is EndReason.ASSISTANT_FORWARDED_CALL
    plain = await _transfer({}, transfer_call_message="Connecting you now.")
    assert plain.transcript[-1] == ("assistant", "Connecting you now.", False)


async def test_tools_settings_transfer_call_transfer_numbers() -> None:
    """The model may pick only a listed number, and the line goes there."""
    call = await _transfer({})
    (tool,) = [tool for tool in call.llm.requests[0].tools if tool.name == "transfer_call"]
    assert tool.parameters["properties"]["destination"]["enum"] == [NUMBER]
    assert call.transport.transferred_to == NUMBER


async def test_tools_settings_transfer_call_enabled() -> None:
    """Off (the default), the model is not offered the tool; on, with numbers, it is."""
    call = make_call(
        tools_settings={"transfer_call": {"transfer_numbers": [NUMBER]}},
        utterances=("Hello.",),
        replies=["Hi."],
    )
    await run_call(call, hang_up_after(("say", 0.5), ("silence", 4)))
    assert [tool.name for tool in call.llm.requests[0].tools] == []
    assert _offered(await _transfer({}), "transfer_call")


async def test_tools_settings_end_call_custom_message() -> None:
    """Said before hanging up, in place of end_call_message."""
    call = await _end({"custom_message": "Thanks, goodbye!"}, end_call_message="Bye now.")
    assert call.transcript[-1] == ("assistant", "Thanks, goodbye!", False)
    assert call.end.reason is EndReason.ASSISTANT_ENDED_CALL
    plain = await _end({}, end_call_message="Bye now.")
    assert plain.transcript[-1] == ("assistant", "Bye now.", False)


async def test_tools_settings_end_call_scenarios() -> None:
    call = await _end({"scenarios": ["The caller has no more questions."]})
    assert "The caller has no more questions." in _offered(call, "end_call")
    assert "The caller has no more questions." not in _offered(await _end({}), "end_call")


async def test_tools_settings_end_call_enabled() -> None:
    """Off (the default), the model is not offered the tool; on, it is, and ends the
    call when it uses it."""
    call = make_call(utterances=("Hello.",), replies=["Hi."])
    await run_call(call, hang_up_after(("say", 0.5), ("silence", 4)))
    assert [tool.name for tool in call.llm.requests[0].tools] == []
    ended = await _end({})
    assert _offered(ended, "end_call")
    assert ended.end.reason is EndReason.ASSISTANT_ENDED_CALL
