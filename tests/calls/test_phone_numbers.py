"""The Phone Numbers API: E.164, one live row per number per Twilio account, the
assistant must be the organization's, credentials must exist, Twilio must confirm the
account owns the number, and assigning a number can point its voice webhook here
through Twilio's API."""

from __future__ import annotations

import httpx

from callwright.settings import Settings
from tests.calls.harness import ACCOUNT_SID, API_TIMEOUT, AUTH_TOKEN, FakeProviders, phone_lab
from tests.conftest import make_tenant

NUMBER = "+14155550199"


async def test_phone_number_lifecycle(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        other = await make_tenant(lab.app, "Globex")
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            # No Twilio credentials anywhere yet: a clear 422.
            bare = await api.post("/api/v1/assistants", json={"name": "No Twilio"})
            refused = await api.post(
                "/api/v1/phone-numbers",
                json={"number": NUMBER, "assistant_id": bare.json()["id"]},
            )
            assert refused.status_code == 422
            assert "Twilio credentials" in refused.json()["error"]

            assistant = await api.post(
                "/api/v1/assistants",
                json={
                    "name": "Desk",
                    "twilio_config": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
                },
            )
            assistant_id = assistant.json()["id"]
            for bad in ("4155550199", "+0123", "+1415555019912345", "+1 415 555 0199"):
                response = await api.post(
                    "/api/v1/phone-numbers", json={"number": bad, "assistant_id": assistant_id}
                )
                assert response.status_code == 422, bad
                assert response.json()["details"][0]["loc"][-1] == "number"

            # Twilio does not list the number among the account's: not registered.
            unknown = await api.post(
                "/api/v1/phone-numbers",
                json={"number": NUMBER, "assistant_id": assistant_id, "configure_webhook": True},
            )
            assert unknown.status_code == 422
            assert unknown.json()["details"][0]["field"] == "number"
            assert "Twilio does not confirm" in unknown.json()["error"]
            assert (await api.get("/api/v1/phone-numbers")).json() == []
            assert not [r for r in lab.twilio.requests if r[0] == "POST"]  # nothing configured

            lab.twilio.own(NUMBER)
            created = await api.post(
                "/api/v1/phone-numbers",
                json={"number": NUMBER, "assistant_id": assistant_id, "name": "Main line"},
            )
            assert created.status_code == 201, created.text
            number = created.json()
            assert number["twilio_account_sid"] == ACCOUNT_SID
            assert number["voice_url"] == f"{lab.base_url}/telephony/twilio/voice"
            assert AUTH_TOKEN not in created.text
            duplicate = await api.post(
                "/api/v1/phone-numbers", json={"number": NUMBER, "assistant_id": assistant_id}
            )
            assert duplicate.status_code == 409

            patched = await api.patch(
                f"/api/v1/phone-numbers/{number['id']}",
                json={"name": "Sales", "configure_webhook": True},
            )
            assert patched.status_code == 200, patched.text
            assert patched.json()["name"] == "Sales"
            method, path, form = lab.twilio.requests[-1]
            assert path.endswith(f"/IncomingPhoneNumbers/{lab.twilio.number_sid(NUMBER)}.json")
            assert (method, form["VoiceUrl"]) == ("POST", [number["voice_url"]])
            unassigned = await api.patch(
                f"/api/v1/phone-numbers/{number['id']}", json={"assistant_id": None}
            )
            assert unassigned.json()["assistant_id"] is None
            assert [n["id"] for n in (await api.get("/api/v1/phone-numbers")).json()] == [
                number["id"]
            ]

        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=other.headers
        ) as api:
            assert (await api.get(f"/api/v1/phone-numbers/{number['id']}")).status_code == 404
            assert (await api.get("/api/v1/phone-numbers")).json() == []
            stolen = await api.post(
                "/api/v1/phone-numbers",
                json={"number": "+14155550123", "assistant_id": assistant_id},
            )
            assert stolen.status_code == 422

        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            assert (await api.delete(f"/api/v1/phone-numbers/{number['id']}")).status_code == 204
            assert (await api.get(f"/api/v1/phone-numbers/{number['id']}")).status_code == 404
            # Released: the same number can be registered again.
            again = await api.post(
                "/api/v1/phone-numbers", json={"number": NUMBER, "assistant_id": assistant_id}
            )
            assert again.status_code == 201
