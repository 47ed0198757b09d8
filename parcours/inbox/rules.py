"""Which journey event needs whom, and what settles an item: pure rules, no I/O. The inbox's
producer (``service.InboxProducer``) applies them to every event the journeys' projection
writes; its tests and the pages share the kinds.

An item goes to an audience: the journey's référent (after the event), the chargé·es
d'orientation of the journey's département, or one agent named by the event. Nobody is told
what they did themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from parcours.core.messages import ScalarDetail
from parcours.journey.messages import JourneyEvent, JourneyState, Step

# How far ahead a deadline shows in the inbox.
DUE_SOON_DAYS = 7


class ItemKind(StrEnum):
    TRAINING_QUESTION = "training_question"
    TRAINING_DECISION = "training_decision"
    STRUCTURE_ANSWER = "structure_answer"
    ASSIGNED = "assigned"
    HANDED_OVER = "handed_over"
    DECISION_REQUESTED = "decision_requested"
    DEADLINE_SOON = "deadline_soon"
    DEADLINE_PASSED = "deadline_passed"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    LOOKUP_ANSWERED = "lookup_answered"
    CONSENT_CHANGED = "consent_changed"
    INVITATION_EXPIRED = "invitation_expired"
    ATTENDANCE_TO_RECORD = "attendance_to_record"
    QUARTERLY_DECLARATION_MISSING = "quarterly_declaration_missing"
    FRANCE_TRAVAIL_ORIENTS = "france_travail_orients"
    REORIENTATION_REQUESTED = "reorientation_requested"
    REORIENTATION_DECIDED = "reorientation_decided"
    SOCIAL_REVIEW_DUE = "social_review_due"


class Audience(StrEnum):
    REFERENT = "referent"
    ORIENTATION = "orientation"
    USER = "user"


# Items that hold while the journey stays in the step they were made in.
STEP_BOUND = frozenset(
    {
        ItemKind.HANDED_OVER,
        ItemKind.DECISION_REQUESTED,
        ItemKind.DEADLINE_SOON,
        ItemKind.DEADLINE_PASSED,
        ItemKind.FRANCE_TRAVAIL_ORIENTS,
    }
)


# Items one journey gives an agent once while open (a journey handed to her at enrolment,
# then oriented to her, is one thing to look at).
ONCE_OPEN = frozenset({ItemKind.ASSIGNED})


@dataclass(frozen=True)
class Notice:
    """An item to write for each recipient of ``audience`` (``user_id`` for ``USER``)."""

    kind: ItemKind
    audience: Audience
    user_id: str | None = None
    ref: str | None = None
    detail: dict[str, ScalarDetail] = field(default_factory=dict)


@dataclass(frozen=True)
class Settle:
    """Open items of the journey to settle: of these kinds (all when None), about ``ref``,
    of ``recipient_id``, or bound to a step other than ``step_not``."""

    kinds: frozenset[ItemKind] | None = None
    ref: str | None = None
    recipient_id: str | None = None
    step_not: str | None = None

    def matches(self, item: OpenItem) -> bool:
        """Whether this rule settles ``item`` (as SQL compares: an item without a step or a
        reference is not bound to one)."""
        return (
            (self.kinds is None or item.kind in self.kinds)
            and (self.ref is None or item.ref == self.ref)
            and (self.recipient_id is None or item.recipient_id == self.recipient_id)
            and (self.step_not is None or (item.step is not None and item.step != self.step_not))
        )


@dataclass(frozen=True)
class OpenItem:
    """What the settling rules look at in an open item of a journey."""

    id: str
    kind: str
    ref: str | None
    recipient_id: str
    step: str | None


def _text(value: ScalarDetail) -> str | None:
    return None if value in (None, "") else str(value)


def notices(event: JourneyEvent, state: JourneyState) -> list[Notice]:
    """What ``event`` (the journey being ``state`` after it) puts in someone's inbox."""
    d = event.detail
    referent_or_orientation = Audience.REFERENT if state.referent_id else Audience.ORIENTATION
    match event.kind:
        case "training_more_info_requested":
            return [
                Notice(
                    ItemKind.TRAINING_QUESTION,
                    Audience.REFERENT,
                    ref=_text(d.get("request_id")),
                    detail={"funder": d.get("funder")},
                )
            ]
        case "training_approved" | "training_refused":
            return [
                Notice(
                    ItemKind.TRAINING_DECISION,
                    Audience.REFERENT,
                    ref=_text(d.get("request_id")),
                    detail={
                        "funder": d.get("funder"),
                        "decision": event.kind.removeprefix("training_"),
                    },
                )
            ]
        case (
            "service_orientation_accepted"
            | "service_orientation_refused"
            | ("service_orientation_expired")
        ):
            return [
                Notice(
                    ItemKind.STRUCTURE_ANSWER,
                    Audience.REFERENT,
                    ref=_text(d.get("orientation_id")),
                    detail={"answer": event.kind.removeprefix("service_orientation_")},
                )
            ]
        case (
            "journey_started"
            | "diagnosis_started"
            | "orientation_decided"
            | ("referent_reassigned")
        ):
            referent = _text(d.get("referent_id"))
            if referent is None:
                return []
            return [Notice(ItemKind.ASSIGNED, Audience.USER, user_id=referent)]
        case "handed_off":
            return [
                Notice(
                    ItemKind.HANDED_OVER,
                    Audience.ORIENTATION,
                    detail={"from_territory": d.get("from_territory")},
                )
            ]
        case "decision_requested":
            return [Notice(ItemKind.DECISION_REQUESTED, Audience.ORIENTATION)]
        case "appointment_invitation_expired":
            # Nobody booked: the agent is asked to convoke.
            return [
                Notice(
                    ItemKind.INVITATION_EXPIRED,
                    referent_or_orientation,
                    ref=_text(d.get("appointment_id")),
                    detail={"appointment_kind": d.get("appointment_kind")},
                )
            ]
        case "appointment_attendance_due":
            return [
                Notice(
                    ItemKind.ATTENDANCE_TO_RECORD,
                    referent_or_orientation,
                    ref=_text(d.get("appointment_id")),
                    detail={
                        "appointment_kind": d.get("appointment_kind"),
                        "starts_at": d.get("starts_at"),
                    },
                )
            ]
        case "rsa_rights_changed" if d.get("missing_quarterly_declaration"):
            # The right closed for a missing quarterly declaration: often undone once the
            # person sends it; the journey stays open, its référente helps her.
            return [
                Notice(
                    ItemKind.QUARTERLY_DECLARATION_MISSING,
                    referent_or_orientation,
                    detail={"effective_on": d.get("effective_on")},
                )
            ]
        case "france_travail_orientation_requested":
            return [
                Notice(
                    ItemKind.FRANCE_TRAVAIL_ORIENTS,
                    Audience.ORIENTATION,
                    detail={"due_on": d.get("due_on")},
                )
            ]
        case "reorientation_requested":
            return [
                Notice(
                    ItemKind.REORIENTATION_REQUESTED,
                    Audience.ORIENTATION,
                    ref=_text(d.get("request_id")),
                    detail={"requested_by_role": d.get("requested_by_role")},
                )
            ]
        case "reorientation_accepted":
            # Both référents: the one who hands over and the one who takes over.
            told = {r for r in (_text(d.get("previous_referent_id")), _text(d.get("referent_id")))}
            return [
                Notice(
                    ItemKind.REORIENTATION_DECIDED,
                    Audience.USER,
                    user_id=referent,
                    ref=_text(d.get("request_id")),
                    detail={"decision": "accepted"},
                )
                for referent in sorted(r for r in told if r)
            ]
        case "reorientation_refused":
            return [
                Notice(
                    ItemKind.REORIENTATION_DECIDED,
                    Audience.REFERENT,
                    ref=_text(d.get("request_id")),
                    detail={"decision": "refused"},
                )
            ]
        case "social_review_due":
            return [
                Notice(
                    ItemKind.SOCIAL_REVIEW_DUE,
                    referent_or_orientation,
                    detail={"due_on": d.get("due_on")},
                )
            ]
        case "deadline_passed":
            return [
                Notice(
                    ItemKind.DEADLINE_PASSED,
                    referent_or_orientation,
                    detail={"deadline": d.get("deadline")},
                )
            ]
    return []


