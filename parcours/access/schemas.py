"""What the administration console reads and writes (API and pages alike): structures, agents
and their invitations, API tokens; with the French labels of structure kinds, staff roles and
partners."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class AgentInvite(Form):
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    full_name: str = Field(min_length=2, max_length=200)
    role: Role
    structure_id: str = Field(min_length=1, max_length=36)

    @field_validator("role")
    @classmethod
    def _staff(cls, role: Role) -> Role:
        if role is Role.BENEFICIARY:
            raise ValueError("le compte d'une personne accompagnée se crée depuis son carnet")
        return role


class AgentUpdate(Form):
    full_name: str | None = Field(default=None, min_length=2, max_length=200)
    role: Role | None = None
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
