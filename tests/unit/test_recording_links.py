"""A recording link's signature: the right one opens it until it expires; anything
else, however malformed (any text a URL can carry), is refused, never an error."""

from __future__ import annotations

from callwright.domain.calls.tokens import recording_signature, verify_recording_signature

KEY = "k" * 32


def test_only_the_signature_of_the_call_and_expiry_opens_the_link() -> None:
    signature = recording_signature(KEY, 12, 2_000)
    assert verify_recording_signature(KEY, 12, 2_000, signature, now=1_000)
    assert not verify_recording_signature(KEY, 12, 2_000, signature, now=3_000)  # expired
    assert not verify_recording_signature(KEY, 13, 2_000, signature, now=1_000)
    for forged in ("", ":\U0004f027´ó\U00023f49cY\x99zÐ\r\x867 \x1f¦", "\udc80", signature[:-1]):
        assert not verify_recording_signature(KEY, 12, 2_000, forged, now=1_000)
