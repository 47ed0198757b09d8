"""Who may see and do what: roles and the carnet's follow-up group (pure rules).

A carnet is visible to its follow-up group only: the référent and their structure (read and
write), the département's chargé·e d'orientation and managers (read), and the person
themself. Anyone else gets "introuvable" (404), never a hint that the person exists.

When a journey is handed off to another département, its former follow-up group (the
référent who followed it, the référents of the structure that followed it) may still read it,
and only read it, until the hand-off's ``readable_until``: a write is refused (403) with the
reason; afterwards they get "introuvable" like anyone else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from parcours.core.errors import Forbidden, NotFound

if TYPE_CHECKING:  # rows are read by attribute only: these rules stay pure
    from parcours.access.models import User
    from parcours.journey.models import JourneyHandover, JourneyRecord

PARIS = ZoneInfo("Europe/Paris")


class Role(StrEnum):
    REFERENT = "referent"
    ORIENTATION = "orientation"
    FUNDER = "funder"
    MANAGER = "manager"
    BENEFICIARY = "beneficiary"
    ADMIN = "admin"
    # Délégué·e à la protection des données: reads the access log, never a carnet.
    DPO = "dpo"


ROLE_LABELS = {
    Role.REFERENT: "Référent·e",
    Role.ORIENTATION: "Chargé·e d'orientation",
    Role.FUNDER: "Financeur",
    Role.MANAGER: "Responsable de territoire",
    Role.BENEFICIARY: "Personne accompagnée",
    Role.ADMIN: "Administrateur·rice",
    Role.DPO: "Délégué·e à la protection des données",
}
# Who searches and exports the access log of their département.
# The département's administrator and DPO, and its managers: their digest points them to an
# agent's day in the log when she read many carnets outside her list, and the link must open.
ACCESS_LOG_ROLES = frozenset({Role.ADMIN, Role.DPO, Role.MANAGER})

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
    "plan_appointment": frozenset({Role.REFERENT, Role.ORIENTATION}),
    "request_reorientation": frozenset({Role.REFERENT, Role.BENEFICIARY}),
    "decide_reorientation": frozenset({Role.ORIENTATION}),
    "conclude_social_review": frozenset({Role.REFERENT}),
    # Suspension-remobilisation: opened by the référente (its steps: ``sanctions.service``).
    "open_sanction": frozenset({Role.REFERENT}),
    # Not an update: a request to the orientation team, by those who cannot decide.
    "ask_orientation_decision": frozenset({Role.REFERENT, Role.MANAGER}),
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


def follows(p: Principal, journey: JourneyRecord) -> bool:
    """The journey is in ``p``'s follow-up list: ``p`` is its référent, or ``p``'s structure
    follows it."""
    return journey.referent_id == p.id or (
        p.structure_id is not None and journey.structure_id == p.structure_id
    )


def can_read(p: Principal, journey: JourneyRecord) -> bool:
    match p.role:
        case Role.REFERENT:
            return follows(p, journey)
        case Role.ORIENTATION | Role.MANAGER:
            return journey.territory == p.territory
        case Role.BENEFICIARY:
            return journey.beneficiary_id == p.beneficiary_id
    return False


def can_write_carnet(p: Principal, journey: JourneyRecord) -> bool:
    """Référents of the follow-up group write the carnet; the others (chargé·e d'orientation,
    manager, the person, the former follow-up group after a hand-off) read it."""
    return p.role is Role.REFERENT and can_read(p, journey)


def reading_after_handoff(
    p: Principal,
    journey: JourneyRecord,
    handovers: Sequence[JourneyHandover],
    now: datetime | None,
) -> JourneyHandover | None:
    """The hand-off by which ``p``, of the journey's former follow-up group, still reads it
    (read only), or None: ``p`` is not of it, reads the journey anyway, or the period is over.
    The latest such hand-off when there are several."""
    if not handovers or p.role is not Role.REFERENT or can_read(p, journey):
        return None
    if now is None:
        raise ValueError("a hand-off's read period is judged at a given time")
    found = [
        h
        for h in handovers
        if h.journey_id == journey.journey_id
        and now < h.readable_until
        and (
            h.from_referent_id == p.id
            or (p.structure_id is not None and h.from_structure_id == p.structure_id)
        )
    ]
    return max(found, key=lambda h: h.seq, default=None)


def day_fr(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%d/%m/%Y")


def read_only_after_handoff(handover: JourneyHandover) -> str:
    """Why a former follow-up group may not change a journey handed off (French, for them)."""
    return (
        f"Parcours transféré au département {handover.to_territory} le "
        f"{day_fr(handover.handed_off_at)} : vous pouvez le lire jusqu'au "
        f"{day_fr(handover.readable_until)}, sans pouvoir le modifier ni agir sur le parcours."
    )


def ensure_read(
    p: Principal,
    journey: JourneyRecord | None,
    handovers: Sequence[JourneyHandover] = (),
    now: datetime | None = None,
) -> JourneyRecord:
    """The journey if ``p`` may read it (``handovers``: the journey's, judged at ``now``,
    for its former follow-up group), else "introuvable"."""
    if journey is None or not (
        can_read(p, journey) or reading_after_handoff(p, journey, handovers, now)
    ):
        raise NotFound("Personne introuvable.")
    return journey


def ensure_write(
    p: Principal,
    journey: JourneyRecord | None,
    handovers: Sequence[JourneyHandover] = (),
    now: datetime | None = None,
) -> JourneyRecord:
    journey = ensure_read(p, journey, handovers, now)
    if not can_write_carnet(p, journey):
        handover = reading_after_handoff(p, journey, handovers, now)
        if handover is not None:
            raise Forbidden(read_only_after_handoff(handover))
        raise Forbidden("Votre rôle vous permet de lire ce carnet, pas de le modifier.")
    return journey


def ensure_action(
    p: Principal,
    journey: JourneyRecord | None,
    action: str,
    handovers: Sequence[JourneyHandover] = (),
    now: datetime | None = None,
) -> JourneyRecord:
    journey = ensure_read(p, journey, handovers, now)
    handover = reading_after_handoff(p, journey, handovers, now)
    if handover is not None:
        raise Forbidden(read_only_after_handoff(handover))
    if p.role not in ACTION_ROLES[action]:
        raise Forbidden("Votre rôle ne permet pas cette action sur le parcours.")
    return journey


def allowed_actions(p: Principal, names: list[str]) -> list[str]:
    return [n for n in names if p.role in ACTION_ROLES[n]]


def ensure_access_log_reader(p: Principal) -> Principal:
    """The département's administrator, DPO or managers, else refused (403)."""
    if p.role not in ACCESS_LOG_ROLES:
        raise Forbidden(
            "Le journal des accès est réservé à l'administrateur·rice du département, à son "
            "ou sa délégué·e à la protection des données et à ses responsables."
        )
    return p


