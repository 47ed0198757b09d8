"""The ``Journey`` workflow: one per person, from intake to the end of follow-up.

It holds the journey's state and runs the pure rules of ``parcours.journey.rules``: human
actions arrive as updates whose validators refuse what the journey does not allow now; the
CAF's changes of rights arrive as signals; deadlines and follow-up check-ins are durable
timers. Every change is written to the SQL read model by an activity before the update
returns, so the pages show it at once. Once closed, it withdraws what still hangs from it (its
training requests and orientations waiting for an answer) before it ends.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from parcours.appointments.messages import (
        APPOINTMENT_WORKFLOW,
        AppointmentKind,
        AppointmentMode,
        AppointmentStart,
        appointment_workflow_id,
    )
    from parcours.core.messages import READ_MODEL_RETRY, READ_MODEL_TIMEOUT
    from parcours.journey import rules
    from parcours.journey.messages import (
        DEADLINE_KEY,
        RECONCILE_JOURNEYS,
        RECONCILE_WORKFLOW,
        RECORD_JOURNEY_EVENT,
        RECORD_JOURNEY_EVENTS,
        REFERENT_KEY,
        SETTLE_REQUESTS,
        STEP_KEY,
        TERRITORY_KEY,
        Action,
        AnsweredUpdate,
        AppointmentMark,
        BeginDiagnosisInput,
        CloseInput,
        CompleteDiagnosisInput,
        ConcludeSocialReviewInput,
        DecideOrientationInput,
        DecideReorientationInput,
        HandOffInput,
        JourneyEvent,
        JourneyInput,
        JourneyOutcomeInput,
        JourneyResult,
        JourneyState,
        JourneyTimeline,
        OpenSanctionInput,
        OrientToServiceInput,
        PauseInput,
        PlanAppointmentInput,
        ReassignReferentInput,
        ReconcileInput,
        ReconcileResult,
        RecordCheckInInput,
        RecordEmploymentInput,
        RecordJourneyEventsInput,
        ReportJobLossInput,
        RequestReorientationInput,
        RequestTrainingInput,
        ResumeInput,
        RsaRightsChangedInput,
        SearchValues,
        SetFollowUpConsentInput,
        SettleRequestsInput,
        SettleRequestsResult,
        SignContractInput,
        Sla,
        Step,
        search_values,
    )
    from parcours.orientations.messages import (
        SERVICE_ORIENTATION_WORKFLOW,
        ServiceOrientationStart,
        service_orientation_workflow_id,
    )
    from parcours.partners.messages import (
        REQUEST_FRANCE_TRAVAIL_ORIENTATION,
        FranceTravailOrientationRequestInput,
        PartnerReceipt,
        call_partner,
        failure_of,
        idempotency_key,
    )
    from parcours.sanctions.messages import (
        REMOBILISE_SIGNAL,
        SANCTION_CASE_WORKFLOW,
        RemobiliseInput,
        SanctionCaseStart,
        sanction_case_workflow_id,
    )
    from parcours.training_requests.messages import (
        TRAINING_REQUEST_WORKFLOW,
        TrainingRequestStart,
        training_request_workflow_id,
    )


# A pause with an end date resumes by itself at that date (added after the first release).
PAUSE_UNTIL_PATCH = "pause-until-timer"

# The state is adopted before the read model is written (added after the first release).
ADOPT_BEFORE_PROJECTION_PATCH = "adopt-before-projection"

# The read model is written by a local activity: one short SQL transaction in the worker that
# runs the workflow, with no activity task through the server (added after the first release).
LOCAL_READ_MODEL_PATCH = "read-model-local-activity"

# The read model is written by an activity the engine has recorded with the transition: a
# local activity wrote SQL before the engine recorded anything, so a worker or server dying in
# between left in SQL a transition the journey never made (added after the local activity).
AFTER_RECORD_PATCH = "read-model-after-record"

# A closed journey withdraws its training requests and orientations still waiting for an answer
# (added after the child workflows: journeys closed before left them waiting).
SETTLE_ON_CLOSE_PATCH = "settle-requests-on-close"

# A request for an orientation decision that crossed the step's change, or came twice within
# a week, is left out of the timeline (added with the requests; before, every outcome was
# recorded).
DECISION_REQUEST_CHECK_PATCH = "decision-request-check"

# Past the legal orientation delay, the journey asks France Travail to orient (issue 15: a new
# partner call after a timer; journeys started before have no legal clock and never get here).
FRANCE_TRAVAIL_ORIENTATION_PATCH = "france-travail-orientation"
# A moment already due when the journey starts waiting (a person enrolled past the legal
# orientation delay, as most of a first CAF import are) is handled at once, not after a timer of
# a millisecond, which the engine fires on its next second and pays with a timer and a
# workflow task (added after the legal clock; histories with such a timer replay with it).
DUE_AT_ONCE_PATCH = "due-at-once"
# A journey continues as new once its run's history passes ``Sla.history_events_bound`` events, not
# only when the server suggests it (4,096 events): an update reaching a journey the worker has
# forgotten replays the run's whole history first, and a journey lives for years (added after
# the first release; runs recorded before replay as they were).
BOUNDED_HISTORY_PATCH = "bounded-history"
# An orientation to the social track schedules its review, a durable timer (art. D.262-65-2-1
# CASF; added with the reorientation: journeys oriented before have no review).
SOCIAL_REVIEW_PATCH = "social-track-review"
# Signing or updating the contract tells the journey's open sanction cases (``remobilise``):
# a suspension is lifted at once (added with sanction cases, issue 15).
SANCTION_LIFT_PATCH = "sanction-lift-on-contract"

# Events the workflow keeps in memory for the reconciler (``timeline`` query).
RECENT_EVENTS = 100
# Actions whose answers a run hands to the next when it continues as new: a client retrying
# after a lost answer does so within seconds, and a journey takes a few actions a minute at most.
ANSWERS_CARRIED = 16


# Outside the sandbox in production (see ``Settings.workflow_sandbox_everywhere``): this module
# is deterministic by construction — rules are pure, time is ``workflow.now()`` — and the tests
# run it sandboxed.
@workflow.defn(name="Journey", sandboxed=False)
class Journey:
    @workflow.init
    def __init__(self, input: JourneyInput) -> None:
        # The state exists before the first update can arrive.
        self._input = input
        self._pending: list[JourneyEvent] = []
        # What visibility holds, to upsert only what changes.
        self._visible: SearchValues | None = None
        # The actions answered, by update id, oldest first (see ``_earlier_answer``).
        self._answered = {a.update_id: a.state for a in input.answered}
        if input.state is not None:
            self.state = input.state
        elif input.started_at is not None:
            # The platform wrote the start's events and search attributes with the start.
            self.state, events = rules.start(input, input.started_at)
            self.state = self.state.model_copy(update={"seq": len(events)})
            self._visible = search_values(self.state)
        else:
            # Journeys started before: the workflow writes its first events, first of all.
            self.state, self._pending = rules.start(input, workflow.now())
        self._lock = asyncio.Lock()
        self._changes = 0
        # The latest events recorded, numbered (the ``timeline`` query's answer).
        self._recent: list[tuple[int, JourneyEvent]] = []
        # The child workflows this run started, settled when the journey closes (with those
        # SQL knows of: earlier runs' children, and journeys started before this was kept).
        self._training_requests: list[str] = []
        self._orientations: list[str] = []
        # The request to France Travail past the legal orientation delay, while it runs.
        self._asking: asyncio.Task[None] | None = None
        # The state whose due moment was handled without a timer (``DUE_AT_ONCE_PATCH``).
        self._due_at_once_seq: int | None = None

    @property
    def _current(self) -> bool:
        """Started by this version of the platform (one activity per transition, search
        attributes upserted only when they change); older runs replay as they were."""
        return self._input.started_at is not None

    @workflow.run
    async def run(self, input: JourneyInput) -> JourneyResult:
        async with self._lock:
            await self._write_start()
        while self.state.step is not Step.CLOSED:
            await self._wait_for_change_or_time()
            if self._history_too_long():
                # France Travail's answer (or the reason it was not asked) first, too.
                await workflow.wait_condition(
                    lambda: (
                        workflow.all_handlers_finished()
                        and (self._asking is None or self._asking.done())
                    )
                )
                answered = [
                    AnsweredUpdate(update_id=update_id, state=state)
                    for update_id, state in list(self._answered.items())[-ANSWERS_CARRIED:]
                ]
                workflow.continue_as_new(
                    input.model_copy(update={"state": self.state, "answered": answered})
                )
        if workflow.patched(SETTLE_ON_CLOSE_PATCH):
            await self._settle_requests()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return JourneyResult(
            beneficiary_id=self.state.beneficiary_id,
            exit_reason=self.state.exit_reason,
            closed_at=self.state.step_since,
        )

    def _history_too_long(self) -> bool:
        """Time to continue as new: the server suggests it, or this run's history passed the
        bound a cold update replays quickly (``make bench``: ``cold_update_p95_ms``)."""
        info = workflow.info()
        if info.is_continue_as_new_suggested():
            return True
        bound = self._sla.history_events_bound
        return info.get_current_history_length() > bound and workflow.patched(BOUNDED_HISTORY_PATCH)

    async def _wait_for_change_or_time(self) -> None:
        seen = self._changes
        wake = rules.next_wake(self.state, self._sla)
        if (
            wake is not None
            and wake <= workflow.now()
            and self.state.seq != self._due_at_once_seq
            and workflow.patched(DUE_AT_ONCE_PATCH)
        ):
            # Due already: at once (once per state: a rule with nothing to do waits as before).
            self._due_at_once_seq = self.state.seq
            await self._on_time()
            return
        timeout = None if wake is None else max((wake - workflow.now()).total_seconds(), 0.001)
        try:
            await workflow.wait_condition(
                lambda: self._changes != seen or workflow.info().is_continue_as_new_suggested(),
                timeout=timeout,
            )
        except TimeoutError:
            await self._on_time()

    async def _on_time(self) -> None:
        """A moment came: a deadline, the legal orientation delay, a check-in, a review."""
        async with self._lock:
            state, events = rules.on_time(self.state, workflow.now(), self._sla)
            await self._commit(state, events)
            asked = self.state.seq
        if any(e.kind == rules.FRANCE_TRAVAIL_REQUESTED for e in events) and workflow.patched(
            FRANCE_TRAVAIL_ORIENTATION_PATCH
        ):
            # Beside the journey's own waits: France Travail may be away for hours, and
            # the journey's deadlines, check-ins and close go on meanwhile.
            self._asking = asyncio.create_task(self._ask_france_travail(asked))

    async def _ask_france_travail(self, seq: int) -> None:
        """The legal delay passed without a decision: France Travail is asked to orient (once,
        by the idempotency key of this request's event number). Its decision comes back as the
        ``decide_orientation`` update (a signed callback); the timeline says whether it was
        asked, or why not. Outside the lock, as a task of its own: France Travail may be away
        for hours, and the département may still decide meanwhile."""
        due = self.state.france_travail_requested_due_on
        assert due is not None
        try:
            receipt = await call_partner(
                REQUEST_FRANCE_TRAVAIL_ORIENTATION,
                FranceTravailOrientationRequestInput(
                    beneficiary_id=self.state.beneficiary_id,
                    idempotency_key=idempotency_key(f"france-travail-orientation-{seq}"),
                    journey_id=self.state.id,
                    due_on=due,
                    territory=self.state.territory,
                ),
                PartnerReceipt,
            )
            outcome = JourneyOutcomeInput(
                kind="france_travail_orientation_sent", detail={"reference": receipt.reference}
            )
        except ActivityError as error:
            outcome = JourneyOutcomeInput(
                kind="france_travail_orientation_not_sent", detail={"reason": failure_of(error)}
            )
        async with self._lock:
            state, events = rules.on_outcome(self.state, outcome, workflow.now(), self._sla)
            if events:
                await self._commit(state, events)

    async def _settle_requests(self) -> None:
        """Closed (by a référent, by the CAF, at the end of follow-up): the training requests
        still waiting for their funder's decision and the orientations still waiting for their
        structure's answer are withdrawn. An activity lists them and signals each child
        ``withdraw``; each one tells its funder or structure and writes its own read model
        (the journey's timeline, closed, is not told)."""
        await workflow.execute_activity(
            SETTLE_REQUESTS,
            SettleRequestsInput(
                beneficiary_id=self.state.beneficiary_id,
                training_request_ids=self._training_requests,
                orientation_ids=self._orientations,
            ),
            result_type=SettleRequestsResult,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=READ_MODEL_RETRY,
        )

    @property
    def _sla(self) -> Sla:
        return self._input.sla

    async def _write_start(self) -> None:
        """Under the lock: the start's events, once, before anything else."""
        if self._pending:
            events, self._pending = self._pending, []
            await self._commit(self.state, events)

    async def _commit(self, state: JourneyState, events: list[JourneyEvent]) -> None:
        """Adopt the new state, tell visibility, then write each event to the read model.

        Adopting first means that once a page shows the change, the next update's validator
        already sees it too (histories recorded before this order keep the old one).
        """
        batch = RecordJourneyEventsInput(
            journey=state.model_copy(update={"seq": self.state.seq + len(events)}),
            first_seq=self.state.seq + 1,
            events=events,
        )
        adopt_first = self._current or workflow.patched(ADOPT_BEFORE_PROJECTION_PATCH)
        if adopt_first:
            self._adopt(batch.journey)
        self._remember(batch)
        if self._current:
            if events and workflow.patched(AFTER_RECORD_PATCH):
                # Scheduled with the transition, in the same workflow task: once SQL shows the
                # change, the engine has recorded it. The update answers after the write.
                await workflow.execute_activity(
                    RECORD_JOURNEY_EVENTS,
                    batch,
                    start_to_close_timeout=READ_MODEL_TIMEOUT,
                    retry_policy=READ_MODEL_RETRY,
                )
            elif events and workflow.patched(LOCAL_READ_MODEL_PATCH):
                await workflow.execute_local_activity(
                    RECORD_JOURNEY_EVENTS,
                    batch,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=READ_MODEL_RETRY,
                )
            elif events:
                await workflow.execute_activity(
                    RECORD_JOURNEY_EVENTS,
                    batch,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=READ_MODEL_RETRY,
                )
        else:
            for one in batch.each():
                await workflow.execute_activity(
                    RECORD_JOURNEY_EVENT,
                    one,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=READ_MODEL_RETRY,
                )
        if not adopt_first:
            self._adopt(batch.journey)

    def _remember(self, batch: RecordJourneyEventsInput) -> None:
        self._recent.extend(enumerate(batch.events, start=batch.first_seq))
        del self._recent[:-RECENT_EVENTS]

    def _adopt(self, state: JourneyState) -> None:
        self.state = state
        self._changes += 1
        self._upsert_search_attributes()

    def _upsert_search_attributes(self) -> None:
        s = self.state
        updates: list[SearchAttributeUpdate] = [
            STEP_KEY.value_set(s.step.value),
            TERRITORY_KEY.value_set(s.territory),
            REFERENT_KEY.value_set(s.referent_id) if s.referent_id else REFERENT_KEY.value_unset(),
            DEADLINE_KEY.value_set(s.deadline) if s.deadline else DEADLINE_KEY.value_unset(),
        ]
        if self._current:
            # Each upsert is a visibility write: send only what changed, or nothing.
            values, before = search_values(s), self._visible or {}
            names = [STEP_KEY.name, TERRITORY_KEY.name, REFERENT_KEY.name, DEADLINE_KEY.name]
            updates = [
                u
                for u, name in zip(updates, names, strict=True)
                if values[name] != before.get(name)
            ]
            self._visible = values
            if not updates:
                return
        workflow.upsert_search_attributes(updates)

    def _earlier_answer(self) -> JourneyState | None:
        """The answer already given to this very update (same id), if the previous run gave it.

        The engine answers an update sent again with its first answer, but only within the
        run that applied it: once the journey has continued as new, the same action retried
        after a lost answer would be applied a second time (a second pause) or refused (« déjà
        en pause ») although it was done. The runs hand on their last answers for that."""
        info = workflow.current_update_info()
        return None if info is None else self._answered.get(info.id)

    def _keep_answer(self, state: JourneyState) -> None:
        info = workflow.current_update_info()
        if info is not None:
            self._answered[info.id] = state
            if len(self._answered) > ANSWERS_CARRIED:
                del self._answered[next(iter(self._answered))]

    async def _act(self, action: Action) -> JourneyState:
        if (earlier := self._earlier_answer()) is not None:
            return earlier
        async with self._lock:
            return await self._act_locked(action)

    async def _act_locked(self, action: Action) -> JourneyState:
        """Under the lock: apply ``action``, commit its events, keep the answer."""
        await self._write_start()
        sla = self._sla
        if isinstance(action, DecideOrientationInput) and not workflow.patched(SOCIAL_REVIEW_PATCH):
            # Orientations decided before the review existed schedule none.
            sla = sla.model_copy(update={"social_review_months": 0})
        try:
            state, events = rules.apply(self.state, action, workflow.now(), sla)
            if isinstance(action, PauseInput) and not (
                self._current or workflow.patched(PAUSE_UNTIL_PATCH)
            ):
                # Journeys paused before pauses could end by themselves keep no timer.
                state = state.model_copy(update={"paused_until": None})
        except rules.TransitionRefused as refused:
            # The state moved between validation and the lock: refuse, do not fail the run.
            raise ApplicationError(
                str(refused), type="TransitionRefused", non_retryable=True
            ) from refused
        await self._commit(state, events)
        self._keep_answer(self.state)
        return self.state

    def _validate(self, action: Action) -> None:
        if self._earlier_answer() is not None:
            return  # applied by the previous run: answered again, not checked again
        try:
            rules.check(self.state, action)
        except rules.TransitionRefused as refused:
            raise ApplicationError(
                str(refused), type="TransitionRefused", non_retryable=True
            ) from refused

    # --- Queries and signals ---

    @workflow.query
    def current(self) -> JourneyState:
        return self.state

    @workflow.query
    def timeline(self) -> JourneyTimeline:
        """The journey as the engine recorded it and its latest events, numbered: what the
        reconciler compares the read model with (``JourneyReconciler``)."""
        return JourneyTimeline(
            state=self.state,
            first_seq=self._recent[0][0] if self._recent else self.state.seq + 1,
            events=[event for _, event in self._recent],
        )

    @workflow.signal
    async def rsa_rights_changed(self, signal: RsaRightsChangedInput) -> None:
        async with self._lock:
            await self._write_start()
            state, events = rules.on_rsa_rights(self.state, signal, workflow.now(), self._sla)
            if events:
                await self._commit(state, events)

    @workflow.signal
    async def record_outcome(self, signal: JourneyOutcomeInput) -> None:
        """An outcome from a partner or a child workflow, for the timeline (added after the
        first release; a new handler, so older histories replay unchanged)."""
        async with self._lock:
            await self._write_start()
            refused = rules.outcome_refusal(self.state, signal, workflow.now())
            if refused and workflow.patched(DECISION_REQUEST_CHECK_PATCH):
                workflow.logger.info(
                    "outcome left out", extra={"kind": signal.kind, "reason": refused}
                )
                return
            state, events = rules.on_outcome(self.state, signal, workflow.now(), self._sla)
            if events:
                await self._commit(state, events)

    # --- Updates: one per human action, each with its validator ---

    @workflow.update
    async def begin_diagnosis(self, action: BeginDiagnosisInput) -> JourneyState:
        return await self._act(action)

    @begin_diagnosis.validator
    def _v_begin_diagnosis(self, action: BeginDiagnosisInput) -> None:
        self._validate(action)

    @workflow.update
    async def complete_diagnosis(self, action: CompleteDiagnosisInput) -> JourneyState:
        return await self._act(action)

    @complete_diagnosis.validator
    def _v_complete_diagnosis(self, action: CompleteDiagnosisInput) -> None:
        self._validate(action)

    @workflow.update
    async def decide_orientation(self, action: DecideOrientationInput) -> JourneyState:
        return await self._act(action)

    @decide_orientation.validator
    def _v_decide_orientation(self, action: DecideOrientationInput) -> None:
        self._validate(action)

    @workflow.update
    async def sign_contract(self, action: SignContractInput) -> JourneyState:
        if (earlier := self._earlier_answer()) is not None:
            return earlier
        async with self._lock:
            state = await self._act_locked(action)
            cases = rules.open_sanctions(state)
            if cases and workflow.patched(SANCTION_LIFT_PATCH):
                # Remobilisation: each open case lifts a running sanction at once.
                for mark in cases:
                    case = workflow.get_external_workflow_handle(
                        sanction_case_workflow_id(mark.case_id)
                    )
                    try:
                        await case.signal(
                            REMOBILISE_SIGNAL, RemobiliseInput(signed_on=action.signed_on)
                        )
                    except FailureError as error:
                        workflow.logger.info(
                            "sanction case not told",
                            extra={"case_id": mark.case_id, "error": str(error)},
                        )
            return state

    @sign_contract.validator
    def _v_sign_contract(self, action: SignContractInput) -> None:
        self._validate(action)

    @workflow.update
    async def record_employment(self, action: RecordEmploymentInput) -> JourneyState:
        return await self._act(action)

    @record_employment.validator
    def _v_record_employment(self, action: RecordEmploymentInput) -> None:
        self._validate(action)

    @workflow.update
    async def set_follow_up_consent(self, action: SetFollowUpConsentInput) -> JourneyState:
        return await self._act(action)

    @set_follow_up_consent.validator
    def _v_set_follow_up_consent(self, action: SetFollowUpConsentInput) -> None:
        self._validate(action)

    @workflow.update
    async def record_check_in(self, action: RecordCheckInInput) -> JourneyState:
        return await self._act(action)

    @record_check_in.validator
    def _v_record_check_in(self, action: RecordCheckInInput) -> None:
        self._validate(action)

    @workflow.update
    async def report_job_loss(self, action: ReportJobLossInput) -> JourneyState:
        return await self._act(action)

    @report_job_loss.validator
    def _v_report_job_loss(self, action: ReportJobLossInput) -> None:
        self._validate(action)

    @workflow.update
    async def pause(self, action: PauseInput) -> JourneyState:
        return await self._act(action)

    @pause.validator
    def _v_pause(self, action: PauseInput) -> None:
        self._validate(action)

    @workflow.update
    async def resume(self, action: ResumeInput) -> JourneyState:
        return await self._act(action)

    @resume.validator
    def _v_resume(self, action: ResumeInput) -> None:
        self._validate(action)

    @workflow.update
    async def reassign_referent(self, action: ReassignReferentInput) -> JourneyState:
        return await self._act(action)

    @reassign_referent.validator
    def _v_reassign_referent(self, action: ReassignReferentInput) -> None:
        self._validate(action)

    @workflow.update
    async def hand_off(self, action: HandOffInput) -> JourneyState:
        return await self._act(action)

    @hand_off.validator
    def _v_hand_off(self, action: HandOffInput) -> None:
        self._validate(action)

    @workflow.update
    async def close(self, action: CloseInput) -> JourneyState:
        return await self._act(action)

    @close.validator
    def _v_close(self, action: CloseInput) -> None:
        self._validate(action)

    # --- Requests carried on by child workflows (added after the first release: new
    # handlers, so older histories replay unchanged). The child outlives a continue-as-new
    # (ABANDON) and tells the journey of its outcomes with ``record_outcome``; once the
    # journey closes, a child still waiting for an answer is withdrawn (``_settle_requests``).
    # ---

    @workflow.update
    async def request_training(self, action: RequestTrainingInput) -> JourneyState:
        if (earlier := self._earlier_answer()) is not None:
            return earlier
        async with self._lock:
            state = await self._act_locked(action)
            await workflow.start_child_workflow(
                TRAINING_REQUEST_WORKFLOW,
                TrainingRequestStart(
                    request_id=action.request_id,
                    beneficiary_id=state.beneficiary_id,
                    journey_workflow_id=workflow.info().workflow_id,
                    training_id=action.training_id,
                    funder=action.funder,
                    territory=state.territory,
                    referent_id=state.referent_id,
                    structure_id=state.structure_id,
                    requested_by=action.actor_id,
                    requested_at=workflow.now(),
                ),
                id=training_request_workflow_id(action.request_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
            self._training_requests.append(action.request_id)
            return state

    @request_training.validator
    def _v_request_training(self, action: RequestTrainingInput) -> None:
        self._validate(action)

    @workflow.update
    async def orient_to_service(self, action: OrientToServiceInput) -> JourneyState:
        if (earlier := self._earlier_answer()) is not None:
            return earlier
        async with self._lock:
            state = await self._act_locked(action)
            await workflow.start_child_workflow(
                SERVICE_ORIENTATION_WORKFLOW,
                ServiceOrientationStart(
                    orientation_id=action.orientation_id,
                    beneficiary_id=state.beneficiary_id,
                    journey_workflow_id=workflow.info().workflow_id,
                    service_id=action.service_id,
                    resource_structure_id=action.resource_structure_id,
                    plan_action_id=action.plan_action_id,
                    territory=state.territory,
                    referent_id=state.referent_id,
                    structure_id=state.structure_id,
                    requested_by=action.actor_id,
                    requested_at=workflow.now(),
                ),
                id=service_orientation_workflow_id(action.orientation_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
            self._orientations.append(action.orientation_id)
            return state

    @orient_to_service.validator
    def _v_orient_to_service(self, action: OrientToServiceInput) -> None:
        self._validate(action)

    @workflow.update
    async def plan_appointment(self, action: PlanAppointmentInput) -> JourneyState:
        """An invitation to book, or a convocation: an ``Appointment`` child workflow, which
        tells the journey of each change (``record_outcome``). Added with appointments: a new
        handler, so older histories replay unchanged."""
        if (earlier := self._earlier_answer()) is not None:
            return earlier
        async with self._lock:
            state = await self._act_locked(action)
            await workflow.start_child_workflow(
                APPOINTMENT_WORKFLOW,
                AppointmentStart(
                    appointment_id=action.appointment_id,
                    beneficiary_id=state.beneficiary_id,
                    journey_workflow_id=workflow.info().workflow_id,
                    mode=AppointmentMode(action.mode),
                    kind=AppointmentKind(action.kind),
                    structure_id=action.structure_id,
                    expires_at=action.expires_at,
                    starts_at=action.starts_at,
                    ends_at=action.ends_at,
                    with_letter=action.with_letter,
                    france_travail=action.france_travail,
                    planned_by=action.actor_id,
                    planned_at=workflow.now(),
                ),
                id=appointment_workflow_id(action.appointment_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
            return state

    @plan_appointment.validator
    def _v_plan_appointment(self, action: PlanAppointmentInput) -> None:
        self._validate(action)

    # --- Reorientation and the social track's review (added with them: new handlers, so
    # older histories replay unchanged; the review's timer is behind ``SOCIAL_REVIEW_PATCH``).
    # Updates on the journey itself rather than a child workflow: the request, the decision
    # and the review all change the journey's own state (its orientation, step, contract
    # deadline and next review), which a child would have to signal back and wait for. ---

    @workflow.update
    async def request_reorientation(self, action: RequestReorientationInput) -> JourneyState:
        return await self._act(action)

    @request_reorientation.validator
    def _v_request_reorientation(self, action: RequestReorientationInput) -> None:
        self._validate(action)

    @workflow.update
    async def decide_reorientation(self, action: DecideReorientationInput) -> JourneyState:
        return await self._act(action)

    @decide_reorientation.validator
    def _v_decide_reorientation(self, action: DecideReorientationInput) -> None:
        self._validate(action)

    @workflow.update
    async def conclude_social_review(self, action: ConcludeSocialReviewInput) -> JourneyState:
        return await self._act(action)

    @conclude_social_review.validator
    def _v_conclude_social_review(self, action: ConcludeSocialReviewInput) -> None:
        self._validate(action)

    @workflow.update
    async def open_sanction(self, action: OpenSanctionInput) -> JourneyState:
        """A suspension-remobilisation case: a ``SanctionCase`` child workflow, which tells the
        journey of each step (``record_outcome``). Added with sanction cases: a new handler, so
        older histories replay unchanged."""
        if (earlier := self._earlier_answer()) is not None:
            return earlier
        async with self._lock:
            state = await self._act_locked(action)
            mark = state.sanctions[-1]
            await workflow.start_child_workflow(
                SANCTION_CASE_WORKFLOW,
                SanctionCaseStart(
                    case_id=action.case_id,
                    beneficiary_id=state.beneficiary_id,
                    journey_workflow_id=workflow.info().workflow_id,
                    breach=action.breach,
                    repeated=mark.repeated,
                    appointment_id=action.appointment_id,
                    opened_by=action.actor_id,
                    opened_at=workflow.now(),
                    bounds=action.bounds,
                ),
                id=sanction_case_workflow_id(action.case_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
            return state

    @open_sanction.validator
    def _v_open_sanction(self, action: OpenSanctionInput) -> None:
        self._validate(action)

    @workflow.query
    def appointments(self) -> list[AppointmentMark]:
        """The journey's appointments, pending and past (ids, dates, statuses)."""
        return self.state.appointments


@workflow.defn(name=RECONCILE_WORKFLOW)
class ReconcileJourneys:
    """Makes the journeys' read model agree with their workflows (``JourneyReconciler``):
    started by a schedule the worker keeps, and once when a worker starts."""

    @workflow.run
    async def run(self, input: ReconcileInput) -> ReconcileResult:
        return await workflow.execute_activity(
            RECONCILE_JOURNEYS,
            input,
            result_type=ReconcileResult,
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=READ_MODEL_RETRY,
        )
