"""The journey's state machine: which action is allowed when, what it changes, when it is due.

Pure functions over ``JourneyState``: the workflow calls them in its update validators (to
refuse an impossible transition before anything is written) and handlers; the API and pages
call ``available_actions`` to offer only what the journey allows now.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from parcours.access.rules import day_fr
from parcours.core.messages import ScalarDetail
from parcours.journey.messages import (
    DECISION_REQUESTED,
    Action,
    AppointmentMark,
    BeginDiagnosisInput,
    CloseInput,
    CompleteDiagnosisInput,
    ConcludeSocialReviewInput,
    DecideOrientationInput,
    DecideReorientationInput,
    ExitReason,
    HandOffInput,
    JourneyEvent,
    JourneyInput,
    JourneyOutcomeInput,
    JourneyState,
    OpenSanctionInput,
    OrientationKind,
    OrientToServiceInput,
    PauseInput,
    PlanAppointmentInput,
    ReassignReferentInput,
    RecordCheckInInput,
    RecordEmploymentInput,
    ReportJobLossInput,
    RequestReorientationInput,
    RequestTrainingInput,
    ResumeInput,
    RsaRightsChangedInput,
    RsaStatus,
    SanctionMark,
    SetFollowUpConsentInput,
    SignContractInput,
    Sla,
    Step,
)
from parcours.journey.schemas import ACTION_LABELS, ORIENTATION_LABELS, STEP_LABELS
from parcours.sanctions.rules import is_repeated


class TransitionRefused(Exception):
    """An action the journey does not allow now; the message is French, for the user."""


# Update name → (input type, French label). The update names are the workflow's API.
ACTIONS: dict[str, tuple[type[Action], str]] = {
    "begin_diagnosis": (BeginDiagnosisInput, ACTION_LABELS["begin_diagnosis"]),
    "complete_diagnosis": (CompleteDiagnosisInput, ACTION_LABELS["complete_diagnosis"]),
    "decide_orientation": (DecideOrientationInput, ACTION_LABELS["decide_orientation"]),
    "sign_contract": (SignContractInput, ACTION_LABELS["sign_contract"]),
    "record_employment": (RecordEmploymentInput, ACTION_LABELS["record_employment"]),
    "set_follow_up_consent": (SetFollowUpConsentInput, ACTION_LABELS["set_follow_up_consent"]),
    "record_check_in": (RecordCheckInInput, ACTION_LABELS["record_check_in"]),
    "report_job_loss": (ReportJobLossInput, ACTION_LABELS["report_job_loss"]),
    "pause": (PauseInput, ACTION_LABELS["pause"]),
    "resume": (ResumeInput, ACTION_LABELS["resume"]),
    "reassign_referent": (ReassignReferentInput, ACTION_LABELS["reassign_referent"]),
    "hand_off": (HandOffInput, ACTION_LABELS["hand_off"]),
    "close": (CloseInput, ACTION_LABELS["close"]),
}
ACTION_NAMES: dict[type[Action], str] = {cls: name for name, (cls, _) in ACTIONS.items()}

# Requests the journey carries on through a child workflow: updates too, refused when the
# journey cannot take them, but made from the resource base's pages, not the journey's actions.
REQUESTS: dict[str, tuple[type[Action], str]] = {
    "request_training": (RequestTrainingInput, "Demander le financement d'une formation"),
    "orient_to_service": (OrientToServiceInput, "Orienter vers un service"),
    "plan_appointment": (PlanAppointmentInput, "Inviter ou convoquer à un rendez-vous"),
    # Reorientation and the social track's review: their own forms (``parcours.reorientation``),
    # with the free texts kept in SQL.
    "request_reorientation": (RequestReorientationInput, "Demander une réorientation"),
    "decide_reorientation": (DecideReorientationInput, "Décider de la réorientation"),
    "conclude_social_review": (ConcludeSocialReviewInput, "Conclure la revue du parcours social"),
    "open_sanction": (OpenSanctionInput, "Ouvrir une procédure de suspension-remobilisation"),
}
REQUEST_NAMES: dict[type[Action], str] = {cls: name for name, (cls, _) in REQUESTS.items()}


def name_of(action: Action) -> str:
    """The update that carries ``action``."""
    return ACTION_NAMES.get(type(action)) or REQUEST_NAMES[type(action)]


# Actions that move the journey forward: refused while it is paused.
_FORWARD = frozenset(
    {
        "begin_diagnosis",
        "complete_diagnosis",
        "decide_orientation",
        "sign_contract",
        "record_employment",
        "set_follow_up_consent",
        "record_check_in",
        "report_job_loss",
        "request_training",
        "orient_to_service",
    }
)


def _needs_step(*steps: Step) -> Callable[[JourneyState], str | None]:
    def gate(state: JourneyState) -> str | None:
        if state.step in steps:
            return None
        allowed = " ou ".join(f"« {STEP_LABELS[s]} »" for s in steps)
        current = STEP_LABELS[state.step]
        return f"Action possible seulement à l'étape {allowed} (étape actuelle : « {current} »)."

    return gate


def _check_in_gate(state: JourneyState) -> str | None:
    if state.step is not Step.FOLLOW_UP:
        return _needs_step(Step.FOLLOW_UP)(state)
    if state.check_in_due is None:
        return "Aucun point de suivi n'est attendu pour l'instant."
    return None


def _reorientation_gate(state: JourneyState) -> str | None:
    if state.step is not Step.ACCOMPANIMENT or state.orientation is None:
        return (
            "Une réorientation se demande pour un parcours orienté, à l'étape "
            f"« Accompagnement » (étape actuelle : « {STEP_LABELS[state.step]} »)."
        )
    if state.reorientation_request_id is not None:
        return "Une demande de réorientation attend déjà la décision de l'équipe d'orientation."
    return None


def _pending_reorientation_gate(state: JourneyState) -> str | None:
    if state.reorientation_request_id is None:
        return "Aucune demande de réorientation n'attend de décision sur ce parcours."
    return None


def _social_review_gate(state: JourneyState) -> str | None:
    if state.social_review_due_on is None or state.step is not Step.ACCOMPANIMENT:
        return "Aucune revue du parcours social n'est prévue sur ce parcours."
    if not state.social_review_noticed:
        return (
            "La revue du parcours social n'est pas encore ouverte : elle est prévue pour le "
            f"{state.social_review_due_on.strftime('%d/%m/%Y')}."
        )
    return None


_GATES: dict[str, Callable[[JourneyState], str | None]] = {
    "begin_diagnosis": _needs_step(Step.INTAKE),
    "complete_diagnosis": _needs_step(Step.DIAGNOSIS),
    "decide_orientation": _needs_step(Step.ORIENTATION),
    "sign_contract": _needs_step(Step.ACCOMPANIMENT),
    "record_employment": _needs_step(Step.ACCOMPANIMENT),
    "set_follow_up_consent": _needs_step(Step.EMPLOYMENT, Step.FOLLOW_UP),
    "record_check_in": _check_in_gate,
    "report_job_loss": _needs_step(Step.EMPLOYMENT, Step.FOLLOW_UP),
    "pause": lambda s: "Le parcours est déjà en pause." if s.paused else None,
    "resume": lambda s: None if s.paused else "Le parcours n'est pas en pause.",
    "reassign_referent": lambda s: None,
    "hand_off": lambda s: None,
    "close": lambda s: None,
    "request_training": _needs_step(Step.ORIENTATION, Step.ACCOMPANIMENT),
    "orient_to_service": _needs_step(
        Step.DIAGNOSIS, Step.ORIENTATION, Step.ACCOMPANIMENT, Step.EMPLOYMENT, Step.FOLLOW_UP
    ),
    # At any open step (a closed journey is refused before the gates).
    "plan_appointment": lambda s: None,
    "request_reorientation": _reorientation_gate,
    "decide_reorientation": _pending_reorientation_gate,
    "conclude_social_review": _social_review_gate,
    "open_sanction": lambda s: (
        "Une procédure de suspension-remobilisation est déjà en cours pour ce parcours."
        if open_sanctions(s)
        else None
    ),
}


def open_sanctions(state: JourneyState) -> list[SanctionMark]:
    """The journey's sanction cases not closed yet."""
    return [mark for mark in state.sanctions if mark.status != "closed"]


