"""Service structures: the orientation of a person to one of their services (idempotent by
key); their answer comes back as a signed callback. Structures get what they need to reach the
person, never the NIR. An orientation whose journey closed before the answer is cancelled
(once per key)."""

from __future__ import annotations

from datetime import date
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from parcours.partners.adapters.france_travail import ReferentRef
from parcours.partners.adapters.http import PartnerClient


class OrientedPerson(BaseModel):
    first_name: str
    last_name: str
    birth_date: date | None = None
    phone: str | None = None
    email: str | None = None


class ServiceOrientation(BaseModel):
    orientation_id: str
    structure_id: str
    service_id: str
    person: OrientedPerson
    referent: ReferentRef | None = None


class ServiceOrientationReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str


class OrientationCancellation(BaseModel):
    orientation_id: str
    reason: Literal["journey_closed"] = "journey_closed"


class CancellationReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str


class StructuresAdapter:
    def __init__(self, client: PartnerClient) -> None:
        self.client = client

    async def orient(
        self, orientation: ServiceOrientation, *, key: str
    ) -> tuple[ServiceOrientationReceipt, bool]:
        receipt, replayed = await self.client.call(
            "POST", "/orientations", key=key, body=orientation, result=ServiceOrientationReceipt
        )
        assert receipt is not None
        return receipt, replayed

    async def cancel(
        self, reference: str, cancellation: OrientationCancellation, *, key: str
    ) -> tuple[CancellationReceipt, bool]:
        """Cancel the orientation the structure knows as ``reference`` (no personal data)."""
        receipt, replayed = await self.client.call(
            "POST",
            f"/orientations/{quote(reference, safe='')}/cancellation",
            key=key,
            body=cancellation,
            result=CancellationReceipt,
        )
        assert receipt is not None
        return receipt, replayed
