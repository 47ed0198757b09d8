"""The carnet de bord's vocabulary and the shapes it is read and written in.

One file per person, shared by everyone who follows them, so the person never gives the
same information twice: each fact says where it comes from and when.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from parcours.core.schemas import PersonRef
from parcours.journey.schemas import BeneficiaryRead, HandoverRead, JourneyRead
from parcours.sms.schemas import FrenchPhone


class Theme(StrEnum):
    HOUSING = "housing"
    MOBILITY = "mobility"
    HEALTH = "health"
    CHILDCARE = "childcare"
    TRAINING = "training"
    FRENCH_LANGUAGE = "french_language"
    DIGITAL = "digital"
    ADMIN_FINANCE = "admin_finance"
    EMPLOYMENT = "employment"


THEME_LABELS = {
    Theme.HOUSING: "Logement",
    Theme.MOBILITY: "Mobilité",
    Theme.HEALTH: "Santé",
    Theme.CHILDCARE: "Garde d'enfants et contraintes familiales",
    Theme.TRAINING: "Formation et qualification",
    Theme.FRENCH_LANGUAGE: "Maîtrise du français",
    Theme.DIGITAL: "Numérique",
    Theme.ADMIN_FINANCE: "Difficultés administratives et financières",
    Theme.EMPLOYMENT: "Emploi",
}


class Source(StrEnum):
    PROFESSIONAL = "professional"
    BENEFICIARY = "beneficiary"
    CAF = "caf"
    FRANCE_TRAVAIL = "france_travail"


SOURCE_LABELS = {
    Source.PROFESSIONAL: "Saisi par un professionnel",
    Source.BENEFICIARY: "Déclaré par la personne",
    Source.CAF: "Transmis par la CAF",
    Source.FRANCE_TRAVAIL: "Transmis par France Travail",
}


class PlanStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    ABANDONED = "abandoned"


PLAN_STATUS_LABELS = {
    PlanStatus.PLANNED: "Prévue",
    PlanStatus.IN_PROGRESS: "En cours",
    PlanStatus.DONE: "Réalisée",
    PlanStatus.ABANDONED: "Abandonnée",
}


class AppointmentStatus(StrEnum):
    PLANNED = "planned"
    DONE = "done"
    MISSED = "missed"
    CANCELLED = "cancelled"


APPOINTMENT_STATUS_LABELS = {
    AppointmentStatus.PLANNED: "Prévu",
    AppointmentStatus.DONE: "Honoré",
    AppointmentStatus.MISSED: "Non honoré",
    AppointmentStatus.CANCELLED: "Annulé",
}


class ContractKind(StrEnum):
    CER = "cer"
    PPAE = "ppae"


CONTRACT_KIND_LABELS = {
    ContractKind.CER: "Contrat d'engagement réciproque (CER)",
    ContractKind.PPAE: "Projet personnalisé d'accès à l'emploi (PPAE)",
}


class Partner(StrEnum):
    CAF = "caf"
    FRANCE_TRAVAIL = "france_travail"
    REGION = "region"
    STRUCTURES = "structures"


PARTNER_LABELS = {
    Partner.CAF: "la CAF",
    Partner.FRANCE_TRAVAIL: "France Travail",
    Partner.REGION: "la Région (financement des formations)",
    Partner.STRUCTURES: "les structures vers lesquelles je suis orienté·e",
}

# Each partner as the professionals' pages name it (the carnet's header, its history).
PARTNER_TITLES = {
    Partner.CAF: "CAF",
    Partner.FRANCE_TRAVAIL: "France Travail",
    Partner.STRUCTURES: "Structures",
    Partner.REGION: "Région",
}


class ConsentMethod(StrEnum):
    """How a consent was given or withdrawn (its « mode de recueil »)."""

    SELF_SERVICE = "self_service"
    IN_PERSON = "in_person"
    PAPER = "paper"


CONSENT_METHOD_LABELS = {
    ConsentMethod.SELF_SERVICE: "par la personne dans son espace",
    ConsentMethod.IN_PERSON: "recueilli en entretien",
    ConsentMethod.PAPER: "sur papier signé",
}
# A consent recorded before Parcours kept how.
UNKNOWN_METHOD_LABEL = "mode de recueil non renseigné"


class ConsentState(StrEnum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"
    NOT_ASKED = "not_asked"


CONSENT_STATE_LABELS = {
    ConsentState.GIVEN: "donné",
    ConsentState.WITHDRAWN: "retiré",
    ConsentState.NOT_ASKED: "pas encore demandé",
}

DOCUMENT_TYPES = {
    "application/pdf": b"%PDF-",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}

# What each change of the carnet is called in its timeline and in the access log.
CHANGE_LABELS = {
    "carnet.fact": "Situation complétée",
    "carnet.diagnosis": "Diagnostic enregistré",
    "carnet.project": "Projet professionnel mis à jour",
    "carnet.contract": "Contrat d'engagement enregistré",
    "carnet.plan_action": "Plan d'action complété",
    "carnet.plan_status": "Action du plan mise à jour",
    "carnet.note": "Note ajoutée",
    "carnet.appointment": "Rendez-vous ajouté",
    "carnet.appointment_status": "Rendez-vous mis à jour",
    "carnet.document": "Document ajouté",
    "carnet.contact": "Coordonnées corrigées",
    "carnet.consent": "Consentement au partage modifié",
    "carnet.follow_up_wish": "Choix du suivi dans l'emploi",
    "carnet.export": "Données téléchargées par la personne",
    "carnet.erasure_request": "Demande d'effacement",
    "carnet.erasure": "Données effacées",
}

CONSENT_CHANGE_PREFIX = "carnet.consent."


def consent_change(partner: Partner, granted: bool, method: ConsentMethod) -> str:
    """How a consent's change is named in the access log (and so in the carnet's history):
    ``carnet.consent.<partner>.<given|withdrawn>.<method>``."""
    state = ConsentState.GIVEN if granted else ConsentState.WITHDRAWN
    return f"{CONSENT_CHANGE_PREFIX}{partner.value}.{state.value}.{method.value}"


def change_label(what: str) -> str:
    """A carnet change as its history says it, in French."""
    if what.startswith(CONSENT_CHANGE_PREFIX):
        parts = what.removeprefix(CONSENT_CHANGE_PREFIX).split(".")
        try:
            partner, state = Partner(parts[0]), ConsentState(parts[1])
            method = ConsentMethod(parts[2])
        except (IndexError, ValueError):
            return CHANGE_LABELS["carnet.consent"]
        return (
            f"Consentement {CONSENT_STATE_LABELS[state]} — {PARTNER_TITLES[partner]} "
            f"({CONSENT_METHOD_LABELS[method]})"
        )
    return CHANGE_LABELS.get(what, what)


class Form(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


class FactCreate(Form):
    theme: Theme
    label: str = Field(min_length=1, max_length=200)
    value: str = Field(min_length=1, max_length=2000)


class DiagnosisCreate(Form):
    summary: str = Field(min_length=1, max_length=5000)
    strengths: str | None = Field(default=None, max_length=2000)
    obstacles: list[Theme] = Field(default_factory=list)


class ProjectUpdate(Form):
    rome_code: str = Field(pattern=r"^[A-N]\d{4}$", description="Code ROME, par exemple K2204")
    label: str = Field(min_length=1, max_length=200)


class ContractCreate(Form):
    kind: ContractKind
    signed_on: date
    ends_on: date | None = None
    weekly_hours: int | None = Field(default=None, ge=0, le=60)


class PlanActionCreate(Form):
    theme: Theme
    objective: str = Field(min_length=1, max_length=300)
    action: str = Field(min_length=1, max_length=300)
    weekly_hours: int | None = Field(default=None, ge=0, le=60)


class PlanActionUpdate(Form):
    status: PlanStatus


class NoteCreate(Form):
    body: str = Field(min_length=1, max_length=5000)


class AppointmentCreate(Form):
    starts_at: datetime
    place: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=200)


class AppointmentUpdate(Form):
    status: AppointmentStatus


class ContactUpdate(Form):
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # A French number (fixed or mobile, overseas included), kept E.164: SMS go to it.
    phone: FrenchPhone | None = None
    address: str | None = Field(default=None, max_length=300)
    postal_code: str | None = Field(default=None, pattern=r"^\d{5}$")
    city: str | None = Field(default=None, max_length=100)


class ConsentUpdate(Form):
    """The person's choice from her own space (given or withdrawn)."""

    partner: Partner
    granted: bool


