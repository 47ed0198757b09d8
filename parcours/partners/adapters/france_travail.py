"""France Travail: find a person (NIR and birth date) with their registration, and notify it
of a professional orientation (idempotent by key)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from parcours.partners.adapters.http import PartnerClient


class PersonRef(BaseModel):
    """A person as France Travail and the funders identify them."""

    nir: str
    birth_date: date
    first_name: str | None = None
    last_name: str | None = None


class ReferentRef(BaseModel):
    name: str
    email: str | None = None
    structure: str | None = None


class Registration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["registered", "deregistered"]
    category: str
    registered_on: date
    agency: str


class JobseekerRead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    identifier: str
    registration: Registration


class JobseekerSearch(BaseModel):
    nir: str
    birth_date: date


class ProfessionalOrientation(BaseModel):
    orientation_id: str
    person: PersonRef
    decided_on: date
    agency: str | None = None
    referent: ReferentRef | None = None


class OrientationReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str
    identifier: str | None = None


class FranceTravailAdapter:
    def __init__(self, client: PartnerClient) -> None:
        self.client = client

    async def find(self, nir: str, birth_date: date, *, key: str) -> JobseekerRead | None:
        """The person's registration and identifier; None if France Travail does not know them."""
        found, _ = await self.client.call(
            "POST",
            "/individus/recherche",
            key=key,
            body=JobseekerSearch(nir=nir, birth_date=birth_date),
            result=JobseekerRead,
            not_found_is_none=True,
        )
        return found

    async def notify_orientation(
        self, orientation: ProfessionalOrientation, *, key: str
    ) -> tuple[OrientationReceipt, bool]:
        receipt, replayed = await self.client.call(
            "POST", "/orientations", key=key, body=orientation, result=OrientationReceipt
        )
        assert receipt is not None
        return receipt, replayed
