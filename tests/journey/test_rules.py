"""The journey's rules as a référent or a manager meets them: deadlines, check-ins, going back,
pauses, hand-offs, the CAF's decisions, and which actions a journey offers at each step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from parcours.journey import rules
from parcours.journey.messages import (
    Action,
    BeginDiagnosisInput,
    CloseInput,
    CompleteDiagnosisInput,
    DecideOrientationInput,
    EmploymentContract,
    ExitReason,
    HandOffInput,
    JourneyInput,
    JourneyOutcomeInput,
    JourneyState,
    OrientationKind,
    PauseInput,
    ReassignReferentInput,
    RecordCheckInInput,
    RecordEmploymentInput,
    ReportJobLossInput,
    ResumeInput,
    RsaRightsChangedInput,
    RsaStatus,
    SetFollowUpConsentInput,
    SignContractInput,
    Sla,
    Step,
)

SLA = Sla()
RSA_OPENED = date(2025, 1, 6)
# A Friday morning, four days after the RSA opened.
T0 = datetime(2025, 1, 10, 9, 30, tzinfo=UTC)


def started(at: datetime = T0, rsa_opened_on: date | None = RSA_OPENED) -> JourneyState:
    state, events = rules.start(
        JourneyInput(
            beneficiary_id="b-1",
            territory="73",
            referent_id="r-1",
            structure_id="s-1",
            rsa_opened_on=rsa_opened_on,
        ),
        at,
    )
    assert [e.kind for e in events] == ["journey_started"]
    return state


def do(state: JourneyState, action: Action, at: datetime) -> JourneyState:
    new, _ = rules.apply(state, action, at, SLA)
    return new


def kinds(state: JourneyState, action: Action, at: datetime) -> tuple[JourneyState, list[str]]:
    new, events = rules.apply(state, action, at, SLA)
    return new, [e.kind for e in events]


def in_orientation(at: datetime = T0, rsa_opened_on: date | None = RSA_OPENED) -> JourneyState:
    state = do(started(at, rsa_opened_on), BeginDiagnosisInput(), at + timedelta(days=2))
    return do(state, CompleteDiagnosisInput(), at + timedelta(days=10))


ORIENTED_AT = T0 + timedelta(days=20)


def in_accompaniment() -> JourneyState:
    return do(
        in_orientation(),
        DecideOrientationInput(
            kind=OrientationKind.SOCIO_PROFESSIONAL, structure_id="s-2", referent_id="r-2"
        ),
        ORIENTED_AT,
    )


def in_follow_up(since: datetime) -> JourneyState:
    return do(
        in_accompaniment(),
        RecordEmploymentInput(
            started_on=since.date(), contract=EmploymentContract.CDI, follow_up_consent=True
        ),
        since,
    )


def refused(state: JourneyState, action: Action) -> str:
    with pytest.raises(rules.TransitionRefused) as refusal:
        rules.check(state, action)
    # ``apply`` refuses exactly what ``check`` refuses: validators and handlers agree.
    with pytest.raises(rules.TransitionRefused):
        rules.apply(state, action, T0 + timedelta(days=400), SLA)
    return str(refusal.value)


# --- Deadlines ---


def test_intake_and_diagnosis_have_their_own_delays() -> None:
    state = started()
    assert state.step is Step.INTAKE
    assert state.deadline == T0 + timedelta(days=15)
    diagnosing = do(state, BeginDiagnosisInput(), T0 + timedelta(days=3))
    assert diagnosing.deadline == T0 + timedelta(days=33)


def test_orientation_is_due_six_weeks_after_the_rsa_opened() -> None:
    state = in_orientation()
    assert state.step is Step.ORIENTATION
    # 6 January + 6 weeks = 17 February, whenever the diagnosis ended.
    assert state.deadline == datetime(2025, 2, 17, tzinfo=UTC)


def test_orientation_without_a_known_rsa_opening_counts_from_the_diagnosis() -> None:
    state = in_orientation(rsa_opened_on=None)
    assert state.deadline == T0 + timedelta(days=10) + timedelta(weeks=6)


def test_orientation_decided_late_marks_the_journey_stalled_at_once() -> None:
    late = T0 + timedelta(days=90)
    state = do(started(), BeginDiagnosisInput(), late)
    state, events = kinds(state, CompleteDiagnosisInput(), late + timedelta(days=1))
    assert state.stalled
    assert events == ["diagnosis_completed", "deadline_passed"]


def test_a_deadline_found_passed_by_someones_action_is_nobodys_doing() -> None:
    """The référent validates the diagnosis after the orientation's deadline: the diagnosis is
    theirs, the passed deadline is the clock's (no « Délai dépassé … par » them)."""
    late = T0 + timedelta(days=90)
    state = do(started(), BeginDiagnosisInput(actor_id="r-1"), late)
    _, events = rules.apply(state, CompleteDiagnosisInput(actor_id="r-1"), late, SLA)
    assert [(e.kind, e.actor_id) for e in events] == [
        ("diagnosis_completed", "r-1"),
        ("deadline_passed", None),
    ]
    # Histories written before carry the actor on the clock's events: it is not shown.
    assert rules.event_actor("deadline_passed", "r-1") is None
    assert rules.event_actor("check_in_due", "r-1") is None
    assert rules.event_actor("diagnosis_completed", "r-1") == "r-1"