def refusal(state: JourneyState, name: str) -> str | None:
    """Why the action ``name`` is not allowed now, or None when it is (payload aside)."""
    if state.step is Step.CLOSED:
        return "Le parcours est clôturé : aucune action n'est plus possible."
    if name in _FORWARD and state.paused:
        return "Le parcours est en pause : reprenez-le avant de continuer."
    return _GATES[name](state)


def available_actions(state: JourneyState) -> list[str]:
    return [name for name in ACTIONS if refusal(state, name) is None]


def check(state: JourneyState, action: Action) -> None:
    """Raise ``TransitionRefused`` with the reason when ``action`` is not allowed now."""
    name = name_of(action)
    if isinstance(action, DecideOrientationInput) and action.decided_by == "france_travail":
        reason = france_travail_refusal(state)
    else:
        reason = refusal(state, name) or _payload_refusal(state, action)
    if reason:
        raise TransitionRefused(reason)


def _payload_refusal(state: JourneyState, action: Action) -> str | None:
    match action:
        case SignContractInput(signed_on=signed_on, ends_on=ends_on) if (
            ends_on and ends_on <= signed_on
        ):
            return "La date de fin du contrat doit suivre sa date de signature."
        case SetFollowUpConsentInput(consent=True) if state.step is Step.FOLLOW_UP:
            return "La personne a déjà accepté le suivi dans l'emploi."
        case RecordCheckInInput(month=month) if month != state.check_in_due:
            due = state.check_in_due
            return f"Le point de suivi attendu est celui du mois {due}, pas du mois {month}."
        case ReassignReferentInput(referent_id=referent_id) if referent_id == state.referent_id:
            return "Cette personne suit déjà ce parcours."
        case HandOffInput(territory=territory) if territory == state.territory:
            return "Le parcours est déjà rattaché à ce département."
        case DecideReorientationInput():
            return _reorientation_decision_refusal(state, action)
        case ConcludeSocialReviewInput(decision="reorient", request_id=None):
            return "Une réorientation demandée à la revue doit porter le numéro de sa demande."
        case ConcludeSocialReviewInput(decision="reorient") if state.reorientation_request_id:
            return "Une demande de réorientation attend déjà la décision de l'équipe d'orientation."
        case OpenSanctionInput(breach=breach, appointment_id=appointment_id) if breach == "absence":
            absent = [
                m.appointment_id for m in state.appointments if m.status == "absent_unexcused"
            ]
            if appointment_id not in absent:
                return (
                    "Une procédure pour absence part d'un rendez-vous où l'absence non excusée "
                    "est enregistrée."
                )
            if any(m.appointment_id == appointment_id for m in state.sanctions):
                return "Une procédure a déjà été ouverte pour cette absence."
    return None


