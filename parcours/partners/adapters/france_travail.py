"""France Travail: find a person (NIR and birth date) with their registration, notify it of a
professional orientation, send it partners' appointments and their statuses (« Rendez-vous
partenaire »), each idempotent by key."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from parcours.appointments.messages import AppointmentKind
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


class OrientationRequest(BaseModel):
    """The legal orientation delay passed: France Travail is asked to orient the person
    (art. D.262-65-2 CASF); it answers later with a signed callback naming ``journey_id``."""

    journey_id: str
    person: PersonRef
    due_on: date
    departement: str


class OrientationRequestReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str


class OrientationReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str
    identifier: str | None = None


# --- « Rendez-vous partenaire » ----------------------------------------------------------------
# France Travail's partner-appointment API, in the shape partners (RDV-Insertion) send it: its
# field names and codes. Its status list has no excused absence (RDV-Insertion sends ANNULE,
# rdv-insertion#2457 asks for one): Parcours sends ABSENT_EXCUSE with a reason code, which the
# local simulator accepts; production maps it when France Travail publishes its code.
FT_STATUSES: dict[str, str] = {
    "planned": "PRIS",
    "attended": "EFFECTUE",
    "excused_absence": "ABSENT_EXCUSE",
    "unexcused_absence": "ABSENT",
    "cancelled": "ANNULE",
}
FT_MODALITIES = {"in_person": "PHYSIQUE", "phone": "TELEPHONE", "video": "VISIO"}
# Which organisation receives the person, in France Travail's codes.
FT_ORGANISATIONS = {"departement": "CD", "france_travail": "FT"}
FT_THEMES = {
    AppointmentKind.ORIENTATION: "RSA orientation",
    AppointmentKind.ACCOMPAGNEMENT: "RSA accompagnement",
    AppointmentKind.SUIVI: "RSA suivi",
    AppointmentKind.EQUIPE_PLURIDISCIPLINAIRE: "RSA équipe pluridisciplinaire",
    AppointmentKind.INFORMATION_COLLECTIVE: "RSA information collective",
}
ORIGIN = "PARCOURS"


class AppointmentOrganisation(BaseModel):
    code: Literal["CD", "FT", "DCD", "IND"]
    libelle: str


class ConsentMarker(BaseModel):
    """The consent Parcours holds for sharing with France Travail: France Travail refuses an
    appointment without it."""

    recueilli: bool
    dateRecueil: date | None = None


class PartnerAppointment(BaseModel):
    id: str
    person: PersonRef
    date: datetime
    duree: int
    theme: str
    motif: Literal["ORI", "ACC", "AUT"]
    modaliteContact: Literal["PHYSIQUE", "TELEPHONE", "VISIO"]
    typeReception: Literal["IND", "COL"]
    initiateur: Literal["USAGER", "PARTENAIRE"]
    organisme: AppointmentOrganisation
    statut: Literal["PRIS", "EFFECTUE", "ABSENT", "ABSENT_EXCUSE", "ANNULE"]
    motifAbsence: str | None = None
    origine: str = ORIGIN
    consentement: ConsentMarker


class AppointmentReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str
    id: str
    statut: str
    identifier: str | None = None


class RemovalProposal(BaseModel):
    """The proposal to strike a person off the list after a 4-month total removal."""

    person: PersonRef
    case_id: str
    removal_started_on: date
    removal_ended_on: date


class RemovalReceipt(BaseModel):
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

    async def request_orientation(
        self, request: OrientationRequest, *, key: str
    ) -> tuple[OrientationRequestReceipt, bool]:
        """Ask France Travail to orient a person whose legal delay passed (once per key)."""
        receipt, replayed = await self.client.call(
            "POST",
            "/orientations/demandes",
            key=key,
            body=request,
            result=OrientationRequestReceipt,
        )
        assert receipt is not None
        return receipt, replayed

    async def send_appointment(
        self, appointment: PartnerAppointment, *, key: str
    ) -> tuple[AppointmentReceipt, bool]:
        """Create or update the appointment at France Travail with its current status."""
        receipt, replayed = await self.client.call(
            "PUT",
            f"/rendez-vous-partenaire/v1/rendez-vous/{quote(appointment.id, safe='')}",
            key=key,
            body=appointment,
            result=AppointmentReceipt,
        )
        assert receipt is not None
        return receipt, replayed

    async def propose_removal(
        self, proposal: RemovalProposal, *, key: str
    ) -> tuple[RemovalReceipt, bool]:
        receipt, replayed = await self.client.call(
            "POST", "/radiations", key=key, body=proposal, result=RemovalReceipt
        )
        assert receipt is not None
        return receipt, replayed
