"""What the journey is read and written as (``XCreate`` / ``XRead``), in the API and the pages:
the person enrolled, the journey with its timeline and the actions it allows now, a list of
journeys and its filter, and the French labels of the journey's vocabulary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from stdnum.exceptions import ValidationError as NirError
from stdnum.fr import nir as nir_number

from parcours.access.rules import Principal
from parcours.core.schemas import TERRITORY_PATTERN, PersonRef, person_name
from parcours.journey.messages import (
    EmploymentContract,
    ExitReason,
    JourneyState,
    OrientationKind,
    RsaStatus,
    Step,
    journey_workflow_id,
)
from parcours.sms.schemas import FrenchPhone


class BeneficiaryCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    birth_date: date
    nir: str | None = Field(default=None, description="Numéro de sécurité sociale (15 chiffres)")
    caf_number: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # A French number (fixed or mobile, overseas included), kept E.164: SMS go to it.
    phone: FrenchPhone | None = None
    address: str | None = Field(default=None, max_length=300)
    postal_code: str | None = Field(default=None, pattern=r"^\d{5}$")
    city: str | None = Field(default=None, max_length=100)
    territory: str = Field(pattern=TERRITORY_PATTERN, description="Code du département")
    rsa_opened_on: date | None = None
    referent_id: str | None = None
    structure_id: str | None = None

    @field_validator("nir")
    @classmethod
    def _valid_nir(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return nir_number.validate(value)
        except NirError as error:
            raise ValueError("numéro de sécurité sociale invalide") from error

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth(cls, value: date) -> date:
        if not date(1900, 1, 1) <= value <= date.today():
            raise ValueError("date de naissance invraisemblable")
        return value


class BeneficiaryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    first_name: str
    last_name: str
    birth_date: date
    nir: str | None
    caf_number: str | None
    email: str | None
    phone: str | None
    address: str | None
    postal_code: str | None
    city: str | None
    territory: str
    rsa_opened_on: date | None

    @property
    def full_name(self) -> str:
        return person_name(self.first_name, self.last_name)


STEP_LABELS = {
    Step.INTAKE: "Accueil",
    Step.DIAGNOSIS: "Diagnostic",
    Step.ORIENTATION: "Orientation",
    Step.ACCOMPANIMENT: "Accompagnement",
    Step.EMPLOYMENT: "Emploi",
    Step.FOLLOW_UP: "Suivi dans l'emploi",
    Step.CLOSED: "Clôturé",
}


ORIENTATION_LABELS = {
    OrientationKind.PROFESSIONAL: "Professionnelle (France Travail)",
    OrientationKind.SOCIO_PROFESSIONAL: "Socio-professionnelle",
    OrientationKind.SOCIAL: "Sociale",
}


RSA_STATUS_LABELS = {
    RsaStatus.OPEN: "Droits ouverts",
    RsaStatus.SUSPENDED: "Droits suspendus",
    RsaStatus.CLOSED: "Droits clos",
}


CONTRACT_LABELS = {
    EmploymentContract.CDI: "CDI",
    EmploymentContract.CDD: "CDD",
    EmploymentContract.INTERIM: "Intérim",
    EmploymentContract.BUSINESS_CREATION: "Création d'entreprise",
    EmploymentContract.INCLUSION: "Insertion par l'activité économique",
    EmploymentContract.OTHER: "Autre",
}


EXIT_LABELS = {
    ExitReason.SUSTAINED_EMPLOYMENT: "Emploi durable (suivi terminé)",
    ExitReason.EMPLOYMENT: "Emploi, sans suivi",
    ExitReason.RIGHTS_CLOSED: "Fin des droits RSA",
    ExitReason.DECLINED: "Refus de l'accompagnement",
    ExitReason.MOVED_AWAY: "Départ hors du territoire",
    ExitReason.OTHER: "Autre motif",
}


# What each journey action is called on the pages (the update's name is the key).
ACTION_LABELS = {
    "begin_diagnosis": "Commencer le diagnostic",
    "complete_diagnosis": "Valider le diagnostic",
    "decide_orientation": "Décider l'orientation",
    "sign_contract": "Enregistrer le contrat d'engagement",
    "record_employment": "Enregistrer une entrée en emploi",
    "set_follow_up_consent": "Suivi dans l'emploi : choix de la personne",
    "record_check_in": "Enregistrer le point de suivi",
    "report_job_loss": "Signaler une perte d'emploi",
    "pause": "Mettre en pause",
    "resume": "Reprendre le parcours",
    "reassign_referent": "Changer de référent",
    "hand_off": "Transférer vers un autre département",
    "close": "Clôturer le parcours",
    "ask_orientation_decision": "Demander une décision d'orientation",
}

# A request to the orientation team (a ``decision_requested`` event of the timeline, sent
# with the journey's ``record_outcome`` signal), offered beside the actions.
ASK_ORIENTATION_DECISION = "ask_orientation_decision"


EVENT_LABELS = {
    "journey_started": "Entrée dans le parcours",
    "diagnosis_started": "Diagnostic commencé",
    "diagnosis_completed": "Diagnostic validé",
    "orientation_decided": "Orientation décidée",
    "contract_signed": "Contrat d'engagement signé",
    "employment_recorded": "Entrée en emploi",
    "follow_up_consent": "Choix du suivi dans l'emploi",
    "check_in_due": "Point de suivi attendu",
    "check_in_recorded": "Point de suivi enregistré",
    "job_lost": "Perte d'emploi",
    "paused": "Parcours mis en pause",
    "resumed": "Parcours repris",
    "referent_reassigned": "Changement de référent",
    "handed_off": "Transfert vers un autre département",
    "rsa_rights_changed": "Droits RSA modifiés (CAF)",
    "deadline_passed": "Délai dépassé",
    "closed": "Parcours clôturé",
    "training_requested": "Demande de formation envoyée au financeur",
    "training_more_info_requested": "Le financeur demande des informations sur la formation",
    "training_more_info_answered": "Informations envoyées au financeur de la formation",
    "training_approved": "Formation accordée par le financeur",
    "training_refused": "Formation refusée par le financeur",
    "training_request_stalled": "Demande de formation sans réponse dans le délai : relance",
    "training_request_failed": "Demande de formation non transmise au financeur",
    "training_started": "Entrée en formation",
    "training_ended": "Fin de la formation",
    "oriented_to_service": "Orientation vers un service",
    "service_orientation_sent": "Orientation reçue par la structure",
    "service_orientation_reminded": "Structure relancée (orientation sans réponse)",
    "service_orientation_accepted": "Orientation acceptée par la structure",
    "service_orientation_refused": "Orientation refusée par la structure",
    "service_orientation_expired": "Orientation expirée sans réponse de la structure",
    "service_orientation_failed": "Orientation non transmise à la structure",
    "france_travail_notified": "Orientation transmise à France Travail",
    "france_travail_not_notified": "Orientation non transmise à France Travail",
    "decision_requested": "Décision d'orientation demandée",
    "appointment_planned": "Invitation ou convocation à un rendez-vous",
    "appointment_booked": "Rendez-vous pris par la personne",
    "appointment_moved": "Rendez-vous déplacé par la personne",
    "appointment_cancelled": "Rendez-vous annulé",
    "appointment_invitation_expired": "Invitation expirée sans rendez-vous pris",
    "appointment_attendance_due": "Présence au rendez-vous à enregistrer",
    "appointment_attended": "Présente au rendez-vous",
    "appointment_absent_unexcused": "Absente au rendez-vous, sans excuse",
    "appointment_absent_excused": "Absente au rendez-vous, excusée",
    "orientation_appointment_held": "Rendez-vous d'orientation tenu : orientation à décider",
    "duties_changed": "Soumission aux droits et devoirs modifiée (CAF)",
    "transferred_in": "Dossier RSA transféré depuis un autre département (CAF)",
    "france_travail_orientation_requested": (
        "Délai légal d'orientation dépassé : France Travail oriente"
    ),
    "france_travail_orientation_sent": "Demande d'orientation reçue par France Travail",
    "france_travail_orientation_not_sent": "Demande d'orientation non transmise à France Travail",
    "reorientation_requested": "Réorientation demandée",
    "reorientation_accepted": "Réorientation acceptée",
    "reorientation_refused": "Réorientation refusée",
    "social_review_due": "Revue du parcours social à faire",
    "social_review_concluded": "Revue du parcours social conclue",
    "sanction_opened": "Procédure de suspension-remobilisation ouverte (courrier envoyé)",
    "sanction_notified": "Réception du courrier datée : le délai pour répondre court",
    "sanction_observations_received": "Observations de la personne reçues",
    "sanction_hearing_requested": "Audition demandée par la personne",
    "sanction_hearing_held": "Audition de la personne tenue",
    "sanction_team_consulted": "Avis de l'équipe pluridisciplinaire rendu",
    "sanction_decided": "Décision du président sur la procédure",
    "sanction_sent_to_caf": "Décision transmise à la CAF",
    "sanction_lifted": "Suspension levée",
    "sanction_closed": "Procédure de suspension-remobilisation close",
    "france_travail_removal_proposed": "Radiation proposée à France Travail",
}

# Events whose label names who did them, when known.
EVENT_LABELS_BY = {
    "decision_requested": "Décision d'orientation demandée par {actor}",
    "reorientation_requested": "Réorientation demandée par {actor}",
    "reorientation_accepted": "Réorientation acceptée par {actor}",
    "reorientation_refused": "Réorientation refusée par {actor}",
}


def event_label(
    kind: str, actor: str | None = None, detail: Mapping[str, Any] | None = None
) -> str:
    """An event of the timeline in French (with who did it, for those that name them)."""
    detail = detail or {}
    if kind == "orientation_decided" and detail.get("decided_by") == "france_travail":
        return "Orientation décidée par France Travail (délai légal dépassé)"
    if kind == "duties_changed":
        if detail.get("subject_to_duties"):
            return "Soumise aux droits et devoirs (CAF) : le délai légal d'orientation court"
        return "Plus soumise aux droits et devoirs (CAF) : pas de délai légal d'orientation"
    if kind == "rsa_rights_changed" and detail.get("missing_quarterly_declaration"):
        return "Droit RSA clos par la CAF : déclaration trimestrielle manquante"
    if actor and kind in EVENT_LABELS_BY:
        return EVENT_LABELS_BY[kind].format(actor=actor)
    return EVENT_LABELS.get(kind, kind)


class ActionRead(BaseModel):
    name: str
    label: str


class JourneyRead(BaseModel):
    beneficiary_id: str
    # The journey's own id: a person may have had several journeys (the first has their id).
    journey_id: str
    workflow_id: str
    step: Step
    step_label: str
    step_since: datetime
    deadline: datetime | None
    stalled: bool
    paused: bool
    territory: str
    referent_id: str | None
    structure_id: str | None
    orientation: OrientationKind | None
    orientation_label: str | None
    rsa_status: RsaStatus
    rsa_status_label: str
    check_in_due: int | None
    exit_reason: ExitReason | None
    exit_reason_label: str | None
    # The département's coded exit (its label: ``parcours.exits``).
    exit_code: str | None = None
    available_actions: list[ActionRead]
    seq: int

    @classmethod
    def build(cls, state: JourneyState, available: list[str]) -> JourneyRead:
        return cls(
            beneficiary_id=state.beneficiary_id,
            journey_id=state.id,
            workflow_id=journey_workflow_id(state.id),
            step=state.step,
            step_label=STEP_LABELS[state.step],
            step_since=state.step_since,
            deadline=state.deadline,
            stalled=state.stalled,
            paused=state.paused,
            territory=state.territory,
            referent_id=state.referent_id,
            structure_id=state.structure_id,
            orientation=state.orientation,
            orientation_label=ORIENTATION_LABELS[state.orientation] if state.orientation else None,
            rsa_status=state.rsa_status,
            rsa_status_label=RSA_STATUS_LABELS[state.rsa_status],
            check_in_due=state.check_in_due,
            exit_reason=state.exit_reason,
            exit_reason_label=EXIT_LABELS[state.exit_reason] if state.exit_reason else None,
            exit_code=state.exit_code,
            available_actions=[ActionRead(name=n, label=ACTION_LABELS[n]) for n in available],
            seq=state.seq,
        )


class TimelineEntry(BaseModel):
    seq: int
    kind: str
    label: str
    step: Step
    step_label: str
    occurred_at: datetime
    actor: PersonRef | None
    detail: dict[str, Any]


class StepDuration(BaseModel):
    step: Step
    step_label: str
    days: float


class HandoverRead(BaseModel):
    """A journey handed off to another département, as its former follow-up group reads it:
    where it went, when, and until when they may read it (never change it)."""

    to_territory: str
    to_territory_name: str | None
    handed_off_at: datetime
    readable_until: datetime


class NextMove(BaseModel):
    """Something the reader can do now, and what follows from it."""

    action: str
    label: str
    explanation: str
    # Not what moves the journey forward (pause, close, hand-off…): drawn less prominently.
    secondary: bool = False


class NextSteps(BaseModel):
    """« Et maintenant ? »: where the journey stands, what the reader can do now, who else
    acts and by when, and what the reader can do meanwhile (``parcours.journey.next_steps``)."""

    situation: str
    yours: list[NextMove] = Field(default_factory=list)
    others: list[str] = Field(default_factory=list)
    meanwhile: str | None = None
    # A request for an orientation decision during this stay in the step: when, by whom.
    request: str | None = None
    requested_at: datetime | None = None


class LegalOrientationRead(BaseModel):
    """The legal orientation delay (art. D.262-65-2 CASF) as the journey's page shows it."""

    due_on: date
    subject_to_duties: bool
    oriented: bool
    # The delay passed without a decision: France Travail orients (asked on that due date).
    france_travail_asked: bool
    oriented_by_france_travail: bool

    @property
    def passed(self) -> bool:
        return self.france_travail_asked