def _reorientation_decision_refusal(
    state: JourneyState, action: DecideReorientationInput
) -> str | None:
    if action.request_id != state.reorientation_request_id:
        return "Cette demande de réorientation n'est pas celle qui attend une décision."
    if not action.accepted:
        if action.refusal_code is None:
            return "Un refus de réorientation se motive : indiquez le motif du refus."
        return None
    if action.kind is None or not action.structure_id:
        return "Une réorientation acceptée indique la nouvelle orientation et la structure."
    if action.kind is state.orientation and action.structure_id == state.structure_id:
        label = ORIENTATION_LABELS[action.kind].lower()
        return (
            f"Réorientation refusée : le parcours est déjà orienté « {label} » vers cette "
            "structure. Une réorientation change l'orientation ou la structure "
            "(pour changer seulement de référent, réattribuez le parcours)."
        )
    return None


# --- The legal orientation clock (art. D.262-65-2 CASF, décret 2024-1244) ---

# The event recorded when the legal delay passed without a decision: France Travail orients.
FRANCE_TRAVAIL_REQUESTED = "france_travail_orientation_requested"

# The steps before an orientation decision: the legal clock runs through all of them.
BEFORE_ORIENTATION = frozenset({Step.INTAKE, Step.DIAGNOSIS, Step.ORIENTATION})

# MOTISUSVERSRSA « 06 », the payment suspended for a missing quarterly declaration of resources
# (DTR). The CNAF has no closure code (MOTICLORSA) of its own for it: the right closes « à
# échéance » (ECH) after four months without one, and the closure line keeps the suspension's
# reason. Such a closure is often undone as soon as the person sends her declarations, so the
# journey stays open and its référente is told (inbox) instead of losing the journey.
MISSING_QUARTERLY_DECLARATION = "06"


def orientation_clock_start(state: JourneyState) -> date | None:
    """When the legal orientation delay runs from: the transfer-in (or the return of the
    duties), else the right's opening."""
    return state.orientation_clock_from or state.rsa_opened_on


def legal_orientation_due_on(state: JourneyState, weeks: int | None) -> date | None:
    """The legal orientation due date (None: no legal clock for this journey)."""
    start = orientation_clock_start(state)
    if weeks is None or start is None:
        return None
    return start + timedelta(weeks=weeks)


def legal_clock_running(state: JourneyState, sla: Sla) -> bool:
    """The legal delay still runs: a person subject to duties, not oriented yet, France
    Travail not asked yet."""
    return (
        state.subject_to_duties
        and state.step in BEFORE_ORIENTATION
        and state.france_travail_requested_due_on is None
        and legal_orientation_due_on(state, sla.france_travail_orients_after_weeks) is not None
    )


def france_travail_refusal(state: JourneyState) -> str | None:
    """Why France Travail's orientation decision cannot be taken now (French), or None."""
    if state.step is Step.CLOSED:
        return "Le parcours est clôturé : aucune action n'est plus possible."
    if state.step not in BEFORE_ORIENTATION:
        return "Le parcours est déjà orienté : la décision de France Travail n'est pas appliquée."
    if state.france_travail_requested_due_on is None:
        return (
            "France Travail n'oriente qu'une fois le délai légal d'orientation passé sans "
            "décision du département."
        )
    return None


def legal_orientation(
    rsa_opened_on: date | None,
    events: list[tuple[str, dict[str, ScalarDetail], datetime]],
    weeks: int | None,
) -> tuple[date, bool, date | None, bool, bool] | None:
    """The legal orientation clock as a journey's timeline tells it, for its page: (due date,
    subject to duties, the due date France Travail was asked after, oriented by France
    Travail, oriented at all); None without a clock (no opening date, no legal delay).
    ``events``: (kind, detail, when), oldest first."""
    if not weeks:
        return None
    start, subject, asked, by_france_travail, oriented = rsa_opened_on, True, None, False, False
    for kind, detail, when in events:
        match kind:
            case "duties_changed":
                subject = bool(detail.get("subject_to_duties"))
                if subject and asked is None:
                    start = _day(detail.get("effective_on")) or when.date()
            case "transferred_in" | "handed_off":
                start = _day(detail.get("on")) or when.date()
                asked, oriented, by_france_travail = None, False, False
            case "france_travail_orientation_requested":
                asked = _day(detail.get("due_on"))
            case "orientation_decided":
                oriented = True
                by_france_travail = detail.get("decided_by") == "france_travail"
    if start is None:
        return None
    return start + timedelta(weeks=weeks), subject, asked, by_france_travail, oriented


# --- Time ---