def test_contract_is_due_thirty_days_after_the_orientation() -> None:
    state = in_accompaniment()
    assert (state.step, state.referent_id, state.structure_id) == (
        Step.ACCOMPANIMENT,
        "r-2",
        "s-2",
    )
    assert state.deadline == ORIENTED_AT + timedelta(days=30)


def test_a_signed_contract_is_reviewed_at_its_end_or_after_six_months() -> None:
    signed = ORIENTED_AT + timedelta(days=12)
    with_end = do(
        in_accompaniment(),
        SignContractInput(signed_on=signed.date(), ends_on=date(2025, 8, 31)),
        signed,
    )
    assert with_end.deadline == datetime(2025, 8, 31, tzinfo=UTC)
    open_ended = do(in_accompaniment(), SignContractInput(signed_on=signed.date()), signed)
    assert open_ended.deadline == datetime.combine(signed.date(), datetime.min.time(), UTC) + (
        timedelta(days=180)
    )


def test_a_contract_cannot_end_before_it_is_signed() -> None:
    day = ORIENTED_AT.date()
    reason = refused(in_accompaniment(), SignContractInput(signed_on=day, ends_on=day))
    assert reason == "La date de fin du contrat doit suivre sa date de signature."


def test_a_passed_deadline_stalls_the_journey_once_and_moving_on_clears_it() -> None:
    state = started()
    deadline = T0 + timedelta(days=15)
    assert state.deadline == rules.next_wake(state, SLA) == deadline
    before, none = rules.on_time(state, deadline - timedelta(minutes=1), SLA)
    assert not before.stalled and none == []

    stalled, events = rules.on_time(state, deadline, SLA)
    assert stalled.stalled
    assert [(e.kind, e.detail["step"]) for e in events] == [("deadline_passed", "intake")]
    # Stalled: no more timer for this deadline, and no second alert.
    assert rules.next_wake(stalled, SLA) is None
    again, more = rules.on_time(stalled, deadline + timedelta(days=30), SLA)
    assert again.stalled and more == []

    moved = do(stalled, BeginDiagnosisInput(), deadline + timedelta(days=31))
    assert not moved.stalled
    assert moved.deadline == deadline + timedelta(days=61)


# --- Follow-up in employment ---


