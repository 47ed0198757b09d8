"""The CAF as Parcours reads it: the CNAF's codes, a household and its RSA rights, and the
adapter that looks them up by CAF number (``GET /beneficiaries/{caf_number}``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from parcours.journey.messages import RsaStatus
from parcours.partners.adapters.http import PartnerClient

# ETATDOSRSA → label, and what it means for a journey (None: no right to act on).
RIGHTS_STATES: dict[str, tuple[str, RsaStatus | None]] = {
    "0": ("Nouvelle demande en attente de décision du département", None),
    "1": ("Droit refusé", None),
    "2": ("Droit ouvert et versable", RsaStatus.OPEN),
    "3": ("Droit ouvert et suspendu", RsaStatus.SUSPENDED),
    "4": ("Droit ouvert mais versement suspendu", RsaStatus.SUSPENDED),
    "5": ("Droit clos", RsaStatus.CLOSED),
    "6": ("Droit clos sur mois antérieur", RsaStatus.CLOSED),
}
# SITFAM (a subset; an unknown code is shown as it is).
FAMILY_SITUATIONS = {
    "CEL": "Célibataire",
    "DIV": "Divorcé(e)",
    "ISO": "Isolement après vie maritale ou PACS",
    "MAR": "Mariage",
    "PAC": "PACS",
    "SEF": "Séparation de fait",
    "VEU": "Veuvage",
    "VIM": "Vie maritale",
}


class CafAddress(BaseModel):
    model_config = ConfigDict(extra="ignore")

    street: str
    postal_code: str
    city: str
    insee_code: str | None = None


class CafHousehold(BaseModel):
    model_config = ConfigDict(extra="ignore")

    family_situation: str
    adults: int
    dependent_children: int
    homeless: bool
    address: CafAddress | None = None
    monthly_amount: Decimal | None = None


class CafRights(BaseModel):
    """A household and its RSA rights, as the CAF knows them now (or as a feed line says)."""

    model_config = ConfigDict(extra="ignore")

    caf_number: str
    rights_state: str
    rights_opened_on: date | None = None
    subject_to_duties: bool
    suspension_reason: str | None = None
    closure_reason: str | None = None
    closed_on: date | None = None
    department: str
    household: CafHousehold

    @property
    def rsa_status(self) -> RsaStatus | None:
        return RIGHTS_STATES[self.rights_state][1] if self.rights_state in RIGHTS_STATES else None

    @property
    def rights_label(self) -> str:
        known = RIGHTS_STATES.get(self.rights_state)
        return known[0] if known else f"État {self.rights_state}"


class CafBeneficiary(CafRights):
    """``GET /beneficiaries/{caf_number}``: the rights and who they are."""

    nir: str
    first_name: str
    last_name: str
    birth_date: date


class CafSanction(BaseModel):
    """A suspension-remobilisation decision, or its lifting, as the CAF receives it."""

    caf_number: str
    case_id: str
    event: Literal["decided", "lifted"]
    measure: Literal["suspension", "removal"]
    rate_percent: int
    starts_on: date
    ends_on: date


class CafSanctionReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str


class CafAdapter:
    def __init__(self, client: PartnerClient) -> None:
        self.client = client

    async def beneficiary(self, caf_number: str, *, key: str) -> CafBeneficiary | None:
        """The household and RSA status under ``caf_number``; None if the CAF has no one."""
        found, _ = await self.client.call(
            "GET",
            f"/beneficiaries/{caf_number}",
            key=key,
            result=CafBeneficiary,
            not_found_is_none=True,
            traced_as="/beneficiaries/{caf_number}",
        )
        return found

    async def send_sanction(
        self, sanction: CafSanction, *, key: str
    ) -> tuple[CafSanctionReceipt, bool]:
        receipt, replayed = await self.client.call(
            "POST", "/sanctions", key=key, body=sanction, result=CafSanctionReceipt
        )
        assert receipt is not None
        return receipt, replayed