class JourneyDetail(BaseModel):
    journey: JourneyRead
    beneficiary: BeneficiaryRead
    referent: PersonRef | None
    structure: PersonRef | None
    timeline: list[TimelineEntry]
    time_in_steps: list[StepDuration]
    # Set when the reader is of the journey's former follow-up group, reading it after its
    # hand-off to another département (read only, for a while).
    handed_off: HandoverRead | None = None
    # What comes next, for the reader (None when read by the platform itself).
    next_steps: NextSteps | None = None
    # The legal orientation due date, and whether France Travail orients (None: no clock).
    legal_orientation: LegalOrientationRead | None = None


class JourneySummary(BaseModel):
    beneficiary_id: str
    full_name: str
    # Tells two people of the same name apart on the list (not their step).
    birth_date: date
    step: Step
    step_label: str
    deadline: datetime | None
    stalled: bool
    paused: bool
    territory: str
    referent_id: str | None


class JourneyPage(BaseModel):
    items: list[JourneySummary]
    total: int
    limit: int
    offset: int


class EnrolmentRead(BaseModel):
    beneficiary: BeneficiaryRead
    journey: JourneyRead


@dataclass(frozen=True)
class JourneyFilter:
    territory: str | None = None
    step: str | None = None
    referent_id: str | None = None
    stalled: bool | None = None
    # Deadline on or before this moment (with ``stalled=False``: due soon, not yet late).
    due_before: datetime | None = None
    search: str | None = None
    # Who is asking: only the journeys they may see (``visible_journeys``).
    viewer: Principal | None = None