def test_check_ins_fall_on_calendar_months_1_3_and_6_after_follow_up_starts() -> None:
    since = datetime(2025, 1, 31, 14, 0, tzinfo=UTC)
    state = in_follow_up(since)
    assert state.step is Step.FOLLOW_UP
    # February has no 31st: the month-1 check-in falls on its last day.
    due_dates = {1: datetime(2025, 2, 28, 14, tzinfo=UTC)}
    due_dates[3] = datetime(2025, 4, 30, 14, tzinfo=UTC)
    due_dates[6] = datetime(2025, 7, 31, 14, tzinfo=UTC)
    for month, due in due_dates.items():
        grace = due + timedelta(days=SLA.check_in_grace_days)
        assert rules.next_check_in(state, SLA) == (month, due)
        assert rules.next_wake(state, SLA) == due
        assert state.deadline == grace
        early, nothing = rules.on_time(state, due - timedelta(seconds=1), SLA)
        assert early.check_in_due is None and nothing == []
        assert "record_check_in" not in rules.available_actions(early)

        state, events = rules.on_time(state, due, SLA)
        assert state.check_in_due == month and not state.stalled
        assert [(e.kind, e.detail) for e in events] == [("check_in_due", {"month": month})]
        assert "record_check_in" in rules.available_actions(state)
        state, recorded = kinds(
            state, RecordCheckInInput(month=month, still_employed=True), due + timedelta(days=2)
        )
    assert recorded == ["check_in_recorded", "closed"]
    assert state.step is Step.CLOSED
    assert state.exit_reason is ExitReason.SUSTAINED_EMPLOYMENT
    assert state.check_ins_done == [1, 3, 6]
    assert rules.next_wake(state, SLA) is None


def test_the_month_1_check_in_of_a_leap_year_falls_on_29_february() -> None:
    since = datetime(2024, 1, 31, 9, 0, tzinfo=UTC)
    state = in_follow_up(datetime(2025, 1, 31, 9, 0, tzinfo=UTC))
    state = state.model_copy(update={"follow_up_since": since})
    assert rules.next_check_in(state, SLA) == (1, datetime(2024, 2, 29, 9, tzinfo=UTC))


def test_an_overdue_check_in_stalls_the_journey() -> None:
    state = in_follow_up(datetime(2025, 3, 3, 10, tzinfo=UTC))
    due, _ = rules.on_time(state, datetime(2025, 4, 3, 10, tzinfo=UTC), SLA)
    assert rules.next_wake(due, SLA) == datetime(2025, 4, 18, 10, tzinfo=UTC)
    late, events = rules.on_time(due, datetime(2025, 4, 18, 10, tzinfo=UTC), SLA)
    assert late.stalled and [e.kind for e in events] == ["deadline_passed"]


def test_only_the_check_in_due_can_be_recorded() -> None:
    state = in_follow_up(datetime(2025, 3, 3, 10, tzinfo=UTC))
    assert refused(state, RecordCheckInInput(month=1, still_employed=True)) == (
        "Aucun point de suivi n'est attendu pour l'instant."
    )
    due, _ = rules.on_time(state, datetime(2025, 4, 3, 10, tzinfo=UTC), SLA)
    assert refused(due, RecordCheckInInput(month=3, still_employed=True)) == (
        "Le point de suivi attendu est celui du mois 1, pas du mois 3."
    )


def test_declining_follow_up_closes_the_journey_as_employment() -> None:
    hired = ORIENTED_AT + timedelta(days=40)
    employed, events = kinds(
        in_accompaniment(),
        RecordEmploymentInput(started_on=hired.date(), contract=EmploymentContract.CDD),
        hired,
    )
    assert employed.step is Step.EMPLOYMENT and events == ["employment_recorded"]
    assert employed.deadline == hired + timedelta(days=SLA.follow_up_consent_days)
    closed, events = kinds(employed, SetFollowUpConsentInput(consent=False), hired)
    assert events == ["follow_up_consent", "closed"]
    assert (closed.step, closed.exit_reason) == (Step.CLOSED, ExitReason.EMPLOYMENT)


def test_withdrawing_consent_during_follow_up_closes_the_journey() -> None:
    state = in_follow_up(datetime(2025, 3, 3, 10, tzinfo=UTC))
    assert refused(state, SetFollowUpConsentInput(consent=True)) == (
        "La personne a déjà accepté le suivi dans l'emploi."
    )
    closed = do(state, SetFollowUpConsentInput(consent=False), datetime(2025, 3, 20, tzinfo=UTC))
    assert closed.exit_reason is ExitReason.EMPLOYMENT


