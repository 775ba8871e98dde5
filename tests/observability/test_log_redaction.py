"""Credentials in a URL's query string never reach the logs: a browser call's stream
token, a signed recording link's signature, an ``api_key=``. Checked on the lines a
real ``callwright serve`` writes (uvicorn's access and WebSocket lines through the
logging it configures), in both log formats."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from callwright.observability.logging import REDACTED, redact_secrets
from tests.server import environment, live_server


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_stream_token_of_a_web_call_is_not_in_the_server_log(
    tmp_path: Path, log_format: str
) -> None:
    env = environment(
        f"sqlite+aiosqlite:///{tmp_path / 'callwright.db'}",
        tmp_path / "data",
        CALLWRIGHT_LOG_FORMAT=log_format,
    )
    log_path = tmp_path / "server.log"
    with live_server(env, log_path) as server:
        assert server.bootstrap_api_key, server.output
        api = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.bootstrap_api_key}"},
            timeout=30,
        )
        with api:
            assistant = api.post("/api/v1/assistants", json={"name": "Web"})
            assert assistant.status_code == 201, assistant.text
            started = api.post("/api/v1/calls/web", json={"assistant_id": assistant.json()["id"]})
            assert started.status_code == 201, started.text
            call_id, token, ws_url = (started.json()[k] for k in ("call_id", "token", "ws_url"))
            assert f"token={token}" in ws_url
            # Ended before it connects, so the stream is refused (no models are loaded)
            # and uvicorn still logs the request line with its query string.
            assert api.post(f"/api/v1/calls/{call_id}/end").status_code == 200
            with pytest.raises(InvalidStatus), connect(ws_url, open_timeout=30):
                pass
            signed = api.get(
                f"/api/v1/calls/{call_id}/recording.wav",
                params={"expires": "1", "signature": "recording-signature-0123456789"},
            )
            assert signed.status_code == 403
            health = api.get("/healthz", params={"api_key": "query-api-key-0123456789"})
            assert health.status_code == 200
    log = log_path.read_text()
    if log_format == "json":
        # Still one JSON object per line after redaction (the banner lines aside).
        entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        assert any("WebSocket /api/v1/calls/web/stream" in e["message"] for e in entries)
    stream_lines = [line for line in log.splitlines() if "/api/v1/calls/web/stream" in line]
    assert stream_lines, log
    assert all(f"token={REDACTED}" in line for line in stream_lines), stream_lines
    for secret in (token, "recording-signature-0123456789", "query-api-key-0123456789"):
        assert secret not in log
    assert f"signature={REDACTED}" in log
    assert f"api_key={REDACTED}" in log


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '1.2.3.4:5 - "WebSocket /api/v1/calls/web/stream?token=eyJ.a-b_c" [accepted]',
            '1.2.3.4:5 - "WebSocket /api/v1/calls/web/stream?token=[redacted]" [accepted]',
        ),
        (
            '"GET /r.wav?expires=9&signature=abc HTTP/1.1" 403',
            '"GET /r.wav?expires=9&signature=[redacted] HTTP/1.1" 403',
        ),
        (
            "/x?X-Api-Key=k&key=1&keyword=kept",
            "/x?X-Api-Key=[redacted]&key=[redacted]&keyword=kept",
        ),
        ("/x?stream_token=t&page=2", "/x?stream_token=[redacted]&page=2"),
        ("a token=value outside a query is kept", "a token=value outside a query is kept"),
    ],
)
def test_redact_secrets(line: str, expected: str) -> None:
    assert redact_secrets(line) == expected
