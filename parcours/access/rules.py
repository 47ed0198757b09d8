"""Who may see and do what: roles and the carnet's follow-up group (pure rules).

A carnet is visible to its follow-up group only: the référent and their structure (read and
write), the département's chargé·e d'orientation and managers (read), and the person
themself. Anyone else gets "introuvable" (404), never a hint that the person exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from parcours.core.errors import Forbidden, NotFound

if TYPE_CHECKING:  # rows are read by attribute only: these rules stay pure
    from parcours.access.models import User
    from parcours.journey.models import JourneyRecord


class Role(StrEnum):
    REFERENT = "referent"
    ORIENTATION = "orientation"
    FUNDER = "funder"
    MANAGER = "manager"
    BENEFICIARY = "beneficiary"
    ADMIN = "admin"


ROLE_LABELS = {
    Role.REFERENT: "Référent·e",
    Role.ORIENTATION: "Chargé·e d'orientation",
    Role.FUNDER: "Financeur",
    Role.MANAGER: "Responsable de territoire",
    Role.BENEFICIARY: "Personne accompagnée",
    Role.ADMIN: "Administrateur·rice",
}

# Which roles may run each journey action (on a journey they can see).
ACTION_ROLES: dict[str, frozenset[Role]] = {
    "begin_diagnosis": frozenset({Role.REFERENT, Role.ORIENTATION}),
    "complete_diagnosis": frozenset({Role.REFERENT, Role.ORIENTATION}),
    "decide_orientation": frozenset({Role.ORIENTATION}),
    "sign_contract": frozenset({Role.REFERENT}),
    "record_employment": frozenset({Role.REFERENT}),
    "set_follow_up_consent": frozenset({Role.REFERENT, Role.BENEFICIARY}),
    "record_check_in": frozenset({Role.REFERENT}),
    "report_job_loss": frozenset({Role.REFERENT}),
    "pause": frozenset({Role.REFERENT, Role.MANAGER}),
    "resume": frozenset({Role.REFERENT, Role.MANAGER}),
    "reassign_referent": frozenset({Role.ORIENTATION, Role.MANAGER}),
    "hand_off": frozenset({Role.ORIENTATION, Role.MANAGER}),
    "close": frozenset({Role.REFERENT, Role.MANAGER}),
    "request_training": frozenset({Role.REFERENT}),
    "orient_to_service": frozenset({Role.REFERENT, Role.ORIENTATION}),
}
ENROLLING_ROLES = frozenset({Role.REFERENT, Role.ORIENTATION})


@dataclass(frozen=True)
class Principal:
    """The signed-in user, as access rules need them."""

    id: str
    role: Role
    full_name: str
    territory: str
    structure_id: str | None = None
    beneficiary_id: str | None = None

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(
            id=user.id,
            role=Role(user.role),
            full_name=user.full_name,
            territory=user.territory,
            structure_id=user.structure_id,
            beneficiary_id=user.beneficiary_id,
        )

    @property
    def is_professional(self) -> bool:
        return self.role in (Role.REFERENT, Role.ORIENTATION, Role.MANAGER)


def can_read(p: Principal, journey: JourneyRecord) -> bool:
    match p.role:
        case Role.REFERENT:
            return journey.referent_id == p.id or (
                p.structure_id is not None and journey.structure_id == p.structure_id
            )
        case Role.ORIENTATION | Role.MANAGER:
            return journey.territory == p.territory
        case Role.BENEFICIARY:
            return journey.beneficiary_id == p.beneficiary_id
    return False


def can_write_carnet(p: Principal, journey: JourneyRecord) -> bool:
    """Référents of the follow-up group write the carnet; the others (chargé·e d'orientation,
    manager, the person) read it."""
    return p.role is Role.REFERENT and can_read(p, journey)


def ensure_read(p: Principal, journey: JourneyRecord | None) -> JourneyRecord:
    if journey is None or not can_read(p, journey):
        raise NotFound("Personne introuvable.")
    return journey


def ensure_write(p: Principal, journey: JourneyRecord | None) -> JourneyRecord:
    journey = ensure_read(p, journey)
    if not can_write_carnet(p, journey):
        raise Forbidden("Votre rôle vous permet de lire ce carnet, pas de le modifier.")
    return journey


def ensure_action(p: Principal, journey: JourneyRecord | None, action: str) -> JourneyRecord:
    journey = ensure_read(p, journey)
    if p.role not in ACTION_ROLES[action]:
        raise Forbidden("Votre rôle ne permet pas cette action sur le parcours.")
    return journey


def allowed_actions(p: Principal, names: list[str]) -> list[str]:
    return [n for n in names if p.role in ACTION_ROLES[n]]
