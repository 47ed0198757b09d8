"""What the administration console reads and writes (API and pages alike): structures, agents
and their invitations, API tokens; with the French labels of structure kinds, staff roles and
partners."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from parcours.access.rules import ROLE_LABELS, Role
from parcours.core.schemas import PersonRef

STRUCTURE_KINDS = {
    "departement": "Département",
    "france_travail": "Agence France Travail",
    "ccas": "CCAS / CIAS",
    "association": "Association",
    "plie": "PLIE",
    "mission_locale": "Mission locale",
    "cap_emploi": "Cap emploi",
    "region": "Région (financeur de formations)",
    "autre": "Autre",
}
# The roles an administrator gives an agent (a person's own account is made from the carnet).
STAFF_ROLES = {role: label for role, label in ROLE_LABELS.items() if role is not Role.BENEFICIARY}
# Partners that can hold an API token for their callbacks.
TOKEN_PARTNERS = {
    "caf": "CAF",
    "france_travail": "France Travail",
    "region": "Région",
    "structures": "Structures (orientations)",
}
StructureKind = Literal[
    "departement",
    "france_travail",
    "ccas",
    "association",
    "plie",
    "mission_locale",
    "cap_emploi",
    "region",
    "autre",
]
TokenPartner = Literal["caf", "france_travail", "region", "structures"]


EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class Form(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


class StructureCreate(Form):
    name: str = Field(min_length=2, max_length=200)
    kind: StructureKind


class StructureUpdate(Form):
    name: str | None = Field(default=None, min_length=2, max_length=200)
    kind: StructureKind | None = None


class StructureRead(BaseModel):
    id: str
    name: str
    kind: str
    kind_label: str
    territory: str
    active: bool
    agents: int = 0
    source: str | None = None


class StructureImportReport(BaseModel):
    """A data·inclusion file of structures, imported into the département's structures."""

    created: int = 0
    updated: int = 0
    # Row (its line or index in the file) → why it was not imported, in French.
    skipped: dict[str, str] = Field(default_factory=dict)


# An agent's role: any but a person's (described so to API clients, checked below in French).
StaffRole = Annotated[
    Role,
    WithJsonSchema(
        {"type": "string", "enum": [r.value for r in Role if r is not Role.BENEFICIARY]}
    ),
]


class AgentInvite(Form):
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    full_name: str = Field(min_length=2, max_length=200)
    role: StaffRole
    structure_id: str = Field(min_length=1, max_length=36)

    @field_validator("role")
    @classmethod
    def _staff(cls, role: Role) -> Role:
        if role is Role.BENEFICIARY:
            raise ValueError("le compte d'une personne accompagnée se crée depuis son carnet")
        return role


class AgentUpdate(Form):
    full_name: str | None = Field(default=None, min_length=2, max_length=200)
    role: StaffRole | None = None
    structure_id: str | None = Field(default=None, min_length=1, max_length=36)

    @field_validator("role")
    @classmethod
    def _staff(cls, role: Role | None) -> Role | None:
        if role is Role.BENEFICIARY:
            raise ValueError("le compte d'une personne accompagnée se crée depuis son carnet")
        return role


class AgentRead(BaseModel):
    id: str
    email: str
    full_name: str
    role: Role
    role_label: str
    structure: PersonRef | None
    territory: str
    active: bool
    # Invited, the link not used yet (no password chosen).
    invited: bool
    created_at: datetime


class AgentInvited(BaseModel):
    agent: AgentRead
    # The one-time link (72 h), sent by e-mail; shown to the administrator too.
    link: str
    expires_at: datetime


class AgentDeactivated(BaseModel):
    agent: AgentRead
    sessions_ended: int
    tokens_revoked: int
    # The journeys the agent followed, to give to someone else.
    journeys_to_reassign: list[PersonRef]


class TokenCreate(Form):
    label: str = Field(min_length=2, max_length=100)
    # A partner's token (its callbacks), or an agent's (acting with their role and territory).
    partner: TokenPartner | None = None
    agent_id: str | None = Field(default=None, min_length=1, max_length=36)
    expires_on: date | None = None