def at_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def next_check_in(state: JourneyState, sla: Sla) -> tuple[int, datetime] | None:
    """The next follow-up check-in (month, when it falls due), if any is left."""
    months = sla.follow_up_check_in_months
    if state.follow_up_since is None or len(state.check_ins_done) >= len(months):
        return None
    month = months[len(state.check_ins_done)]
    return month, add_months(state.follow_up_since, month)


def _step_deadline(state: JourneyState, now: datetime, sla: Sla) -> datetime | None:
    match state.step:
        case Step.INTAKE:
            return now + timedelta(days=sla.intake_days)
        case Step.DIAGNOSIS:
            return now + timedelta(days=sla.diagnosis_days)
        case Step.ORIENTATION:
            start = at_midnight(state.rsa_opened_on) if state.rsa_opened_on else now
            return start + timedelta(weeks=sla.orientation_weeks_after_rsa)
        case Step.ACCOMPANIMENT:
            if state.contract_signed_on is None:
                return state.step_since + timedelta(days=sla.contract_days_after_orientation)
            if state.contract_ends_on is not None:
                return at_midnight(state.contract_ends_on)
            return at_midnight(state.contract_signed_on) + timedelta(
                days=sla.accompaniment_review_days
            )
        case Step.EMPLOYMENT:
            return now + timedelta(days=sla.follow_up_consent_days)
        case Step.FOLLOW_UP:
            upcoming = next_check_in(state, sla)
            if upcoming is None:
                return None
            return upcoming[1] + timedelta(days=sla.check_in_grace_days)
    return None


def next_wake(state: JourneyState, sla: Sla) -> datetime | None:
    """When the workflow must wake up on its own: a deadline or a follow-up check-in."""
    if state.step is Step.CLOSED:
        return None
    moments = []
    if state.deadline is not None and not state.stalled and not state.paused:
        moments.append(state.deadline)
    if legal_clock_running(state, sla):
        due = legal_orientation_due_on(state, sla.france_travail_orients_after_weeks)
        assert due is not None
        moments.append(at_midnight(due))
    if state.paused_until is not None:
        moments.append(state.paused_until)
    upcoming = next_check_in(state, sla)
    if state.step is Step.FOLLOW_UP and state.check_in_due is None and upcoming:
        moments.append(upcoming[1])
    notice = social_review_notice_at(state, sla)
    if notice is not None and not state.social_review_noticed:
        moments.append(notice)
    return min(moments, default=None)


# --- The social track's review (art. D.262-65-2-1 CASF) ---


def social_review_notice_at(state: JourneyState, sla: Sla) -> datetime | None:
    """When the référent is told the social track's review is coming (None: no review)."""
    if state.social_review_due_on is None or state.step is not Step.ACCOMPANIMENT:
        return None
    return at_midnight(state.social_review_due_on) - timedelta(days=sla.social_review_notice_days)


def _schedule_social_review(change: _Change, reason: str | None) -> None:
    """The next review of a journey on the social track: 6 months from now, 12 with a
    recorded reason; none on another track (nor in histories before reviews: months 0)."""
    new, sla = change.state, change.sla
    new.social_review_noticed = False
    if new.orientation is not OrientationKind.SOCIAL or sla.social_review_months <= 0:
        new.social_review_due_on, new.social_review_extended = None, False
        return
    months = sla.social_review_extended_months if reason else sla.social_review_months
    new.social_review_due_on = add_months(change.now, months).date()
    new.social_review_extended = bool(reason)


# --- Transitions ---

# Events the clock raises: nobody did them, even when a person's action is what found the
# deadline passed (an enrolment long after the RSA opened, an action on a late journey).
TIMER_EVENTS = frozenset({"deadline_passed", "check_in_due", "social_review_due"})


def event_actor(kind: str, actor_id: str | None) -> str | None:
    """Who did an event of the timeline: nobody for the clock's (histories recorded before
    ``TIMER_EVENTS`` carry the actor of the action that found them)."""
    return None if kind in TIMER_EVENTS else actor_id


class _Change:
    """Collects the events of one transition while it edits a copy of the state."""

    def __init__(self, state: JourneyState, now: datetime, sla: Sla, actor_id: str | None):
        self.state = state.model_copy(deep=True)
        self.now, self.sla, self.actor_id = now, sla, actor_id
        self.events: list[JourneyEvent] = []

    def event(self, kind: str, **detail: ScalarDetail) -> None:
        self.events.append(
            JourneyEvent(
                kind=kind,
                occurred_at=self.now,
                step=self.state.step,
                actor_id=event_actor(kind, self.actor_id),
                detail=detail,
            )
        )

    def enter(self, step: Step, deadline: datetime | None = None) -> None:
        self.state.step, self.state.step_since = step, self.now
        self.state.stalled = False
        # A request for a decision belongs to the stay it was made in.
        self.state.decision_requested_at = None
        self.state.deadline = deadline or _step_deadline(self.state, self.now, self.sla)

    def close(self, reason: ExitReason, code: str | None = None) -> None:
        self.state.exit_reason, self.state.exit_code = reason, code
        self.state.paused_at = self.state.paused_until = None
        self.enter(Step.CLOSED)
        if code is None:
            self.event("closed", exit_reason=reason.value)
        else:
            self.event("closed", exit_reason=reason.value, exit_code=code)

    def done(self) -> tuple[JourneyState, list[JourneyEvent]]:
        state = self.state
        if state.step is Step.CLOSED or state.paused or state.deadline is None:
            state.stalled = False
        elif self.now >= state.deadline and not state.stalled:
            state.stalled = True
            self.event(
                "deadline_passed", step=state.step.value, deadline=state.deadline.isoformat()
            )
        elif self.now < state.deadline:
            state.stalled = False
        return state, self.events