def test_a_job_lost_during_follow_up_goes_back_to_accompaniment() -> None:
    lost_at = datetime(2025, 3, 20, 10, tzinfo=UTC)
    state, events = kinds(
        in_follow_up(datetime(2025, 3, 3, 10, tzinfo=UTC)), ReportJobLossInput(), lost_at
    )
    assert events == ["job_lost"]
    assert state.step is Step.ACCOMPANIMENT
    assert (state.employment_started_on, state.follow_up_since, state.check_in_due) == (
        None,
        None,
        None,
    )
    # A new contract is due, as after an orientation.
    assert state.deadline == lost_at + timedelta(days=SLA.contract_days_after_orientation)
    assert state.orientation is OrientationKind.SOCIO_PROFESSIONAL


def test_a_check_in_that_finds_the_person_out_of_work_goes_back_to_accompaniment() -> None:
    state = in_follow_up(datetime(2025, 3, 3, 10, tzinfo=UTC))
    due, _ = rules.on_time(state, datetime(2025, 4, 3, 10, tzinfo=UTC), SLA)
    back, events = kinds(
        due, RecordCheckInInput(month=1, still_employed=False), datetime(2025, 4, 4, tzinfo=UTC)
    )
    assert events == ["check_in_recorded"]
    assert back.step is Step.ACCOMPANIMENT and back.check_ins_done == [1]


# --- Pause, reassignment, hand-off ---


def test_a_pause_with_an_end_date_resumes_by_itself_that_day() -> None:
    state = started()
    assert state.deadline is not None
    paused = do(state, PauseInput(until=(T0 + timedelta(days=10)).date()), T0 + timedelta(days=2))
    end = datetime.combine(paused.paused_until.date(), datetime.min.time(), tzinfo=UTC)  # type: ignore[union-attr]
    assert rules.next_wake(paused, SLA) == end
    resumed, events = rules.on_time(paused, end, SLA)
    assert not resumed.paused and [e.kind for e in events] == ["resumed"]
    assert resumed.deadline == state.deadline + (end - (T0 + timedelta(days=2)))


def test_pause_and_resume_shift_the_deadline_by_the_time_paused() -> None:
    state = started()
    deadline = state.deadline
    assert deadline is not None
    paused = do(state, PauseInput(), T0 + timedelta(days=5))
    assert paused.paused
    # While paused (with no end date), the deadline neither wakes the journey nor stalls it.
    assert rules.next_wake(paused, SLA) is None
    still, _ = rules.on_time(paused, deadline + timedelta(days=10), SLA)
    assert not still.stalled
    resumed = do(paused, ResumeInput(), T0 + timedelta(days=5 + 20))
    assert not resumed.paused
    assert resumed.deadline == deadline + timedelta(days=20)
    assert not resumed.stalled


def test_a_paused_journey_refuses_to_move_forward() -> None:
    paused = do(in_accompaniment(), PauseInput(), ORIENTED_AT + timedelta(days=1))
    reason = refused(paused, SignContractInput(signed_on=ORIENTED_AT.date()))
    assert reason == "Le parcours est en pause : reprenez-le avant de continuer."
    assert refused(paused, PauseInput()) == "Le parcours est déjà en pause."
    assert refused(started(), ResumeInput()) == "Le parcours n'est pas en pause."


def test_reassigning_changes_the_referent_and_keeps_the_step() -> None:
    state = in_accompaniment()
    moved, events = kinds(state, ReassignReferentInput(referent_id="r-3"), ORIENTED_AT)
    assert events == ["referent_reassigned"]
    assert (moved.step, moved.referent_id, moved.structure_id) == (
        Step.ACCOMPANIMENT,
        "r-3",
        "s-2",
    )
    assert moved.deadline == state.deadline
    assert refused(moved, ReassignReferentInput(referent_id="r-3")) == (
        "Cette personne suit déjà ce parcours."
    )


