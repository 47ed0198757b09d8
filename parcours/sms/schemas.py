"""What pages, the API and callers read and write about SMS: the ``MobilePhone`` and
``FrenchPhone`` types (a number checked and written E.164 at entry, refused with a French
message otherwise), an SMS as it is shown, the provider's delivery report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from parcours.sms.rules import InvalidPhone, SmsStatus, normalise_mobile, normalise_phone


def _mobile(value: str) -> str:
    try:
        return normalise_mobile(value)
    except InvalidPhone as error:
        raise PydanticCustomError("mobile_phone", error.message) from None


def _phone(value: str) -> str:
    try:
        return normalise_phone(value)
    except InvalidPhone as error:
        raise PydanticCustomError("phone_number", error.message) from None


# A French mobile (overseas included), E.164 once validated: what an SMS is sent to.
MobilePhone = Annotated[str, Field(max_length=30), AfterValidator(_mobile)]
# A French number, fixed or mobile (overseas included), E.164 once validated: a person's phone.
FrenchPhone = Annotated[str, Field(max_length=30), AfterValidator(_phone)]


class SmsRead(BaseModel):
    """One SMS as the platform shows it (the body is the person's: only her agents see it)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    recipient: str
    body: str
    purpose: str
    beneficiary_id: str | None
    status: SmsStatus
    not_before: datetime
    attempts: int
    last_error: str | None
    provider_message_id: str | None
    created_at: datetime
    sent_at: datetime | None
    status_at: datetime | None


class DeliveryReport(BaseModel):
    """A provider's delivery report, as Brevo's transactional SMS webhook posts it
    (``{"messageId": 1511882900176220, "event": "delivered", …}``); the rest is ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    message_id: str = Field(
        alias="messageId", min_length=1, max_length=64, coerce_numbers_to_str=True
    )
    event: str = Field(min_length=1, max_length=40)
    reason: str | None = Field(default=None, max_length=300)


class DeliveryReceipt(BaseModel):
    """What Parcours answers the provider: the report ``applied``, or ``ignored`` (unknown
    message, or an event that changes nothing)."""

    status: str
    sms_status: SmsStatus | None = None
