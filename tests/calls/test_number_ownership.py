"""A phone number is proven, not claimed (issue 13, finding 4): Twilio credentials are
proven with Twilio when stored, a number is registered only when Twilio lists it among
the account's IncomingPhoneNumbers for the credentials that will serve it, and a number
another organization registered answers exactly like one Twilio does not confirm."""

from __future__ import annotations

import json
from typing import Any

import httpx

from callwright.domain.secrets import encrypt_secrets
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.models import ProviderCredential
from tests.calls.harness import (
    ACCOUNT_SID,
    API_TIMEOUT,
    AUTH_TOKEN,
    FakeProviders,
    PhoneLab,
    phone_lab,
    twilio_post,
)
from tests.conftest import Tenant, make_tenant

NUMBER = "+14155550199"  # the account's
UNOWNED = "+14155550123"  # nobody's
MADE_UP_TOKEN = "made-up-token-0123456789"


def _voice_params(number: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": "CA" + "12" * 16,
        "From": "+14155550100",
        "To": number,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


async def _store_credential_row(
    lab: PhoneLab, tenant: Tenant, account_sid: str, token: str
) -> None:
    """A credential row the API would refuse today (stored before the fix, say)."""
    state = lab.app.state.callwright
    config = encrypt_secrets({"account_sid": account_sid, "auth_token": token}, state.secret_box)
    async with state.session_factory() as session:
        session.add(
            ProviderCredential(
                organization_id=tenant.organization_id,
                provider="twilio",
                config=config,
                created_at=utcnow(),
            )
        )
        await session.commit()


async def _register(lab: PhoneLab, tenant: Tenant, **body: Any) -> httpx.Response:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        return await api.post("/api/v1/phone-numbers", json=body)


def _number_lookups(lab: PhoneLab, number: str) -> int:
    return sum(
        1
        for method, path, params in lab.twilio.requests
        if method == "GET"
        and path.endswith("/IncomingPhoneNumbers.json")
        and params.get("PhoneNumber") == [number]
    )


async def test_a_number_cannot_be_squatted_with_a_claimed_account(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        lab.twilio.own(NUMBER)
        owner = await make_tenant(lab.app, "Acme")
        squatter = await make_tenant(lab.app, "Globex")

        # The squatter names the owner's account with a token of its choosing: refused.
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=squatter.headers
        ) as api:
            claimed = await api.post(
                "/api/v1/credentials",
                json={
                    "provider": "twilio",
                    "account_sid": ACCOUNT_SID,
                    "auth_token": MADE_UP_TOKEN,
                },
            )
            assert claimed.status_code == 422, claimed.text
            assert claimed.json()["details"][0]["field"] == "auth_token"
            assert "Twilio refused these credentials" in claimed.json()["error"]
            assert (await api.get("/api/v1/credentials")).json() == []

        # Even with such a row stored, the number is not the squatter's: the same 422 as
        # a number nobody owns.
        await _store_credential_row(lab, squatter, ACCOUNT_SID, MADE_UP_TOKEN)
        squatted = await _register(lab, squatter, number=NUMBER)
        assert squatted.status_code == 422, squatted.text
        assert squatted.json()["details"][0]["field"] == "number"
        unowned = await _register(lab, squatter, number=UNOWNED)
        assert unowned.status_code == 422
        assert squatted.json() == _with_number(unowned.json(), UNOWNED, NUMBER)

        # The owner registers its number as usual, with its real credentials.
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=owner.headers
        ) as api:
            stored = await api.post(
                "/api/v1/credentials",
                json={"provider": "twilio", "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
            )
            assert stored.status_code == 201, stored.text
        registered = await _register(lab, owner, number=NUMBER, configure_webhook=True)
        assert registered.status_code == 201, registered.text

        # Now that it is registered, the squatter's answer is still exactly the same.
        again = await _register(lab, squatter, number=NUMBER)
        assert (again.status_code, again.json()) == (422, squatted.json())

        # Real calls to the number are checked with the owner's token, not the squatter's.
        voice = "/telephony/twilio/voice"
        genuine = await twilio_post(lab.base_url, voice, _voice_params(NUMBER))
        assert genuine.status_code == 200, genuine.text
        assert "<Reject" in genuine.text  # verified; no assistant rings it yet
        forged = await twilio_post(lab.base_url, voice, _voice_params(NUMBER), token=MADE_UP_TOKEN)
        assert forged.status_code == 403


def _with_number(body: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """``body`` as it reads for another number."""
    replaced: dict[str, Any] = json.loads(json.dumps(body).replace(old, new))
    return replaced


async def test_a_number_registered_elsewhere_answers_like_an_unowned_one(
    settings: Settings,
) -> None:
    """Two organizations that both hold the account's real credentials: the second one
    learns nothing about the first one's registration, and Twilio is asked either way."""
    async with phone_lab(settings, FakeProviders()) as lab:
        lab.twilio.own(NUMBER)
        first = await make_tenant(lab.app, "Acme")
        second = await make_tenant(lab.app, "Globex")
        for tenant in (first, second):
            async with httpx.AsyncClient(
                timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
            ) as api:
                stored = await api.post(
                    "/api/v1/credentials",
                    json={
                        "provider": "twilio",
                        "account_sid": ACCOUNT_SID,
                        "auth_token": AUTH_TOKEN,
                    },
                )
                assert stored.status_code == 201, stored.text
        assert (await _register(lab, first, number=NUMBER)).status_code == 201

        lookups = _number_lookups(lab, NUMBER)
        elsewhere = await _register(lab, second, number=NUMBER)
        assert _number_lookups(lab, NUMBER) == lookups + 1  # the carrier first, always
        unowned = await _register(lab, second, number=UNOWNED)
        assert (elsewhere.status_code, unowned.status_code) == (422, 422)
        assert elsewhere.json() == _with_number(unowned.json(), UNOWNED, NUMBER)
        assert "already" not in elsewhere.text

        # Within its own organization a duplicate is a plain 409.
        duplicate = await _register(lab, first, number=NUMBER)
        assert duplicate.status_code == 409


async def test_only_the_exact_number_of_the_account_counts(settings: Settings) -> None:
    """Twilio's PhoneNumber filter matches partial numbers; another account's number,
    or a prefix of the account's own, is not the account's number."""
    async with phone_lab(settings, FakeProviders()) as lab:
        other_account = "AC" + "fedcba9876543210" * 2
        lab.twilio.tokens[other_account] = "other-account-token-0123"
        lab.twilio.own(NUMBER)
        lab.twilio.own(UNOWNED, other_account)
        tenant = await make_tenant(lab.app)
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            stored = await api.post(
                "/api/v1/credentials",
                json={"provider": "twilio", "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
            )
            assert stored.status_code == 201, stored.text
        for number in (NUMBER[:-1], UNOWNED):
            refused = await _register(lab, tenant, number=number)
            assert refused.status_code == 422, (number, refused.text)
            assert "Twilio does not confirm" in refused.json()["error"]
        assert (await _register(lab, tenant, number=NUMBER)).status_code == 201


async def test_twilio_out_of_reach_registers_nothing(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        lab.twilio.own(NUMBER)
        tenant = await make_tenant(lab.app)
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            assistant = await api.post(
                "/api/v1/assistants",
                json={
                    "name": "Desk",
                    "twilio_config": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
                },
            )
            lab.twilio.down = True
            refused = await api.post(
                "/api/v1/phone-numbers",
                json={"number": NUMBER, "assistant_id": assistant.json()["id"]},
            )
            assert refused.status_code == 502, refused.text
            assert refused.json()["code"] == "carrier_unavailable"
            assert (await api.get("/api/v1/phone-numbers")).json() == []


async def test_an_assistants_twilio_config_is_proven_before_it_serves_a_number(
    settings: Settings,
) -> None:
    """Assigning a number to an assistant whose own twilio_config names the number's
    account makes that token the one its calls are checked with: Twilio must confirm it."""
    async with phone_lab(settings, FakeProviders()) as lab:
        lab.twilio.own(NUMBER)
        tenant = await make_tenant(lab.app)
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            stored = await api.post(
                "/api/v1/credentials",
                json={"provider": "twilio", "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
            )
            assert stored.status_code == 201, stored.text
            number = (await api.post("/api/v1/phone-numbers", json={"number": NUMBER})).json()
            ids = {}
            for name, token in (("Wrong", MADE_UP_TOKEN), ("Right", AUTH_TOKEN)):
                created = await api.post(
                    "/api/v1/assistants",
                    json={
                        "name": name,
                        "twilio_config": {"account_sid": ACCOUNT_SID, "auth_token": token},
                    },
                )
                ids[name] = created.json()["id"]
            path = f"/api/v1/phone-numbers/{number['id']}"
            wrong = await api.patch(path, json={"assistant_id": ids["Wrong"]})
            assert wrong.status_code == 422, wrong.text
            assert "the assistant's twilio_config" in wrong.json()["error"]
            assert (await api.get(path)).json()["assistant_id"] is None
            right = await api.patch(path, json={"assistant_id": ids["Right"]})
            assert right.status_code == 200, right.text
            assert right.json()["assistant_id"] == ids["Right"]


async def test_another_organizations_call_sid_does_not_shadow_a_call(settings: Settings) -> None:
    """A CallSid is Twilio's, but any organization with a number of its own can sign a
    voice webhook naming one. The victim's callbacks still find the victim's call (on
    a number of the account Twilio names) and verify with the victim's token."""
    async with phone_lab(settings, FakeProviders()) as lab:
        other_account, other_token = "AC" + "fedcba9876543210" * 2, "other-account-token-0123"
        lab.twilio.tokens[other_account] = other_token
        lab.twilio.own(NUMBER)
        lab.twilio.own(UNOWNED, other_account)
        victim = await make_tenant(lab.app, "Acme")
        attacker = await make_tenant(lab.app, "Globex")
        ids = {}
        for tenant, account_sid, token, number in (
            (victim, ACCOUNT_SID, AUTH_TOKEN, NUMBER),
            (attacker, other_account, other_token, UNOWNED),
        ):
            async with httpx.AsyncClient(
                timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
            ) as api:
                assistant = await api.post(
                    "/api/v1/assistants",
                    json={
                        "name": "Desk",
                        "twilio_config": {"account_sid": account_sid, "auth_token": token},
                    },
                )
                registered = await api.post(
                    "/api/v1/phone-numbers",
                    json={"number": number, "assistant_id": assistant.json()["id"]},
                )
                assert registered.status_code == 201, registered.text
                ids[tenant] = (assistant.json()["id"], registered.json()["id"])

        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=victim.headers
        ) as api:
            assistant_id, number_id = ids[victim]
            placed = await api.post(
                "/api/v1/calls",
                json={
                    "assistant_id": assistant_id,
                    "phone_number_id": number_id,
                    "customer_number": "+447700900123",
                },
            )
            assert placed.status_code == 201, placed.text
        call_sid = placed.json()["provider_call_id"]

        # The attacker's own number, its own token, the victim's CallSid.
        shadow = _voice_params(UNOWNED) | {"AccountSid": other_account, "CallSid": call_sid}
        answered = await twilio_post(
            lab.base_url, "/telephony/twilio/voice", shadow, token=other_token
        )
        assert answered.status_code == 200, answered.text

        ringing = {"AccountSid": ACCOUNT_SID, "CallSid": call_sid, "CallStatus": "ringing"}
        status = await twilio_post(lab.base_url, "/telephony/twilio/status", ringing)
        assert status.status_code == 204, status.text
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=victim.headers
        ) as api:
            call = (await api.get(f"/api/v1/calls/{placed.json()['id']}")).json()
        assert call["status"] == "ringing"
