"""Hang-up and transfer of one live call through Twilio's REST API: the
``CallControl`` a ``TwilioMediaStream`` is given, since neither is a stream message."""

from __future__ import annotations

import logging

import httpx

from .accounts import TwilioAccount
from .rest import TwilioClient, TwilioError
from .twiml import dial_twiml

__all__ = ["TwilioCallControl"]

logger = logging.getLogger(__name__)


class TwilioCallControl:
    """One live call (``call_sid``) of ``account``, controlled through the REST API at
    ``base_url`` (the operator's ``twilio_api_base_url``)."""

    def __init__(
        self,
        account: TwilioAccount,
        call_sid: str,
        *,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._account = account
        self._call_sid = call_sid
        self._base_url = base_url
        self._transport = transport

    def _client(self) -> TwilioClient:
        return TwilioClient.for_account(
            self._account, base_url=self._base_url, transport=self._transport
        )

    async def hang_up(self) -> None:
        """Complete the call. A failure is logged, not raised: the stream closes anyway,
        and Twilio ends a call whose stream is gone."""
        try:
            async with self._client() as client:
                await client.update_call(self._call_sid, status="completed")
        except TwilioError as exc:
            logger.warning("hanging up %s through Twilio failed: %s", self._call_sid, exc)

    async def transfer(self, destination: str) -> None:
        """Redirect the call to ``<Dial>`` ``destination``; Twilio's refusal is raised."""
        async with self._client() as client:
            await client.update_call(self._call_sid, twiml=dial_twiml(destination))
