"""France Travail: who is registered (found by NIR and birth date), professional orientation
notices, partners' appointments and their statuses (« Rendez-vous partenaire »), training
funding requests (AIF) with their decisions, and entries into work reported back to Parcours."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import AwareDatetime, BaseModel, Field, ValidationError, model_validator

from simulators.background import BackgroundWork
from simulators.callbacks import CallbackRecord, CallbackSender
from simulators.errors import Conflict, Forbidden, NotFound, PartnerError
from simulators.faults import Partner, partner_route
from simulators.funding import FundingDesk, add_training_routes
from simulators.idempotency import IdempotencyLedger, Outcome, idempotency_key
from simulators.schemas import NIR_PATTERN, PersonRef, Referent

AIF_CEILING = Decimal("3000.00")


class RegistrationStatus(StrEnum):
    REGISTERED = "registered"  # inscrit comme demandeur d'emploi
    DEREGISTERED = "deregistered"  # radié, ou sorti des listes


class Registration(BaseModel):
    status: RegistrationStatus
    category: str = Field(pattern=r"^[1-8]$", description="Catégorie d'inscription (1 à 8)")
    registered_on: date
    agency: str


class JobseekerCreate(BaseModel):
    nir: str = Field(pattern=NIR_PATTERN)
    birth_date: date
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    identifier: str | None = Field(default=None, pattern=r"^[0-9A-Z]{8}$")
    status: RegistrationStatus = RegistrationStatus.REGISTERED
    category: str = Field(default="1", pattern=r"^[1-8]$")
    registered_on: date | None = None
    agency: str = "France Travail Chambéry"


class IndividualSearch(BaseModel):
    nir: str = Field(pattern=NIR_PATTERN)
    birth_date: date


class IndividualRead(BaseModel):
    identifier: str = Field(description="Identifiant France Travail")
    first_name: str
    last_name: str
    birth_date: date
    registration: Registration


class ProfessionalOrientationCreate(BaseModel):
    orientation_id: str = Field(min_length=1, max_length=100, description="Identifiant Parcours")
    person: PersonRef
    decided_on: date
    agency: str | None = Field(default=None, max_length=200, description="Agence d'accueil")
    referent: Referent | None = None
    comment: str | None = Field(default=None, max_length=2000)


class OrientationReceipt(BaseModel):
    reference: str
    status: Literal["received"] = "received"
    identifier: str | None = Field(
        description="Identifiant France Travail, si la personne est connue"
    )


class OrientationRecord(BaseModel):
    reference: str
    idempotency_key: str
    received_at: datetime
    notice: ProfessionalOrientationCreate


Contract = Literal["cdi", "cdd", "interim", "business_creation", "inclusion", "other"]


# --- Orientation by France Travail once the département's legal delay passed (art. D.262-65-2
# CASF): Parcours asks, France Travail decides later and calls back (signed).
Track = Literal["professional", "socio_professional", "social"]


class OrientationRequestCreate(BaseModel):
    journey_id: str = Field(min_length=1, max_length=100, description="Parcours de la personne")
    person: PersonRef
    due_on: date = Field(description="Échéance légale dépassée")
    departement: str = Field(pattern=r"^(\d{2,3}|2[AB])$")


class OrientationRequestReceipt(BaseModel):
    reference: str
    status: Literal["received"] = "received"


class OrientationDecisionCreate(BaseModel):
    """What France Travail decides (tests and demo choose it; on its own, a professional
    track to the person's agency)."""

    track: Track = "professional"
    agency: str | None = Field(default=None, max_length=200)


class OrientationRequestRecord(BaseModel):
    reference: str
    idempotency_key: str
    received_at: datetime
    request: OrientationRequestCreate
    decision: OrientationDecisionCreate | None = None
    decided_at: datetime | None = None


class OrientationDecisionSent(BaseModel):
    reference: str
    decision: OrientationDecisionCreate
    callback: CallbackRecord


# --- « Rendez-vous partenaire »: a partner's appointments with a person, and their statuses.
# The shape of France Travail's partner-appointment API as partners (RDV-Insertion) send it:
# the partner's appointment id, date, duration, theme, motif (ORI orientation, ACC first
# accompaniment, AUT other), contact modality, individual or collective reception, who booked
# it, the partner organisation, the status; the person as France Travail's other partner calls
# identify them (NIR, birth date); the consent the partner collected to share it.
AppointmentStatus = Literal["PRIS", "EFFECTUE", "ABSENT", "ABSENT_EXCUSE", "ANNULE"]


class AppointmentOrganisation(BaseModel):
    code: Literal["CD", "FT", "DCD", "IND"] = Field(
        description="CD conseil départemental, FT France Travail, DCD délégataire, IND autre"
    )
    libelle: str = Field(min_length=1, max_length=200)


class ConsentMarker(BaseModel):
    recueilli: bool = Field(description="La personne a consenti au partage avec France Travail")
    dateRecueil: date | None = None


class PartnerAppointment(BaseModel):
    # France Travail's field names, as its API spells them.
    id: str = Field(min_length=1, max_length=100, description="Identifiant du partenaire")
    person: PersonRef
    date: AwareDatetime
    duree: int = Field(ge=5, le=480, description="Durée en minutes")
    theme: str = Field(min_length=1, max_length=200)
    motif: Literal["ORI", "ACC", "AUT"]
    modaliteContact: Literal["PHYSIQUE", "TELEPHONE", "VISIO"]
    typeReception: Literal["IND", "COL"]
    initiateur: Literal["USAGER", "PARTENAIRE"]
    organisme: AppointmentOrganisation
    statut: AppointmentStatus
    motifAbsence: str | None = Field(default=None, max_length=50)
    origine: str = Field(min_length=1, max_length=50)
    consentement: ConsentMarker | None = None

    @model_validator(mode="after")
    def _excuse_goes_with_an_excused_absence(self) -> PartnerAppointment:
        if (self.statut == "ABSENT_EXCUSE") != (self.motifAbsence is not None):
            raise ValueError("motifAbsence est exigé pour ABSENT_EXCUSE, et seulement pour lui")
        return self


class AppointmentReceipt(BaseModel):
    reference: str
    id: str
    statut: AppointmentStatus
    identifier: str | None = Field(
        description="Identifiant France Travail, si la personne est connue"
    )


class AppointmentRecord(BaseModel):
    """One status of one appointment, as France Travail received it."""

    reference: str
    idempotency_key: str
    received_at: datetime
    appointment: PartnerAppointment


class InvalidRequest(PartnerError):
    status_code = 400


def partner_appointment(appointment_id: str, payload: Any) -> PartnerAppointment:
    """The body read as France Travail reads it, refused with its error codes."""
    try:
        appointment = PartnerAppointment.model_validate(payload)
    except ValidationError as error:
        fields = ", ".join(
            ".".join(str(part) for part in e["loc"]) or "corps" for e in error.errors()
        )
        raise InvalidRequest(
            f"Requête invalide ({error.error_count()} erreur(s)) : {fields}.",
            code="REQUETE_INVALIDE",
        ) from None
    if appointment.id != appointment_id:
        raise InvalidRequest(
            f"L'identifiant du rendez-vous ({appointment.id}) diffère de celui de l'adresse "
            f"({appointment_id}).",
            code="IDENTIFIANT_INCOHERENT",
        )
    if appointment.consentement is None or not appointment.consentement.recueilli:
        raise Forbidden(
            "Le consentement de la personne au partage avec France Travail n'est pas indiqué : "
            "le rendez-vous n'est pas enregistré.",
            code="CONSENTEMENT_ABSENT",
        )
    return appointment


class RemovalProposal(BaseModel):
    """The département's proposal to strike a person off the list of jobseekers after a
    total removal of her RSA for 4 months (décret 2025-478)."""

    person: PersonRef
    case_id: str = Field(min_length=1, max_length=36)
    removal_started_on: date
    removal_ended_on: date


class RemovalReceipt(BaseModel):
    reference: str
    case_id: str
    identifier: str | None = None


class EmploymentReport(BaseModel):
    """An entry into work as France Travail learns it (a DPAE, a declaration)."""

    nir: str = Field(pattern=NIR_PATTERN)
    birth_date: date | None = None
    started_on: date
    contract: Contract = "cdi"
    employer: str | None = Field(default=None, max_length=200)
    hours_per_week: Decimal | None = Field(default=None, gt=0, le=60)


class EmploymentSent(BaseModel):
    callback: CallbackRecord


class FranceTravail:
    def __init__(
        self,
        run_id: str,
        rng: random.Random,
        *,
        callbacks: CallbackSender,
        funding: FundingDesk,
        background: BackgroundWork | None = None,
        decision_delay_s: float | None = None,
    ) -> None:
        self._run_id = run_id
        self._rng = rng
        self._callbacks = callbacks
        self.funding = funding
        self._background = background
        self._decision_delay_s = decision_delay_s
        self._orientation_requests: dict[str, OrientationRequestRecord] = {}
        self.orientation_request_ledger = IdempotencyLedger()
        # By the NIR's first 13 characters: partners do not always send the key.
        self._jobseekers: dict[str, IndividualRead] = {}
        self._orientations: dict[str, OrientationRecord] = {}
        self.orientation_ledger = IdempotencyLedger()
        # Every status received, in order; the appointments as they stand, by the partner's id.
        self._appointment_updates: list[AppointmentRecord] = []
        self._appointments: dict[str, AppointmentRecord] = {}
        self.appointment_ledger = IdempotencyLedger()
        self._removals: list[dict[str, Any]] = []
        self.removal_ledger = IdempotencyLedger()
        self.searches = 0

    def propose_removal(self, key: str, body: RemovalProposal) -> Outcome:
        def record() -> dict[str, Any]:
            reference = f"FT-RAD-{self._run_id}-{len(self._removals) + 1:06d}"
            self._removals.append({"reference": reference, **body.model_dump(mode="json")})
            known = self.find(body.person.nir, body.person.birth_date)
            receipt = RemovalReceipt(
                reference=reference,
                case_id=body.case_id,
                identifier=known.identifier if known else None,
            )
            return receipt.model_dump(mode="json")

        return self.removal_ledger.once(key, body, record)

    def register(self, body: JobseekerCreate) -> IndividualRead:
        identifier = body.identifier or (
            f"{self._rng.randrange(10**6, 10**7)}{self._rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}"
        )
        individual = IndividualRead(
            identifier=identifier,
            first_name=body.first_name,
            last_name=body.last_name,
            birth_date=body.birth_date,
            registration=Registration(
                status=body.status,
                category=body.category,
                registered_on=body.registered_on or date.today(),
                agency=body.agency,
            ),
        )
        self._jobseekers[body.nir[:13]] = individual
        return individual

    def find(self, nir: str, birth_date: date | None) -> IndividualRead | None:
        found = self._jobseekers.get(nir[:13])
        if found is None or (birth_date is not None and found.birth_date != birth_date):
            return None
        return found

    def search(self, body: IndividualSearch) -> IndividualRead:
        self.searches += 1
        found = self.find(body.nir, body.birth_date)
        if found is None:
            raise NotFound("Aucun demandeur d'emploi pour ce NIR et cette date de naissance.")
        return found

    def notify_orientation(self, key: str, body: ProfessionalOrientationCreate) -> Outcome:
        def register() -> dict[str, Any]:
            reference = f"FT-ORI-{self._run_id}-{len(self._orientations) + 1:06d}"
            self._orientations[reference] = OrientationRecord(
                reference=reference,
                idempotency_key=key,
                received_at=datetime.now(UTC),
                notice=body,
            )
            known = self.find(body.person.nir, body.person.birth_date)
            receipt = OrientationReceipt(
                reference=reference, identifier=known.identifier if known else None
            )
            return receipt.model_dump(mode="json")

        return self.orientation_ledger.once(key, body, register)

    def request_orientation(self, key: str, body: OrientationRequestCreate) -> Outcome:
        """Parcours asks France Travail to orient a person (once per key); it decides after
        ``decision_delay_s`` on its own, or when told (``decide_orientation``)."""

        def register() -> dict[str, Any]:
            reference = f"FT-DEM-{self._run_id}-{len(self._orientation_requests) + 1:06d}"
            self._orientation_requests[reference] = OrientationRequestRecord(
                reference=reference,
                idempotency_key=key,
                received_at=datetime.now(UTC),
                request=body,
            )
            if self._decision_delay_s is not None and self._background is not None:
                self._background.spawn(
                    self._orient_later(reference, self._decision_delay_s),
                    name=f"orientation {reference}",
                )
            return OrientationRequestReceipt(reference=reference).model_dump(mode="json")

        return self.orientation_request_ledger.once(key, body, register)

    async def decide_orientation(
        self, reference: str, decision: OrientationDecisionCreate | None, *, wait: bool
    ) -> OrientationDecisionSent:
        record = self._orientation_requests.get(reference)
        if record is None:
            raise NotFound(f"Aucune demande d'orientation {reference}.")
        if record.decision is not None:
            raise Conflict("Cette demande d'orientation est déjà décidée.")
        if decision is None or decision.agency is None:
            known = self.find(record.request.person.nir, record.request.person.birth_date)
            chosen = decision or OrientationDecisionCreate()
            agency = known.registration.agency if known else None
            decision = chosen.model_copy(update={"agency": agency})
        record.decision, record.decided_at = decision, datetime.now(UTC)
        callback = await self._callbacks.send(
            Partner.FRANCE_TRAVAIL,
            "orientation_decision",
            {
                "reference": reference,
                "journey_id": record.request.journey_id,
                "track": decision.track,
                "agency": decision.agency,
                "decided_at": record.decided_at.isoformat(),
            },
            wait=wait,
        )
        return OrientationDecisionSent(reference=reference, decision=decision, callback=callback)

    async def _orient_later(self, reference: str, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        record = self._orientation_requests.get(reference)
        if record is not None and record.decision is None:
            await self.decide_orientation(reference, None, wait=True)

    def receive_appointment(self, key: str, body: PartnerAppointment) -> Outcome:
        def record() -> dict[str, Any]:
            reference = f"FT-RDV-{self._run_id}-{len(self._appointment_updates) + 1:06d}"
            received = AppointmentRecord(
                reference=reference,
                idempotency_key=key,
                received_at=datetime.now(UTC),
                appointment=body,
            )
            self._appointment_updates.append(received)
            self._appointments[body.id] = received
            known = self.find(body.person.nir, body.person.birth_date)
            receipt = AppointmentReceipt(
                reference=reference,
                id=body.id,
                statut=body.statut,
                identifier=known.identifier if known else None,
            )
            return receipt.model_dump(mode="json")

        return self.appointment_ledger.once(key, body, record)

    async def report_employment(self, body: EmploymentReport, *, wait: bool) -> EmploymentSent:
        known = self.find(body.nir, body.birth_date)
        callback = await self._callbacks.send(
            Partner.FRANCE_TRAVAIL,
            "employment_entry",
            {
                "identifier": known.identifier if known else None,
                "nir": body.nir,
                "birth_date": body.birth_date.isoformat() if body.birth_date else None,
                "started_on": body.started_on.isoformat(),
                "contract": body.contract,
                "employer": body.employer,
                "hours_per_week": None if body.hours_per_week is None else str(body.hours_per_week),
            },
            wait=wait,
        )
        return EmploymentSent(callback=callback)

    def state(self) -> dict[str, Any]:
        # The funding desk's part carries all of France Travail's callbacks and traffic.
        return {
            "jobseekers": len(self._jobseekers),
            "searches": self.searches,
            "orientations": [
                record.model_dump(mode="json") for record in self._orientations.values()
            ],
            "orientations_by_key": self.orientation_ledger.snapshot(),
            "orientation_requests": [
                record.model_dump(mode="json") for record in self._orientation_requests.values()
            ],
            "orientation_requests_by_key": self.orientation_request_ledger.snapshot(),
            "appointment_updates": [
                record.model_dump(mode="json") for record in self._appointment_updates
            ],
            "appointments": {
                appointment_id: record.model_dump(mode="json")
                for appointment_id, record in self._appointments.items()
            },
            "appointments_by_key": self.appointment_ledger.snapshot(),
            "removal_proposals": list(self._removals),
            "removal_proposals_by_key": self.removal_ledger.snapshot(),
            **self.funding.state(),
        }


def france_travail(request: Request) -> FranceTravail:
    partner: FranceTravail = request.app.state.partners.france_travail
    return partner


def funding_desk(request: Request) -> FundingDesk:
    return france_travail(request).funding


Agency = Annotated[FranceTravail, Depends(france_travail)]
Key = Annotated[str, Depends(idempotency_key)]

operations = APIRouter(
    prefix="/france-travail",
    tags=["France Travail"],
    route_class=partner_route(Partner.FRANCE_TRAVAIL),
)
controls = APIRouter(prefix="/france-travail", tags=["France Travail — pilotage"])


@operations.post(
    "/individus/recherche",
    summary="Trouver une personne (NIR et date de naissance) : inscription et identifiant",
    responses={404: {"description": "Personne inconnue de France Travail"}},
)
async def search_individual(body: IndividualSearch, agency: Agency) -> IndividualRead:
    return agency.search(body)


@operations.post(
    "/orientations",
    summary="Notifier une orientation professionnelle (idempotente par clé)",
    response_model=OrientationReceipt,
)
async def notify_orientation(
    body: ProfessionalOrientationCreate, agency: Agency, key: Key
) -> Response:
    return agency.notify_orientation(key, body).response()


@operations.post(
    "/orientations/demandes",
    summary="Demander à France Travail d'orienter une personne (délai légal dépassé ; "
    "idempotente par clé)",
    response_model=OrientationRequestReceipt,
)
async def request_orientation(body: OrientationRequestCreate, agency: Agency, key: Key) -> Response:
    return agency.request_orientation(key, body).response()


@operations.put(
    "/rendez-vous-partenaire/v1/rendez-vous/{appointment_id}",
    summary="Transmettre un rendez-vous partenaire et son statut (idempotent par clé)",
    response_model=AppointmentReceipt,
    responses={
        400: {"description": "Requête invalide (code REQUETE_INVALIDE, IDENTIFIANT_INCOHERENT)"},
        403: {"description": "Consentement de la personne absent (code CONSENTEMENT_ABSENT)"},
    },
)
async def receive_appointment(
    appointment_id: str,
    agency: Agency,
    key: Key,
    # Read as France Travail reads it (its own error codes), not by FastAPI's validation.
    body: Annotated[Any, Body()],
) -> Response:
    appointment = partner_appointment(appointment_id, body)
    return agency.receive_appointment(key, appointment).response()


@operations.post(
    "/radiations",
    summary="Proposer la radiation de la liste des demandeurs d'emploi (idempotente par clé)",
    response_model=RemovalReceipt,
)
async def propose_removal(body: RemovalProposal, agency: Agency, key: Key) -> Response:
    return agency.propose_removal(key, body).response()


@controls.post("/_individus", status_code=201, summary="Inscrire une personne (tests, démo)")
async def register_jobseeker(body: JobseekerCreate, agency: Agency) -> IndividualRead:
    return agency.register(body)


@controls.post(
    "/_employment",
    summary="Signaler une entrée en emploi (rappel signé vers Parcours)",
    description="Avec wait=true, la réponse attend la fin de la livraison du rappel.",
)
async def report_employment(
    body: EmploymentReport, agency: Agency, wait: bool = False
) -> EmploymentSent:
    return await agency.report_employment(body, wait=wait)


@controls.post(
    "/_orientations/{reference}/decide",
    summary="Décider une demande d'orientation (rappel signé vers Parcours)",
    description="Sans corps : parcours professionnel, vers l'agence de la personne.",
)
async def decide_orientation(
    reference: str,
    agency: Agency,
    body: OrientationDecisionCreate | None = None,
    wait: bool = False,
) -> OrientationDecisionSent:
    return await agency.decide_orientation(reference, body, wait=wait)


@controls.get("/_state", summary="Ce que France Travail détient")
async def read_state(agency: Agency) -> dict[str, Any]:
    return agency.state()


add_training_routes(operations, controls, funding_desk)

router = APIRouter()
router.include_router(operations)
router.include_router(controls)
