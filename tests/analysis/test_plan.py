"""``analysis_plan`` on the Assistant resource: optional, defaults filled in, a
structured-data schema that is not JSON Schema refused with a 422 naming where."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Tenant


async def test_the_plan_is_stored_with_its_defaults(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    plain = await client.post("/api/v1/assistants", json={"name": "a"}, headers=tenant.headers)
    assert plain.status_code == 201
    assert plain.json()["analysis_plan"] is None

    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    created = await client.post(
        "/api/v1/assistants",
        json={
            "name": "b",
            "analysis_plan": {
                "structured_data_plan": {"json_schema": schema},
                "success_evaluation_plan": {"rubric": "NumericScale"},
                "model": {"provider": "anthropic", "model": "claude-haiku"},
            },
        },
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    plan = created.json()["analysis_plan"]
    assert plan["min_messages_threshold"] == 2
    assert plan["summary_plan"]["enabled"] is True
    assert "Summarize" in plan["summary_plan"]["prompt"]
    assert plan["structured_data_plan"]["json_schema"] == schema
    assert plan["success_evaluation_plan"]["rubric"] == "NumericScale"

    # PATCH merges into the plan; null removes it.
    identifier = created.json()["id"]
    patched = await client.patch(
        f"/api/v1/assistants/{identifier}",
        json={"analysis_plan": {"summary_plan": {"enabled": False}}},
        headers=tenant.headers,
    )
    assert patched.status_code == 200, patched.text
    merged = patched.json()["analysis_plan"]
    assert merged["summary_plan"]["enabled"] is False
    assert merged["success_evaluation_plan"]["rubric"] == "NumericScale"
    removed = await client.patch(
        f"/api/v1/assistants/{identifier}", json={"analysis_plan": None}, headers=tenant.headers
    )
    assert removed.json()["analysis_plan"] is None


@pytest.mark.parametrize(
    ("plan", "field", "words"),
    [
        (
            {"structured_data_plan": {"json_schema": {"type": "thing"}}},
            "analysis_plan.structured_data_plan.json_schema",
            "not a valid JSON Schema at type",
        ),
        (
            {"structured_data_plan": {"json_schema": {"properties": {"a": {"minimum": "1"}}}}},
            "analysis_plan.structured_data_plan.json_schema",
            "properties/a/minimum",
        ),
        (
            {"success_evaluation_plan": {"rubric": "Vibes"}},
            "analysis_plan.success_evaluation_plan.rubric",
            "PassFail",
        ),
        ({"model": {"provider": "nobody"}}, "analysis_plan.model.provider", "openai"),
        ({"summary_plan": {"timeout_s": 0}}, "analysis_plan.summary_plan.timeout_s", "0"),
    ],
)
async def test_a_bad_plan_is_422_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant, plan: dict, field: str, words: str
) -> None:
    response = await client.post(
        "/api/v1/assistants", json={"name": "x", "analysis_plan": plan}, headers=tenant.headers
    )
    assert response.status_code == 422, response.text
    details = {detail["field"]: detail for detail in response.json()["details"]}
    assert field in details, details
    assert words in str(details[field])