class ConsentRecord(Form):
    """A consent the référent collected: in an interview, or on a signed paper form (then
    attached to the carnet's documents)."""

    partner: Partner
    granted: bool = True
    method: ConsentMethod


class DocumentUpload(BaseModel):
    """A file as it was uploaded, before the carnet checks it."""

    filename: str
    content_type: str
    data: bytes


class FollowUpWish(Form):
    wish: bool


class FactRead(BaseModel):
    id: str
    theme: Theme
    theme_label: str
    label: str
    value: str
    source: Source
    source_label: str
    recorded_at: datetime
    recorded_by: PersonRef | None


class DiagnosisRead(BaseModel):
    summary: str
    strengths: str | None
    obstacles: list[Theme]
    obstacle_labels: list[str]
    recorded_at: datetime
    recorded_by: PersonRef | None


class ProjectRead(BaseModel):
    rome_code: str
    label: str
    updated_at: datetime


class ContractRead(BaseModel):
    id: str
    kind: ContractKind
    kind_label: str
    signed_on: date
    ends_on: date | None
    weekly_hours: int | None


class PlanActionRead(BaseModel):
    id: str
    theme: Theme
    theme_label: str
    objective: str
    action: str
    status: PlanStatus
    status_label: str
    weekly_hours: int | None
    updated_at: datetime


