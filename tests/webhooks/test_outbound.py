"""Issue 13, finding 2, at delivery time: a webhook URL whose name resolves to an
inside address is never delivered to, whatever it resolved to when it was saved."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.webhooks.outbox import enqueue
from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings
from tests.conftest import Tenant
from tests.webhooks.conftest import add_call, deliveries, dispatching, eventually
from tests.webhooks.receiver import Receiver


async def test_a_webhook_to_a_name_that_resolves_inside_is_not_delivered(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    receiver = Receiver()
    async with receiver.serving():
        url = f"http://hooks.rebind.test:{receiver.port}/hooks"

        async def rebinding(host: str, port: int) -> list[str]:
            return ["127.0.0.1"]  # the receiver's address: the inside

        call_id = await add_call(sessions, tenant.organization_id)
        async with sessions() as session:
            event_id = await enqueue(
                session,
                organization_id=tenant.organization_id,
                url=url,
                event_type="status-update",
                payload={"message": {"type": "status-update"}},
                call_id=call_id,
            )
            await session.commit()
        policy = OutboundPolicy(allow_http=True, resolver=rebinding)

        async def attempted_twice() -> bool:
            return len(await deliveries(sessions, event_id)) >= 2

        async with dispatching(sessions, settings, outbound=policy):
            await eventually(attempted_twice)
        assert receiver.requests == []
        attempts = await deliveries(sessions, event_id)
        assert all("resolves to a loopback address" in (a.error or "") for a in attempts)