def start(input: JourneyInput, now: datetime) -> tuple[JourneyState, list[JourneyEvent]]:
    state = JourneyState(
        beneficiary_id=input.beneficiary_id,
        journey_id=input.journey_id,
        territory=input.territory,
        step_since=now,
        referent_id=input.referent_id,
        structure_id=input.structure_id,
        rsa_opened_on=input.rsa_opened_on,
    )
    change = _Change(state, now, input.sla, input.actor_id)
    change.enter(Step.INTAKE)
    change.event("journey_started", territory=input.territory, referent_id=input.referent_id)
    return change.done()


def apply(
    state: JourneyState, action: Action, now: datetime, sla: Sla
) -> tuple[JourneyState, list[JourneyEvent]]:
    """The journey after ``action``, and the events it produced; refuses what ``check`` does."""
    check(state, action)
    change = _Change(state, now, sla, action.actor_id)
    new = change.state
    match action:
        case BeginDiagnosisInput(referent_id=referent_id):
            if referent_id:
                new.referent_id = referent_id
            change.enter(Step.DIAGNOSIS)
            change.event("diagnosis_started", referent_id=new.referent_id)
        case CompleteDiagnosisInput():
            change.enter(Step.ORIENTATION)
            change.event("diagnosis_completed")
        case DecideOrientationInput(kind=kind, structure_id=structure_id, referent_id=referent_id):
            new.orientation, new.structure_id = kind, structure_id
            new.referent_id = referent_id
            new.contract_signed_on = new.contract_ends_on = None
            change.enter(Step.ACCOMPANIMENT)
            _schedule_social_review(change, action.social_review_reason)
            review = new.social_review_due_on
            extra: dict[str, ScalarDetail] = (
                {"social_review_due_on": review.isoformat(), "extended": new.social_review_extended}
                if review
                else {}
            )
            if action.decided_by == "france_travail":
                extra["decided_by"] = action.decided_by
            change.event(
                "orientation_decided",
                orientation=kind.value,
                structure_id=structure_id,
                referent_id=referent_id,
                **extra,
            )
        case SignContractInput(signed_on=signed_on, ends_on=ends_on, weekly_hours=hours):
            new.contract_signed_on, new.contract_ends_on = signed_on, ends_on
            new.deadline = _step_deadline(new, now, sla)
            change.event(
                "contract_signed",
                signed_on=signed_on.isoformat(),
                ends_on=ends_on.isoformat() if ends_on else None,
                weekly_hours=hours,
            )
        case RecordEmploymentInput(
            started_on=started_on, contract=contract, follow_up_consent=consent
        ):
            new.employment_started_on, new.employment_contract = started_on, contract
            change.enter(Step.EMPLOYMENT)
            change.event(
                "employment_recorded", started_on=started_on.isoformat(), contract=contract.value
            )
            if consent is not None:
                _follow_up_choice(change, consent)
        case SetFollowUpConsentInput(consent=consent):
            _follow_up_choice(change, consent)
        case RecordCheckInInput(month=month, still_employed=still_employed):
            new.check_ins_done.append(month)
            new.check_in_due = None
            change.event("check_in_recorded", month=month, still_employed=still_employed)
            if not still_employed:
                _back_to_accompaniment(change)
            elif next_check_in(new, sla) is None:
                change.close(ExitReason.SUSTAINED_EMPLOYMENT)
            else:
                new.deadline = _step_deadline(new, now, sla)
        case ReportJobLossInput():
            change.event("job_lost", step=new.step.value)
            _back_to_accompaniment(change)
        case PauseInput(until=until):
            new.paused_at = now
            new.paused_until = at_midnight(until) if until else None
            change.event("paused", until=until.isoformat() if until else None)
        case ResumeInput():
            _resume(change)
        case ReassignReferentInput(referent_id=referent_id, structure_id=structure_id):
            change.event(
                "referent_reassigned",
                previous_referent_id=new.referent_id,
                referent_id=referent_id,
                structure_id=structure_id or new.structure_id,
            )
            new.referent_id = referent_id
            new.structure_id = structure_id or new.structure_id
        case HandOffInput(territory=territory):
            # Who followed the journey when it left: they may still read it for a while.
            change.event(
                "handed_off",
                from_territory=new.territory,
                to_territory=territory,
                from_referent_id=new.referent_id,
                from_structure_id=new.structure_id,
            )
            new.territory, new.referent_id, new.structure_id = territory, None, None
            if sla.france_travail_orients_after_weeks is not None:
                # The receiving département learns of the journey now: its delay runs anew.
                new.orientation_clock_from = now.date()
                new.france_travail_requested_due_on = None
            if new.step in (Step.DIAGNOSIS, Step.ORIENTATION, Step.ACCOMPANIMENT):
                # The receiving département decides the orientation again, with its own delay.
                new.orientation = None
                new.reorientation_request_id = None
                _schedule_social_review(change, None)
                change.enter(
                    Step.ORIENTATION, now + timedelta(weeks=sla.orientation_weeks_after_rsa)
                )
        case CloseInput(exit_reason=reason, exit_code=code):
            change.close(reason, code)
        case RequestTrainingInput(request_id=request_id, training_id=training_id, funder=funder):
            change.event(
                "training_requested",
                request_id=request_id,
                training_id=training_id,
                funder=funder,
            )
        case OrientToServiceInput(
            orientation_id=orientation_id,
            service_id=service_id,
            resource_structure_id=resource_structure_id,
        ):
            change.event(
                "oriented_to_service",
                orientation_id=orientation_id,
                service_id=service_id,
                resource_structure_id=resource_structure_id,
            )
        case OpenSanctionInput(case_id=case_id, breach=breach):
            # The child tells the timeline ``sanction_opened``; the journey keeps its mark.
            new.sanctions.append(
                SanctionMark(
                    case_id=case_id,
                    breach=breach.value,
                    repeated=repeated_breach(state, now, action),
                    opened_on=now.date(),
                    appointment_id=action.appointment_id,
                )
            )
        case PlanAppointmentInput(appointment_id=appointment_id, mode=mode, kind=kind):
            new.appointments.append(
                AppointmentMark(
                    appointment_id=appointment_id,
                    mode=mode,
                    kind=kind,
                    status="invited" if mode == "invitation" else "convoked",
                    starts_at=action.starts_at,
                )
            )
            change.event(
                "appointment_planned",
                appointment_id=appointment_id,
                mode=mode,
                appointment_kind=kind,
            )
        case RequestReorientationInput():
            _request_reorientation(change, action)
        case DecideReorientationInput():
            _decide_reorientation(change, action)
        case ConcludeSocialReviewInput(decision=decision):
            due = new.social_review_due_on
            assert due is not None
            # The next review runs (a reorientation accepted replaces it).
            _schedule_social_review(change, action.social_review_reason)
            upcoming = new.social_review_due_on
            change.event(
                "social_review_concluded",
                decision=decision,
                due_on=due.isoformat(),
                on_time=now.date() <= due,
                next_due_on=upcoming.isoformat() if upcoming else None,
                extended=new.social_review_extended,
            )
            if decision == "reorient":
                assert action.request_id is not None
                _request_reorientation(
                    change,
                    RequestReorientationInput(
                        request_id=action.request_id,
                        requested_by_role="referent",
                        reason_code="social_review",
                        actor_id=action.actor_id,
                    ),
                )
    return change.done()


