"""X-Twilio-Signature against Twilio's published vectors."""

from __future__ import annotations

from callwright.transports.twilio.signature import twilio_signature, verify_twilio_signature

URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_matches_twilios_documented_example() -> None:
    assert twilio_signature("12345", URL, PARAMS.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert verify_twilio_signature("12345", URL, PARAMS.items(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_repeated_parameters_sort_by_value() -> None:
    repeated = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]
    assert twilio_signature("12345", URL, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_any_change_fails() -> None:
    good = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert not verify_twilio_signature("54321", URL, PARAMS.items(), good)
    assert not verify_twilio_signature("12345", URL + "&x=1", PARAMS.items(), good)
    assert not verify_twilio_signature("12345", URL, {**PARAMS, "Digits": "9"}.items(), good)
    assert not verify_twilio_signature("12345", URL, PARAMS.items(), None)
    assert not verify_twilio_signature("12345", URL, PARAMS.items(), "")


def test_default_port_either_way() -> None:
    signed_with_port = twilio_signature(
        "tok", "https://example.com:443/telephony/twilio/voice", PARAMS.items()
    )
    assert verify_twilio_signature(
        "tok", "https://example.com/telephony/twilio/voice", PARAMS.items(), signed_with_port
    )
    signed_without = twilio_signature("tok", "https://example.com/v", PARAMS.items())
    assert verify_twilio_signature(
        "tok", "https://example.com:443/v", PARAMS.items(), signed_without
    )
    assert not verify_twilio_signature(
        "tok", "https://example.com:8443/v", PARAMS.items(), signed_without
    )
