"""One Twilio account's credentials, and the rule for which credentials serve an
account: the AccountSid is what Twilio names in every request, so it is always
matched, never assumed.

Where the candidates come from (an assistant's ``twilio_config``, an organization's
stored credential) is the domain's business (``domain.phone_numbers.accounts``): this
package is handed them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["AccountSource", "TwilioAccount"]

AccountSource = Literal["assistant", "organization"]


@dataclass(frozen=True, slots=True)
class TwilioAccount:
    """One Twilio account's credentials and where they were found."""

    account_sid: str
    auth_token: str
    source: AccountSource

    @property
    def where(self) -> str:
        """Where the caller can correct these credentials, for error messages."""
        if self.source == "assistant":
            return "the assistant's twilio_config"
        return "the organization's twilio credential"

    def serves(self, account_sid: str | None) -> bool:
        """Whether these credentials are complete and for ``account_sid`` (any account
        when None)."""
        if not (self.account_sid and self.auth_token):
            return False
        return account_sid is None or self.account_sid == account_sid