class NoteRead(BaseModel):
    id: str
    body: str
    author: PersonRef | None
    created_at: datetime


class AppointmentRead(BaseModel):
    """An appointment in the carnet: noted by hand (``mode`` ``noted``, the four statuses of
    ``AppointmentStatus``) or an invitation or convocation (its status from its workflow)."""

    id: str
    starts_at: datetime | None
    place: str | None
    purpose: str | None
    status: str
    status_label: str
    mode: str = "noted"
    # The person's booking link (her own space only).
    link: str | None = None


class DocumentRead(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    uploaded_at: datetime
    uploaded_by: PersonRef | None


class ConsentRead(BaseModel):
    partner: Partner
    # As the person reads it (« la Région (financement des formations) »).
    partner_label: str
    # As the professionals' pages name it (« Région »).
    partner_title: str
    granted: bool
    state: ConsentState
    state_label: str
    changed_at: datetime | None
    method: ConsentMethod | None = None
    # « recueilli en entretien », « sur papier signé »… (None: not asked yet).
    method_label: str | None = None
    by: PersonRef | None = None
    # The signed form, on paper.
    document_id: str | None = None


class CarnetTimelineEntry(BaseModel):
    at: datetime
    label: str
    # "journey" (the current one), "earlier_journey", "carnet" or "management"
    origin: str
    by: PersonRef | None
    detail: dict[str, Any] = Field(default_factory=dict)


class CarnetRead(BaseModel):
    beneficiary: BeneficiaryRead
    journey: JourneyRead
    referent: PersonRef | None
    structure: PersonRef | None
    can_write: bool
    # Set when the reader is of the journey's former follow-up group, reading it after its
    # hand-off to another département (read only, for a while).
    handed_off: HandoverRead | None = None
    facts: list[FactRead]
    diagnosis: DiagnosisRead | None
    project: ProjectRead | None
    contract: ContractRead | None
    plan: list[PlanActionRead]
    plan_weekly_hours: int
    notes: list[NoteRead]
    appointments: list[AppointmentRead]
    documents: list[DocumentRead]
    consents: list[ConsentRead]
    follow_up_wish: bool | None
    timeline: list[CarnetTimelineEntry]


class PendingErasure(BaseModel):
    """A person's erasure request waiting for an administrator of their département."""

    request_id: str
    beneficiary_id: str
    full_name: str
    territory: str
    step_label: str
    requested_at: datetime