def _request_reorientation(change: _Change, action: RequestReorientationInput) -> None:
    change.state.reorientation_request_id = action.request_id
    change.event(
        "reorientation_requested",
        request_id=action.request_id,
        requested_by_role=action.requested_by_role,
        reason_code=action.reason_code,
    )


def _decide_reorientation(change: _Change, action: DecideReorientationInput) -> None:
    """Accepted: the journey starts its accompaniment again with the new orientation, and a
    new contract deadline; refused: it goes on as it was."""
    new = change.state
    new.reorientation_request_id = None
    if not action.accepted:
        change.event(
            "reorientation_refused",
            request_id=action.request_id,
            reason_code=action.refusal_code,
            after_team_meeting=action.after_team_meeting,
        )
        return
    assert action.kind is not None and action.structure_id is not None
    previous_referent, previous_orientation = new.referent_id, new.orientation
    new.orientation, new.structure_id = action.kind, action.structure_id
    new.referent_id = action.referent_id
    new.contract_signed_on = new.contract_ends_on = None
    change.enter(Step.ACCOMPANIMENT)
    _schedule_social_review(change, action.social_review_reason)
    change.event(
        "reorientation_accepted",
        request_id=action.request_id,
        orientation=action.kind.value,
        structure_id=action.structure_id,
        referent_id=action.referent_id,
        after_team_meeting=action.after_team_meeting,
        previous_orientation=previous_orientation.value if previous_orientation else None,
        previous_referent_id=previous_referent,
        social_review_due_on=(
            new.social_review_due_on.isoformat() if new.social_review_due_on else None
        ),
    )


def _resume(change: _Change) -> None:
    """A pause does not eat into the step's delay: the deadline moves by the pause's length."""
    new = change.state
    assert new.paused_at is not None
    if new.deadline is not None:
        new.deadline += change.now - new.paused_at
    new.paused_at = new.paused_until = None
    change.event("resumed")


def _follow_up_choice(change: _Change, consent: bool) -> None:
    new = change.state
    new.follow_up_consent = consent
    change.event("follow_up_consent", consent=consent)
    if consent:
        new.follow_up_since, new.check_ins_done, new.check_in_due = change.now, [], None
        change.enter(Step.FOLLOW_UP)
    else:
        change.close(ExitReason.EMPLOYMENT)


def _back_to_accompaniment(change: _Change) -> None:
    new = change.state
    new.employment_started_on = new.employment_contract = None
    new.follow_up_since, new.check_in_due = None, None
    new.contract_signed_on = new.contract_ends_on = None
    change.enter(Step.ACCOMPANIMENT)