# --- Unusual access: an agent reading many carnets outside her follow-up list in a day ---


@dataclass(frozen=True)
class CarnetReading:
    """One agent read one person's carnet (at least once) on the day looked at."""

    user_id: str
    beneficiary_id: str


@dataclass(frozen=True)
class UnusualReader:
    user_id: str
    # Distinct carnets read outside the agent's follow-up list that day.
    outside: int


def unusual_readers(
    reads: Sequence[CarnetReading],
    agents: dict[str, Principal],
    journeys: dict[str, JourneyRecord],
    threshold: int,
) -> list[UnusualReader]:
    """The agents who read more than ``threshold`` distinct carnets of people outside their
    follow-up list (``follows``: neither their journeys nor their structure's), most first.
    Only professionals count (a person reads their own carnet); a carnet whose journey is
    gone (erased) counts as outside."""
    outside: dict[str, set[str]] = {}
    for read in reads:
        agent = agents.get(read.user_id)
        if agent is None or not agent.is_professional:
            continue
        journey = journeys.get(read.beneficiary_id)
        if journey is None or not follows(agent, journey):
            outside.setdefault(agent.id, set()).add(read.beneficiary_id)
    found = [UnusualReader(user_id, len(ids)) for user_id, ids in outside.items()]
    return sorted(
        (r for r in found if r.outside > threshold), key=lambda r: (-r.outside, r.user_id)
    )