@pytest.mark.parametrize("step", [Step.DIAGNOSIS, Step.ORIENTATION, Step.ACCOMPANIMENT])
def test_a_hand_off_sends_the_journey_back_to_orientation(step: Step) -> None:
    state = {
        Step.DIAGNOSIS: lambda: do(started(), BeginDiagnosisInput(), T0),
        Step.ORIENTATION: in_orientation,
        Step.ACCOMPANIMENT: in_accompaniment,
    }[step]()
    assert state.step is step
    at = T0 + timedelta(days=30)
    moved, events = kinds(state, HandOffInput(territory="74"), at)
    assert events == ["handed_off"]
    assert moved.step is Step.ORIENTATION
    assert (moved.territory, moved.referent_id, moved.structure_id, moved.orientation) == (
        "74",
        None,
        None,
        None,
    )
    # The receiving département gets its own six weeks.
    assert moved.deadline == at + timedelta(weeks=6)
    assert refused(moved, HandOffInput(territory="74")) == (
        "Le parcours est déjà rattaché à ce département."
    )


def test_a_hand_off_in_follow_up_keeps_the_follow_up() -> None:
    state = in_follow_up(datetime(2025, 3, 3, 10, tzinfo=UTC))
    moved = do(state, HandOffInput(territory="2A"), datetime(2025, 3, 10, tzinfo=UTC))
    assert (moved.step, moved.territory, moved.referent_id) == (Step.FOLLOW_UP, "2A", None)
    assert moved.deadline == state.deadline


# --- The CAF's decisions on RSA rights ---


def rights(status: RsaStatus) -> RsaRightsChangedInput:
    return RsaRightsChangedInput(status=status, effective_on=date(2025, 5, 1))


@pytest.mark.parametrize(
    "reach",
    [started, in_orientation, in_accompaniment],
    ids=["intake", "orientation", "accompaniment"],
)
def test_rsa_rights_closed_before_employment_close_the_journey(
    reach: Callable[[], JourneyState],
) -> None:
    state, events = rules.on_rsa_rights(
        reach(), rights(RsaStatus.CLOSED), datetime(2025, 5, 2, tzinfo=UTC), SLA
    )
    assert [e.kind for e in events] == ["rsa_rights_changed", "closed"]
    assert (state.step, state.exit_reason, state.rsa_status) == (
        Step.CLOSED,
        ExitReason.RIGHTS_CLOSED,
        RsaStatus.CLOSED,
    )


def test_rsa_rights_closed_during_follow_up_do_not_end_the_follow_up() -> None:
    state = in_follow_up(datetime(2025, 3, 3, 10, tzinfo=UTC))
    after, events = rules.on_rsa_rights(
        state, rights(RsaStatus.CLOSED), datetime(2025, 3, 20, tzinfo=UTC), SLA
    )
    assert [e.kind for e in events] == ["rsa_rights_changed"]
    assert (after.step, after.rsa_status, after.exit_reason) == (
        Step.FOLLOW_UP,
        RsaStatus.CLOSED,
        None,
    )


def test_rsa_rights_suspended_are_noted_and_a_repeated_status_changes_nothing() -> None:
    state = in_orientation()
    suspended, events = rules.on_rsa_rights(
        state, rights(RsaStatus.SUSPENDED), datetime(2025, 2, 1, tzinfo=UTC), SLA
    )
    assert [e.kind for e in events] == ["rsa_rights_changed"]
    assert (suspended.step, suspended.rsa_status) == (Step.ORIENTATION, RsaStatus.SUSPENDED)
    again, none = rules.on_rsa_rights(
        suspended, rights(RsaStatus.SUSPENDED), datetime(2025, 2, 2, tzinfo=UTC), SLA
    )
    assert none == [] and again == suspended


def test_the_caf_cannot_reopen_a_closed_journey() -> None:
    closed = do(started(), CloseInput(exit_reason=ExitReason.DECLINED), T0)
    after, events = rules.on_rsa_rights(
        closed, rights(RsaStatus.OPEN), datetime(2025, 5, 2, tzinfo=UTC), SLA
    )
    assert events == [] and after == closed


