"""Training funding requests, the same at the Région and at France Travail (AIF): sent once
per idempotency key; the decision comes back later as a signed callback."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

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
