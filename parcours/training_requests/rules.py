"""A training request's state machine (pure): which decision or answer its status allows, and
what each changes; which requests a closing journey withdraws. The workflow's validators and
the services use the same rules."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import exceptions as temporal_errors
from temporalio.exceptions import ActivityError, ApplicationError

from parcours.core.messages import ScalarDetail
from parcours.training_requests.messages import (
    Action,
    AnswerMoreInfoInput,
    ApproveTrainingInput,
    AskMoreInfoInput,
    EndTrainingInput,
    RefuseTrainingInput,
    TrainingRequestAction,
    TrainingRequestState,
    TrainingStatus,
)
from parcours.training_requests.schemas import STATUS_LABELS

# Waiting for the funder's decision.
UNDECIDED = frozenset({TrainingStatus.SUBMITTED, TrainingStatus.MORE_INFO_REQUESTED})


# Approved, the training ahead or under way.
APPROVED = frozenset({TrainingStatus.APPROVED, TrainingStatus.IN_TRAINING})


# The request's workflow is over (a withdrawn one only tells its funder, then ends).
FINAL = frozenset(
    {
        TrainingStatus.REFUSED,
        TrainingStatus.ENDED,
        TrainingStatus.FAILED,
        TrainingStatus.WITHDRAWN,
    }
)


WITHDRAWN_REFUSAL = (
    "La demande a été retirée : le parcours de la personne est clôturé. "
    "Elle n'attend plus de décision."
)


class TransitionRefused(Exception):
    """The action is not possible in the request's current status (French reason)."""


def _status(state: TrainingRequestState) -> str:
    return f"« {STATUS_LABELS[state.status]} »"


def refusal(state: TrainingRequestState, action: Action | EndTrainingInput) -> str | None:
    """Why ``action`` is not possible now, or None."""
    status = state.status
    if status is TrainingStatus.WITHDRAWN:
        return WITHDRAWN_REFUSAL
    match action:
        case AskMoreInfoInput():
            if status is TrainingStatus.MORE_INFO_REQUESTED:
                return "Des informations sont déjà demandées : la réponse du référent est attendue."
            if status is not TrainingStatus.SUBMITTED:
                return f"La demande n'attend plus de décision (statut : {_status(state)})."
        case AnswerMoreInfoInput():
            if status is not TrainingStatus.MORE_INFO_REQUESTED:
                return (
                    "Le financeur n'attend pas d'information sur cette demande "
                    f"(statut : {_status(state)})."
                )
        case ApproveTrainingInput() | RefuseTrainingInput():
            if status is TrainingStatus.FAILED:
                return "La demande n'a pas pu être transmise au financeur : rien à décider."
            if status not in UNDECIDED:
                return f"La demande a déjà reçu une décision (statut : {_status(state)})."
        case EndTrainingInput():
            if status is TrainingStatus.ENDED:
                return "La fin de la formation est déjà enregistrée."
            if status not in APPROVED:
                return f"La formation n'est pas accordée (statut : {_status(state)})."
    return None


def check(state: TrainingRequestState, action: Action | EndTrainingInput) -> None:
    reason = refusal(state, action)
    if reason:
        raise TransitionRefused(reason)


def apply(
    state: TrainingRequestState,
    action: Action | EndTrainingInput,
    now: datetime,
    answer_days: int,
) -> tuple[TrainingRequestState, str, dict[str, ScalarDetail]]:
    """The request after ``action``, the transition's kind and what the journey is told."""
    check(state, action)
    calm = {"stalled_since": None}
    match action:
        case AskMoreInfoInput():
            # The référent has the hand: the funder's deadline waits for the answer.
            changes: dict[str, object] = {
                "status": TrainingStatus.MORE_INFO_REQUESTED,
                "deadline": None,
                **calm,
            }
            return state.model_copy(update=changes), "training_more_info_requested", {}
        case AnswerMoreInfoInput():
            changes = {
                "status": TrainingStatus.SUBMITTED,
                "deadline": now + timedelta(days=answer_days),
                "reminded_at": None,
                **calm,
            }
            return state.model_copy(update=changes), "training_more_info_answered", {}
        case ApproveTrainingInput(start_date=start, amount=amount, funder_reference=reference):
            changes = {
                "status": TrainingStatus.APPROVED,
                "start_date": start,
                "approved_amount": amount,
                "funder_reference": reference,
                **_decided(action, now),
                **calm,
            }
            detail: dict[str, ScalarDetail] = {
                "start_date": start.isoformat(),
                "amount": str(amount),
                "reference": reference,
            }
            return state.model_copy(update=changes), "training_approved", detail
        case RefuseTrainingInput():
            changes = {"status": TrainingStatus.REFUSED, **_decided(action, now), **calm}
            return state.model_copy(update=changes), "training_refused", {}
        case EndTrainingInput(ended_on=ended_on, completed=completed):
            changes = {
                "status": TrainingStatus.ENDED,
                "ended_at": now,
                "ended_on": ended_on or now.date(),
                "completed": completed,
                **calm,
            }
            return state.model_copy(update=changes), "training_ended", {"completed": completed}
    raise TransitionRefused("Action inconnue.")  # pragma: no cover - exhaustive above


def withdrawal_refusal(state: TrainingRequestState) -> str | None:
    """Why the request is not withdrawn when its journey closes, or None.

    Only a request still waiting for its funder's decision is withdrawn. A decided one is left
    as it is: a refusal or a failure is already over, and an approved training (ahead or under
    way) is the person's own — funded for them, not for their journey in Parcours — so closing
    the journey takes nothing from them."""
    if state.status not in UNDECIDED:
        return f"La demande n'attend plus de décision (statut : {_status(state)})."
    return None


def apply_withdrawal(state: TrainingRequestState) -> tuple[TrainingRequestState, str]:
    """The request withdrawn (its journey closed): no deadline, no longer stalled."""
    reason = withdrawal_refusal(state)
    if reason:
        raise TransitionRefused(reason)
    changes = {"status": TrainingStatus.WITHDRAWN, "deadline": None, "stalled_since": None}
    return state.model_copy(update=changes), "training_request_withdrawn"


def _decided(action: TrainingRequestAction, now: datetime) -> dict[str, object]:
    return {
        "decided_at": now,
        "decided_by": action.actor_id,
        "decision_source": action.source,
        "deadline": None,
    }


def failure_reason(error: ActivityError) -> str:
    """Why the request could not reach the funder, in French."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.message:
        return cause.message[:500]
    if isinstance(cause, temporal_errors.TimeoutError):
        return "Le financeur n'a pas pu être joint pendant plusieurs jours : demande non transmise."
    return "La demande n'a pas pu être transmise au financeur."
