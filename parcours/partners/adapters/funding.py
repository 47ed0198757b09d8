"""Training funding requests, the same at the Région and at France Travail (AIF): sent once
per idempotency key; the decision comes back later as a signed callback. A request whose
journey closed before the decision is withdrawn (once per key)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from parcours.partners.adapters.france_travail import PersonRef, ReferentRef
from parcours.partners.adapters.http import PartnerClient


class TrainingRef(BaseModel):
    training_id: str | None = None
    title: str
    provider: str
    starts_on: date
    ends_on: date | None = None
    hours: int | None = None
    location: str | None = None


class TrainingFundingRequest(BaseModel):
    request_id: str
    person: PersonRef
    training: TrainingRef
    requested_amount: Decimal
    referent: ReferentRef | None = None


class FundingReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str


class TrainingWithdrawal(BaseModel):
    request_id: str
    reason: Literal["journey_closed"] = "journey_closed"


class WithdrawalReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str


class FundingAdapter:
    def __init__(self, client: PartnerClient) -> None:
        self.client = client

    async def request_training(
        self, request: TrainingFundingRequest, *, key: str
    ) -> tuple[FundingReceipt, bool]:
        receipt, replayed = await self.client.call(
            "POST", "/training-requests", key=key, body=request, result=FundingReceipt
        )
        assert receipt is not None
        return receipt, replayed

    async def withdraw_training(
        self, reference: str, withdrawal: TrainingWithdrawal, *, key: str
    ) -> tuple[WithdrawalReceipt, bool]:
        """Withdraw the request the funder knows as ``reference`` (no personal data)."""
        receipt, replayed = await self.client.call(
            "POST",
            f"/training-requests/{quote(reference, safe='')}/withdrawal",
            key=key,
            body=withdrawal,
            result=WithdrawalReceipt,
        )
        assert receipt is not None
        return receipt, replayed