# What settles « présence à enregistrer ».
_ATTENDANCE_RECORDED = frozenset(
    {
        "appointment_attended",
        "appointment_absent_unexcused",
        "appointment_absent_excused",
        "appointment_cancelled",
    }
)

# What settles a reorientation request, and what ends a social track's review.
_REORIENTATION_DECIDED = frozenset({"reorientation_accepted", "reorientation_refused"})
_REVIEW_ENDS = frozenset({"social_review_concluded", "reorientation_accepted", "handed_off"})

# What answers or ends a funder's question.
_QUESTION_ENDS = frozenset({"training_more_info_answered", "training_approved", "training_refused"})


def settlements(event: JourneyEvent, state: JourneyState) -> list[Settle]:
    """The open items of the journey that ``event`` settles."""
    if state.step is Step.CLOSED:
        return [Settle()]
    settle = [Settle(kinds=STEP_BOUND, step_not=state.step.value)]
    if event.kind in _QUESTION_ENDS and (ref := _text(event.detail.get("request_id"))):
        settle.append(Settle(kinds=frozenset({ItemKind.TRAINING_QUESTION}), ref=ref))
    if event.kind in _ATTENDANCE_RECORDED and (ref := _text(event.detail.get("appointment_id"))):
        settle.append(Settle(kinds=frozenset({ItemKind.ATTENDANCE_TO_RECORD}), ref=ref))
    if event.kind == "appointment_planned":
        # A new invitation or convocation answers « invitation expirée : convoquez ».
        settle.append(Settle(kinds=frozenset({ItemKind.INVITATION_EXPIRED})))
    if event.kind == "deadline_passed":
        settle.append(Settle(kinds=frozenset({ItemKind.DEADLINE_SOON})))
    if event.kind == "rsa_rights_changed" and event.detail.get("status") == "open":
        # Declaration sent, right reopened: nothing left to chase.
        settle.append(Settle(kinds=frozenset({ItemKind.QUARTERLY_DECLARATION_MISSING})))
    if event.kind in _REORIENTATION_DECIDED and (ref := _text(event.detail.get("request_id"))):
        settle.append(Settle(kinds=frozenset({ItemKind.REORIENTATION_REQUESTED}), ref=ref))
    if event.kind in _REVIEW_ENDS:
        settle.append(Settle(kinds=frozenset({ItemKind.SOCIAL_REVIEW_DUE})))
    if not state.stalled:
        settle.append(Settle(kinds=frozenset({ItemKind.DEADLINE_PASSED})))
    previous = _text(event.detail.get("previous_referent_id"))
    if event.kind == "referent_reassigned" and previous and previous != state.referent_id:
        # The journey is no longer hers: what it asked of her goes with it.
        settle.append(Settle(recipient_id=previous))
    return settle


def due_soon(deadline: datetime | None, now: datetime, days: int = DUE_SOON_DAYS) -> bool:
    """A deadline within ``days`` and not passed yet."""
    return deadline is not None and now < deadline <= now + timedelta(days=days)


def told_themselves(recipient_id: str, actor_id: str | None) -> bool:
    """Nobody needs to be told what they did."""
    return actor_id is not None and recipient_id == actor_id
