"""The transactional SMS provider, in the HTTP shape of Brevo's API: ``POST
/v3/transactionalSMS/sms`` with the account's ``api-key`` header and
``{sender, recipient, content, type: "transactional", tag}``, answered ``{messageId, …}``.
The recipient is the number with its country code, without "+" (``33612345678``). Every call
also carries ``Idempotency-Key`` (the SMS's own id): a retry after a timeout, when the provider
had in fact taken the message, gets the same ``messageId`` back from a provider that honours
it (the simulator does) instead of a second SMS.

Delivery reports come back as the provider's webhook (``api/routes/sms.py``).

An answer that is the number's or the text's fault (400, 422) is ``PartnerRefused``: sending
again changes nothing. A refused API key (401, 403) is the platform's configuration, not the
message's: ``PartnerUnavailable``, so the messages wait for the key to be fixed.
"""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from parcours.core.settings import Settings
from parcours.partners.adapters.http import PartnerClient, PartnerRefused, PartnerUnavailable

SEND_PATH = "/v3/transactionalSMS/sms"
API_KEY_HEADER = "api-key"


class TransactionalSms(BaseModel):
    sender: str = Field(max_length=11)
    recipient: str
    content: str
    type: Literal["transactional"] = "transactional"
    tag: str | None = None


class SmsReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    message_id: str = Field(alias="messageId", coerce_numbers_to_str=True)
    reference: str | None = None


def sms_enabled(settings: Settings) -> bool:
    """Whether a provider is configured (``PARCOURS_SMS_URL``): without one, SMS wait."""
    return bool(settings.sms_url)


class SmsAdapter:
    def __init__(self, client: PartnerClient, sender: str) -> None:
        self.client = client
        self.sender = sender

    @classmethod
    def from_settings(
        cls, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> SmsAdapter:
        assert settings.sms_url, "SMS disabled: no PARCOURS_SMS_URL"
        client = PartnerClient(
            "sms",
            settings.sms_url.rstrip("/"),
            timeout_s=settings.partner_timeout_s,
            connect_timeout_s=settings.partner_connect_timeout_s,
            headers={API_KEY_HEADER: settings.sms_api_key, "Accept": "application/json"},
            transport=transport,
        )
        return cls(client, settings.sms_sender)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def send(
        self, *, recipient: str, content: str, tag: str, key: str
    ) -> tuple[SmsReceipt, bool]:
        """Hand one SMS to the provider; its receipt and whether it was a replay of ``key``.
        ``recipient`` is E.164."""
        body = TransactionalSms(
            sender=self.sender, recipient=recipient.removeprefix("+"), content=content, tag=tag
        )
        try:
            receipt, replayed = await self.client.call(
                "POST", SEND_PATH, key=key, body=body, result=SmsReceipt
            )
        except PartnerRefused as refused:
            if refused.status_code in (401, 403):
                raise PartnerUnavailable(
                    refused.partner,
                    f"Clé d'API du fournisseur de SMS refusée (HTTP {refused.status_code}) : "
                    "vérifiez PARCOURS_SMS_API_KEY.",
                    refused.status_code,
                ) from refused
            raise
        assert receipt is not None
        return receipt, replayed