class TokenRead(BaseModel):
    id: str
    label: str
    scope: str  # French: "Partenaire : Région" or "Agent : Nadia Benali (Référent·e, 73)"
    partner: str | None
    agent: PersonRef | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    active: bool


class TokenCreated(BaseModel):
    token: TokenRead
    # Shown once: only its hash is kept.
    secret: str


# --- The access log, as the département's administrator or DPO searches it ---

ACCESS_ACTIONS = {
    "read": "Lecture",
    "update": "Modification",
    "invite": "Invitation",
}
# What was read or changed, in French (an unknown code shows as it is written).
ACCESS_WHAT = {
    "carnet": "Carnet de bord",
    "carnet.access_log": "Historique des accès du carnet",
    "carnet.appointment": "Rendez-vous",
    "carnet.appointment_status": "Suite d'un rendez-vous",
    "carnet.consent": "Consentement",
    "carnet.contact": "Coordonnées",
    "carnet.contract": "Contrat d'engagement",
    "carnet.diagnosis": "Diagnostic",
    "carnet.document": "Document",
    "carnet.erasure": "Effacement des données",
    "carnet.erasure_request": "Demande d'effacement",
    "carnet.export": "Export des données (droit d'accès)",
    "carnet.fact": "Situation",
    "carnet.follow_up_wish": "Souhait de suivi en emploi",
    "carnet.note": "Note",
    "carnet.plan_action": "Action du plan",
    "carnet.plan_status": "Suivi d'une action du plan",
    "carnet.project": "Projet professionnel",
    "account.invitation": "Accès de la personne à son espace",
    "journey": "Parcours",
    "journey.enrol": "Inscription",
    "journey.reopen": "Nouveau parcours",
    "journey.ask_decision": "Demande de décision d'orientation",
    "journey.story": "Histoire du parcours",
    "management.interventions": "Interventions des responsables",
    "plan": "Plan d'action",
    "service_orientations": "Orientations vers un service",
    "training_request": "Demande de formation",
    "training_requests": "Demandes de formation",
    "training_request.create": "Demande de formation (création)",
    "training_request.answer": "Demande de formation (réponse)",
    "training_request.end": "Demande de formation (fin)",
    "partner.training_decision": "Décision d'un financeur",
    "access_log.search": "Recherche dans le journal des accès",
    "access_log.export": "Export du journal des accès",
}


def what_label(code: str) -> str:
    if code in ACCESS_WHAT:
        return ACCESS_WHAT[code]
    # A known code with details after it (``carnet.consent.caf.given.space``).
    known = max((k for k in ACCESS_WHAT if code.startswith(k + ".")), key=len, default=None)
    if known is not None:
        return f"{ACCESS_WHAT[known]} ({code.removeprefix(known + '.').replace('.', ', ')})"
    if code.startswith("admin."):
        return f"Administration : {code.removeprefix('admin.').replace('_', ' ')}"
    return code


AccessAction = Literal["read", "update", "invite"]


class AccessLogFilter(BaseModel):
    """Whose carnet (``beneficiary_id``, or ``person``: a name or part of it), which agent,
    which days (Paris time, both included), which action."""

    model_config = ConfigDict(str_strip_whitespace=True)

    person: str | None = Field(default=None, max_length=200)
    beneficiary_id: str | None = Field(default=None, max_length=36)
    agent_id: str | None = Field(default=None, max_length=36)
    du: date | None = None
    au: date | None = None
    action: AccessAction | None = None


class AccessLogLine(BaseModel):
    at: datetime
    agent: PersonRef | None
    role: str | None
    role_label: str | None
    structure: PersonRef | None
    person: PersonRef | None
    action: str
    action_label: str
    what: str
    what_label: str


class AccessLogPage(BaseModel):
    du: date
    au: date
    # The people the ``person`` text matched (at most 50): the lines are theirs.
    matches: list[PersonRef]
    total: int
    limit: int
    offset: int
    items: list[AccessLogLine]


class UnusualReaderRead(BaseModel):
    """An agent who read more carnets outside her follow-up list in a day than the setting."""

    agent: PersonRef
    day: date
    outside: int