# --- What a journey offers at each step ---

ALWAYS = ["pause", "reassign_referent", "hand_off", "close"]


def _follow_up_with_check_in_due() -> JourneyState:
    state = in_follow_up(datetime(2025, 3, 3, 10, tzinfo=UTC))
    return rules.on_time(state, datetime(2025, 4, 3, 10, tzinfo=UTC), SLA)[0]


def _employed() -> JourneyState:
    hired = ORIENTED_AT + timedelta(days=3)
    return do(
        in_accompaniment(),
        RecordEmploymentInput(started_on=hired.date(), contract=EmploymentContract.INTERIM),
        hired,
    )


AVAILABLE = {
    "intake": (started, ["begin_diagnosis", *ALWAYS]),
    "diagnosis": (
        lambda: do(started(), BeginDiagnosisInput(), T0),
        ["complete_diagnosis", *ALWAYS],
    ),
    "orientation": (in_orientation, ["decide_orientation", *ALWAYS]),
    "accompaniment": (in_accompaniment, ["sign_contract", "record_employment", *ALWAYS]),
    "employment": (_employed, ["set_follow_up_consent", "report_job_loss", *ALWAYS]),
    "follow_up": (
        lambda: in_follow_up(datetime(2025, 3, 3, 10, tzinfo=UTC)),
        ["set_follow_up_consent", "report_job_loss", *ALWAYS],
    ),
    "follow_up, check-in due": (
        _follow_up_with_check_in_due,
        ["set_follow_up_consent", "record_check_in", "report_job_loss", *ALWAYS],
    ),
    "paused": (
        lambda: do(in_accompaniment(), PauseInput(), ORIENTED_AT),
        ["resume", "reassign_referent", "hand_off", "close"],
    ),
    "closed": (lambda: do(started(), CloseInput(exit_reason=ExitReason.OTHER), T0), []),
}


@pytest.mark.parametrize("situation", list(AVAILABLE))
def test_available_actions_per_step(situation: str) -> None:
    build, expected = AVAILABLE[situation]
    state = build()
    assert sorted(rules.available_actions(state)) == sorted(expected)
    # Whatever is not offered is refused with a reason in French.
    for name in rules.ACTIONS:
        if name not in expected:
            reason = rules.refusal(state, name)
            assert reason and reason.endswith("."), name


def test_a_step_gate_names_the_step_needed_and_the_current_one() -> None:
    reason = refused(started(), CompleteDiagnosisInput())
    assert reason == (
        "Action possible seulement à l'étape « Diagnostic » (étape actuelle : « Accueil »)."
    )
    employed_or_follow_up = refused(in_accompaniment(), ReportJobLossInput())
    assert employed_or_follow_up == (
        "Action possible seulement à l'étape « Emploi » ou « Suivi dans l'emploi » "
        "(étape actuelle : « Accompagnement »)."
    )


def test_nothing_is_possible_on_a_closed_journey() -> None:
    closed = do(started(), CloseInput(exit_reason=ExitReason.MOVED_AWAY), T0)
    assert refused(closed, CloseInput(exit_reason=ExitReason.OTHER)) == (
        "Le parcours est clôturé : aucune action n'est plus possible."
    )


def test_an_outcome_from_outside_is_one_timeline_event_and_keeps_the_step() -> None:
    state = in_accompaniment()
    outcome = JourneyOutcomeInput(
        kind="training_approved", actor_id="f-1", detail={"request_id": "tr-1"}
    )
    after, events = rules.on_outcome(state, outcome, T0 + timedelta(days=40), SLA)
    assert after.step is Step.ACCOMPANIMENT and after.step_since == state.step_since
    assert [(e.kind, e.actor_id, e.detail) for e in events] == [
        ("training_approved", "f-1", {"request_id": "tr-1"})
    ]
    closed = do(started(), CloseInput(exit_reason=ExitReason.DECLINED), T0)
    assert rules.on_outcome(closed, outcome, T0, SLA) == (closed, [])