def on_rsa_rights(
    state: JourneyState, signal: RsaRightsChangedInput, now: datetime, sla: Sla
) -> tuple[JourneyState, list[JourneyEvent]]:
    """A CAF feed line about the person: the « droits et devoirs » flag, a transfer-in, a
    change of RSA status (with its reasons). What repeats what the journey knows changes
    nothing."""
    if state.step is Step.CLOSED:
        return state, []
    change = _Change(state, now, sla, None)
    _on_duties(change, signal)
    _on_transfer_in(change, signal)
    if signal.status is not state.rsa_status:
        _on_rsa_status(change, signal)
    if not change.events:
        return state, []
    return change.done()


def _on_duties(change: _Change, signal: RsaRightsChangedInput) -> None:
    """Not subject to duties: the legal orientation delay stops; subject again: it runs anew
    from that day (the département learns of the obligation then)."""
    new = change.state
    if signal.subject_to_duties is None or signal.subject_to_duties == new.subject_to_duties:
        return
    new.subject_to_duties = signal.subject_to_duties
    if signal.subject_to_duties and new.france_travail_requested_due_on is None:
        new.orientation_clock_from = signal.effective_on
    change.event(
        "duties_changed",
        subject_to_duties=signal.subject_to_duties,
        reason=signal.suspension_reason or signal.closure_reason,
        effective_on=signal.effective_on.isoformat(),
    )


def _on_transfer_in(change: _Change, signal: RsaRightsChangedInput) -> None:
    """New rights sent for another département than the journey's: the person moved, her
    file was transferred in. The journey follows her there and the legal delay runs anew
    from the transfer; an orientation decided by the former département is decided again."""
    new = change.state
    if signal.event_kind != "new_rights" or not signal.territory:
        return
    if signal.territory == new.territory:
        return
    change.event(
        "transferred_in",
        from_territory=new.territory,
        to_territory=signal.territory,
        on=signal.effective_on.isoformat(),
    )
    new.territory, new.referent_id, new.structure_id = signal.territory, None, None
    new.orientation_clock_from = signal.effective_on
    new.france_travail_requested_due_on = None
    if new.step in (Step.DIAGNOSIS, Step.ORIENTATION, Step.ACCOMPANIMENT):
        new.orientation = None
        change.enter(
            Step.ORIENTATION, change.now + timedelta(weeks=change.sla.orientation_weeks_after_rsa)
        )


def _on_rsa_status(change: _Change, signal: RsaRightsChangedInput) -> None:
    new = change.state
    before_work = new.step in (
        Step.INTAKE,
        Step.DIAGNOSIS,
        Step.ORIENTATION,
        Step.ACCOMPANIMENT,
    )
    new.rsa_status = signal.status
    reasons: dict[str, ScalarDetail] = {}
    if signal.suspension_reason:
        reasons["suspension_reason"] = signal.suspension_reason
    if signal.closure_reason:
        reasons["closure_reason"] = signal.closure_reason
    missing_declaration = (
        signal.status is RsaStatus.CLOSED
        and signal.suspension_reason == MISSING_QUARTERLY_DECLARATION
    )
    if missing_declaration:
        reasons["missing_quarterly_declaration"] = True
    change.event(
        "rsa_rights_changed",
        status=signal.status.value,
        effective_on=signal.effective_on.isoformat(),
        **reasons,
    )
    if signal.status is RsaStatus.CLOSED and before_work and not missing_declaration:
        change.close(ExitReason.RIGHTS_CLOSED)


def on_outcome(
    state: JourneyState, signal: JourneyOutcomeInput, now: datetime, sla: Sla
) -> tuple[JourneyState, list[JourneyEvent]]:
    """An outcome from outside the steps (see ``JourneyOutcomeInput``): one timeline event,
    the step unchanged. A closed journey records nothing more."""
    change = _Change(state, now, sla, signal.actor_id)
    if state.step is Step.CLOSED:
        return state, []
    if signal.kind == DECISION_REQUESTED:
        change.state.decision_requested_at = now
    change.event(signal.kind, **signal.detail)
    if signal.kind.startswith(APPOINTMENT_OUTCOME):
        _on_appointment(change, signal)
    if signal.kind in SANCTION_OUTCOMES:
        _on_sanction(change, signal)
    return change.done()


def repeated_breach(state: JourneyState, now: datetime, action: OpenSanctionInput) -> bool:
    """Repeated: a previous case of this journey decided with a sanction in the 12 months
    (``SanctionBounds.repeat_window_months``) before this one opens."""
    previous = [(m.decided_on, m.measure) for m in state.sanctions]
    return is_repeated(previous, now.date(), action.bounds)


# What a ``SanctionCase`` child workflow's steps change in the journey's mark of it.
SANCTION_OUTCOMES = frozenset(
    {
        "sanction_notified",
        "sanction_decided",
        "sanction_lifted",
        "sanction_closed",
        "france_travail_removal_proposed",
    }
)


