"""Media-stream tokens: genuine, unexpired, bound to one call."""

from __future__ import annotations

import time

import pytest

from callwright.domain.calls.tokens import issue_stream_token, read_stream_token

KEY = "k" * 48


def test_round_trip() -> None:
    token, nonce = issue_stream_token(KEY, 42, ttl_s=60)
    claim = read_stream_token(KEY, token)
    assert (claim.call_id, claim.nonce) == (42, nonce)
    assert claim.expires_at > time.time()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("cwst.42.", "cwst.43.", 1),  # another call
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # forged signature
        lambda t: "",
        lambda t: "cwst.1.2",
        lambda t: t + ".extra",
    ],
)
def test_tampering_is_refused(mangle: object) -> None:
    token, _ = issue_stream_token(KEY, 42, ttl_s=60)
    with pytest.raises(ValueError, match="stream token"):
        read_stream_token(KEY, mangle(token))  # type: ignore[operator]


def test_another_servers_key_is_refused() -> None:
    token, _ = issue_stream_token(KEY, 42, ttl_s=60)
    with pytest.raises(ValueError, match="signature"):
        read_stream_token("x" * 48, token)


def test_expired() -> None:
    token, _ = issue_stream_token(KEY, 42, ttl_s=5)
    with pytest.raises(ValueError, match="expired"):
        read_stream_token(KEY, token, now=time.time() + 6)