def _on_sanction(change: _Change, signal: JourneyOutcomeInput) -> None:
    d = signal.detail
    for mark in change.state.sanctions:
        if mark.case_id != d.get("case_id"):
            continue
        if signal.kind == "sanction_notified":
            mark.status = "notified"
            mark.received_on = _day(d.get("received_on"))
            mark.window_ends_on = _day(d.get("window_ends_on"))
        elif signal.kind == "sanction_decided":
            mark.status = "decided"
            mark.measure = str(d.get("measure"))
            rate, months = d.get("rate_percent"), d.get("months")
            mark.rate_percent = rate if isinstance(rate, int) else None
            mark.months = months if isinstance(months, int) else None
            mark.decided_on = change.now.date()
            mark.ends_on = _day(d.get("ends_on"))
        elif signal.kind == "sanction_lifted":
            mark.status = "lifted"
            reason = d.get("reason")
            mark.lift_reason = reason if isinstance(reason, str) else None
        elif signal.kind == "sanction_closed":
            mark.status = "closed"


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


# The kinds an ``Appointment`` child workflow tells its journey: ``appointment_<status>`` and
# ``appointment_attendance_due``.
APPOINTMENT_OUTCOME = "appointment_"


def _on_appointment(change: _Change, signal: JourneyOutcomeInput) -> None:
    """The journey's own mark of the appointment follows its workflow; an orientation
    appointment attended before the orientation step brings the journey to it: the person met
    the orientation team, whose decision is now what the journey waits for."""
    d = signal.detail
    appointment_id, status = d.get("appointment_id"), d.get("status")
    starts_at = d.get("starts_at")
    for mark in change.state.appointments:
        if mark.appointment_id == appointment_id and isinstance(status, str):
            mark.status = status
            if isinstance(starts_at, str):
                mark.starts_at = datetime.fromisoformat(starts_at)
    if (
        signal.kind == "appointment_attended"
        and d.get("appointment_kind") == "orientation"
        and change.state.step in (Step.INTAKE, Step.DIAGNOSIS)
        and not change.state.paused
    ):
        change.enter(Step.ORIENTATION)
        change.event("orientation_appointment_held", appointment_id=appointment_id)


# --- Asking the orientation team for its decision ---

# A request for an orientation decision is a timeline event (``record_outcome``), not a step:
# made once per stay in the orientation step, and again after a week if nobody has decided
# (the step changing is the answer).
ASK_AGAIN_AFTER = timedelta(days=7)


def decision_request_refusal(
    state: JourneyState, asked_at: datetime | None, now: datetime
) -> str | None:
    """Why an orientation decision may not be asked for now (French), or None.
    ``asked_at``: the last request during this stay in the orientation step."""
    if state.step is Step.CLOSED:
        return "Le parcours est clôturé : aucune action n'est plus possible."
    if state.step is not Step.ORIENTATION:
        current = STEP_LABELS[state.step]
        return (
            "Une décision d'orientation se demande à l'étape « Orientation » "
            f"(étape actuelle : « {current} »)."
        )
    if state.paused:
        return "Le parcours est en pause : reprenez-le avant de demander une décision."
    if asked_at is not None and now < asked_at + ASK_AGAIN_AFTER:
        return (
            f"Décision d'orientation déjà demandée le {day_fr(asked_at)} : vous pourrez la "
            f"redemander à partir du {day_fr(asked_again_from(asked_at))} si elle n'est "
            "pas prise d'ici là."
        )
    return None


def asked_again_from(asked_at: datetime) -> datetime:
    return asked_at + ASK_AGAIN_AFTER


def outcome_refusal(state: JourneyState, signal: JourneyOutcomeInput, now: datetime) -> str | None:
    """Why the journey leaves an outcome out of its timeline (a request for a decision that
    crossed the step's change, or sent twice), or None: it records it."""
    if signal.kind == DECISION_REQUESTED:
        return decision_request_refusal(state, state.decision_requested_at, now)
    return None


def on_time(
    state: JourneyState, now: datetime, sla: Sla
) -> tuple[JourneyState, list[JourneyEvent]]:
    """What falls due at ``now``: the end of a pause, a follow-up check-in, a passed deadline."""
    change = _Change(state, now, sla, None)
    new = change.state
    if new.paused_until is not None and now >= new.paused_until:
        _resume(change)
    if legal_clock_running(new, sla):
        due = legal_orientation_due_on(new, sla.france_travail_orients_after_weeks)
        assert due is not None
        if now >= at_midnight(due):
            # The delay passed without a decision: France Travail orients (the workflow asks it).
            new.france_travail_requested_due_on = due
            change.event(FRANCE_TRAVAIL_REQUESTED, due_on=due.isoformat())
    upcoming = next_check_in(new, sla)
    if new.step is Step.FOLLOW_UP and new.check_in_due is None and upcoming and now >= upcoming[1]:
        new.check_in_due = upcoming[0]
        new.deadline = upcoming[1] + timedelta(days=sla.check_in_grace_days)
        change.event("check_in_due", month=upcoming[0])
    notice = social_review_notice_at(new, sla)
    if notice is not None and not new.social_review_noticed and now >= notice:
        assert new.social_review_due_on is not None
        new.social_review_noticed = True
        change.event(
            "social_review_due",
            due_on=new.social_review_due_on.isoformat(),
            extended=new.social_review_extended,
        )
    return change.done()


# Exits counted as "sorties positives" in the indicators.
POSITIVE_EXITS = frozenset({ExitReason.SUSTAINED_EMPLOYMENT, ExitReason.EMPLOYMENT})
