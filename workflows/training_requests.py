"""``TrainingRequest``: one request to a training's funder (the Région, or France Travail for an
AIF), a child workflow of the person's journey.

    submitted ⇄ more_info_requested (the funder asks, the référent answers: submitted again)
    submitted | more_info_requested → approved (start date, amount, the funder's reference)
                                    → refused (with a reason, kept in SQL)
    approved → in_training (at the start date) → ended (the end of the training is reported)
    submitted → failed (the request could not reach the funder: no consent, refused by its system)
    submitted | more_info_requested → withdrawn (the person's journey closed: signal ``withdraw``)

The request is sent to the funder's system once (an activity with an idempotency key), then
the workflow waits for the decision: from a funder in Parcours' console (updates with
validators) or from the funder's own system (a signed callback, turned into the same updates).
Past the funder's deadline (a setting, read when the request starts) the funder is reminded
and the request shows as stalled. Every transition is written to the ``training_requests``
read model by an activity, then told to the journey (signal ``record_outcome``). A journey
that closes withdraws the request if it still waits for the decision: the funder is told (a
partner call with its idempotency key), and the request ends; a decided request goes on (see
``rules.withdrawal_refusal``). A journey that merely stopped (terminated) does not stop it.

Messages carry ids, dates, amounts and decisions: the texts (a question, an answer, the reason
of a refusal) stay in SQL. The pure rules (``check``, ``apply``) are in
``parcours.training_requests.rules``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from parcours.core.messages import READ_MODEL_RETRY, READ_MODEL_TIMEOUT, ScalarDetail
    from parcours.journey.messages import tell_journey
    from parcours.journey.rules import at_midnight
    from parcours.partners.messages import (
        SUBMIT_TRAINING_REQUEST,
        WITHDRAW_TRAINING_REQUEST,
        PartnerReceipt,
        TrainingRequestInput,
        TrainingWithdrawalInput,
        call_partner,
        idempotency_key,
    )
    from parcours.training_requests.messages import (
        BEGIN_GIVE_UP,
        BEGIN_RETRY,
        BEGIN_TRAINING_REQUEST,
        DEFAULT_ANSWER_DAYS,
        JOURNEY_OUTCOMES,
        RECORD_TRAINING_REQUEST,
        TRAINING_REQUEST_WORKFLOW,
        WITHDRAW_SIGNAL,
        Action,
        AnswerMoreInfoInput,
        ApproveTrainingInput,
        AskMoreInfoInput,
        BeginTrainingRequestInput,
        EndTrainingInput,
        RecordTrainingRequestInput,
        RefuseTrainingInput,
        TrainingRequestResult,
        TrainingRequestSetup,
        TrainingRequestStart,
        TrainingRequestState,
        TrainingStatus,
        WithdrawTrainingRequestInput,
    )
    from parcours.training_requests.rules import (
        UNDECIDED,
        TransitionRefused,
        apply,
        apply_withdrawal,
        failure_reason,
        refusal,
        withdrawal_refusal,
    )


# --- Messages ---


# --- The rules (pure) ---


# --- The workflow ---


@workflow.defn(name=TRAINING_REQUEST_WORKFLOW)
class TrainingRequest:
    @workflow.init
    def __init__(self, input: TrainingRequestStart) -> None:
        self._input = input
        self.state = TrainingRequestState(
            request_id=input.request_id,
            beneficiary_id=input.beneficiary_id,
            training_id=input.training_id,
            funder=input.funder,
        )
        self._setup: TrainingRequestSetup | None = None
        self._lock = asyncio.Lock()
        self._changes = 0
        # Its row is read (or found missing) once ``_begin`` is done: a withdrawal waits for it.
        self._begun = False

    @workflow.run
    async def run(self, input: TrainingRequestStart) -> TrainingRequestResult:
        async with self._lock:
            setup = await self._begin()
        self._begun = True
        if setup is not None and self.state.status in UNDECIDED:
            await self._submit(setup)
        await self._await_decision()
        if self.state.status is TrainingStatus.APPROVED:
            await self._await_start()
        if self.state.status is TrainingStatus.IN_TRAINING:
            await self._await_end()
        if self.state.status is TrainingStatus.WITHDRAWN:
            await self._withdraw_at_funder()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return TrainingRequestResult(request_id=input.request_id, status=self.state.status)

    @property
    def _answer_days(self) -> int:
        return self._setup.answer_days if self._setup else DEFAULT_ANSWER_DAYS

    async def _begin(self) -> TrainingRequestSetup | None:
        """Under the lock: read the request (the deadline setting with it), start its clock."""
        try:
            setup = await workflow.execute_activity(
                BEGIN_TRAINING_REQUEST,
                BeginTrainingRequestInput(request_id=self.state.request_id),
                result_type=TrainingRequestSetup,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=BEGIN_GIVE_UP,
                retry_policy=BEGIN_RETRY,
            )
        except ActivityError:
            workflow.logger.warning(
                "training request never recorded: nothing sent",
                extra={"request_id": self.state.request_id},
            )
            self.state = self.state.model_copy(update={"status": TrainingStatus.FAILED})
            return None
        self._setup = setup
        if self.state.status is not TrainingStatus.SUBMITTED:
            return setup  # decided before it even started (a decision raced the start)
        if setup.training is None:
            failed = self.state.model_copy(
                update={
                    "status": TrainingStatus.FAILED,
                    "failure": "La formation n'est plus dans la base de ressources.",
                }
            )
            await self._commit(failed, "training_request_failed")
            return None
        deadline = workflow.now() + timedelta(days=setup.answer_days)
        await self._commit(
            self.state.model_copy(update={"deadline": deadline}), "training_request_submitted"
        )
        return setup

    async def _submit(self, setup: TrainingRequestSetup) -> None:
        """Send the request to the funder's system, once (retried under the funder's policy)."""
        assert setup.training is not None
        try:
            receipt = await call_partner(
                SUBMIT_TRAINING_REQUEST[self.state.funder],
                TrainingRequestInput(
                    beneficiary_id=self.state.beneficiary_id,
                    idempotency_key=idempotency_key("submit"),
                    request_id=self.state.request_id,
                    funder=self.state.funder,
                    training=setup.training,
                    requested_amount=setup.requested_amount,
                    referent_id=self._input.referent_id,
                ),
                PartnerReceipt,
            )
        except ActivityError as error:
            async with self._lock:
                if self.state.status in UNDECIDED:
                    failed = self.state.model_copy(
                        update={
                            "status": TrainingStatus.FAILED,
                            "failure": failure_reason(error),
                            "deadline": None,
                            "stalled_since": None,
                        }
                    )
                    await self._commit(failed, "training_request_failed")
            return
        async with self._lock:
            sent = self.state.model_copy(
                update={
                    "sent_at": workflow.now(),
                    # A decision taken in the console may already carry the reference.
                    "funder_reference": self.state.funder_reference or receipt.reference,
                }
            )
            await self._commit(sent, "training_request_sent")

    async def _await_decision(self) -> None:
        """Until the funder decides; past its deadline, remind it and mark the request
        stalled (once per wait: an answer to a question starts a new one)."""
        while self.state.status in UNDECIDED:
            seen = self._changes
            s = self.state
            due = (
                s.deadline
                if s.status is TrainingStatus.SUBMITTED and s.stalled_since is None
                else None
            )
            if not await self._changed_since(seen, due):
                async with self._lock:
                    s = self.state
                    if (
                        s.status is TrainingStatus.SUBMITTED
                        and s.stalled_since is None
                        and s.deadline is not None
                        and workflow.now() >= s.deadline
                    ):
                        now = workflow.now()
                        stalled = s.model_copy(update={"reminded_at": now, "stalled_since": now})
                        await self._commit(
                            stalled,
                            "training_request_stalled",
                            detail={"deadline": s.deadline.isoformat()},
                        )

    async def _await_start(self) -> None:
        """Approved: the training begins on its start date (unless its end comes first)."""
        while self.state.status is TrainingStatus.APPROVED:
            seen = self._changes
            assert self.state.start_date is not None
            start = at_midnight(self.state.start_date)
            if not await self._changed_since(seen, start):
                async with self._lock:
                    if self.state.status is TrainingStatus.APPROVED and workflow.now() >= start:
                        started = self.state.model_copy(
                            update={
                                "status": TrainingStatus.IN_TRAINING,
                                "started_at": workflow.now(),
                            }
                        )
                        await self._commit(started, "training_started")

    async def _await_end(self) -> None:
        """In training until its end is reported; not reported ``answer_days`` after the
        planned end, the request shows as stalled (a silent wait would go unseen)."""
        planned = self._setup.training.ends_on if self._setup and self._setup.training else None
        while self.state.status is TrainingStatus.IN_TRAINING:
            seen = self._changes
            overdue = (
                at_midnight(planned) + timedelta(days=self._answer_days)
                if planned and self.state.stalled_since is None
                else None
            )
            if not await self._changed_since(seen, overdue):
                async with self._lock:
                    s = self.state
                    if s.status is TrainingStatus.IN_TRAINING and s.stalled_since is None:
                        late = s.model_copy(update={"stalled_since": workflow.now()})
                        await self._commit(late, "training_end_overdue")

    async def _withdraw_at_funder(self) -> None:
        """Withdrawn: the funder's system is told, once (retried under the funder's policy),
        if it ever received the request. The request is withdrawn in Parcours whatever the
        funder's system answers: its decision would be for nobody."""
        reference = self.state.funder_reference
        if self.state.sent_at is None or reference is None:
            return  # never reached the funder: nothing to withdraw there
        try:
            await call_partner(
                WITHDRAW_TRAINING_REQUEST[self.state.funder],
                TrainingWithdrawalInput(
                    beneficiary_id=self.state.beneficiary_id,
                    idempotency_key=idempotency_key("withdraw"),
                    request_id=self.state.request_id,
                    funder=self.state.funder,
                    reference=reference,
                ),
                PartnerReceipt,
            )
        except ActivityError as error:
            workflow.logger.warning(
                "funder not told of the withdrawal",
                extra={"request_id": self.state.request_id, "reason": failure_reason(error)},
            )

    async def _changed_since(self, seen: int, until: datetime | None) -> bool:
        """Wait for a change, or until ``until`` (None: no limit); False when time ran out."""
        timeout = None
        if until is not None:
            timeout = max((until - workflow.now()).total_seconds(), 0.001)
        try:
            await workflow.wait_condition(lambda: self._changes != seen, timeout=timeout)
        except TimeoutError:
            return False
        return True

    async def _commit(
        self,
        state: TrainingRequestState,
        kind: str,
        actor_id: str | None = None,
        detail: dict[str, ScalarDetail] | None = None,
    ) -> None:
        """Under the lock: adopt ``state``, write it to the read model, tell the journey."""
        self.state = state.model_copy(
            update={"seq": self.state.seq + 1, "updated_at": workflow.now()}
        )
        self._changes += 1
        await workflow.execute_activity(
            RECORD_TRAINING_REQUEST,
            RecordTrainingRequestInput(state=self.state, kind=kind, actor_id=actor_id),
            start_to_close_timeout=READ_MODEL_TIMEOUT,
            retry_policy=READ_MODEL_RETRY,
        )
        if kind in JOURNEY_OUTCOMES:
            await self._tell_journey(kind, actor_id, detail or {})

    async def _tell_journey(
        self, kind: str, actor_id: str | None, detail: dict[str, ScalarDetail]
    ) -> None:
        await tell_journey(
            self._input.journey_workflow_id,
            kind,
            {
                "request_id": self.state.request_id,
                "training_id": self.state.training_id,
                "funder": self.state.funder,
                **detail,
            },
            actor_id,
        )

    async def _act(self, action: Action | EndTrainingInput) -> TrainingRequestState:
        async with self._lock:
            try:
                state, kind, detail = apply(self.state, action, workflow.now(), self._answer_days)
            except TransitionRefused as refused:
                # The status moved between validation and the lock: refuse, do not fail.
                raise ApplicationError(
                    str(refused), type="TransitionRefused", non_retryable=True
                ) from refused
            await self._commit(state, kind, action.actor_id, detail)
            return self.state

    def _validate(self, action: Action | EndTrainingInput) -> None:
        reason = refusal(self.state, action)
        if reason:
            raise ApplicationError(reason, type="TransitionRefused", non_retryable=True)

    # --- Query, updates (people: with validators) and the end-of-training signal ---

    @workflow.query
    def current(self) -> TrainingRequestState:
        return self.state

    @workflow.update
    async def ask_more_info(self, action: AskMoreInfoInput) -> TrainingRequestState:
        return await self._act(action)

    @ask_more_info.validator
    def _v_ask_more_info(self, action: AskMoreInfoInput) -> None:
        self._validate(action)

    @workflow.update
    async def answer_more_info(self, action: AnswerMoreInfoInput) -> TrainingRequestState:
        return await self._act(action)

    @answer_more_info.validator
    def _v_answer_more_info(self, action: AnswerMoreInfoInput) -> None:
        self._validate(action)

    @workflow.update
    async def approve(self, action: ApproveTrainingInput) -> TrainingRequestState:
        return await self._act(action)

    @approve.validator
    def _v_approve(self, action: ApproveTrainingInput) -> None:
        self._validate(action)

    @workflow.update
    async def refuse(self, action: RefuseTrainingInput) -> TrainingRequestState:
        return await self._act(action)

    @refuse.validator
    def _v_refuse(self, action: RefuseTrainingInput) -> None:
        self._validate(action)

    @workflow.update
    async def end_training(self, action: EndTrainingInput) -> TrainingRequestState:
        """A référent records the end of the training (refused with a reason when it does
        not apply)."""
        return await self._act(action)

    @end_training.validator
    def _v_end_training(self, action: EndTrainingInput) -> None:
        self._validate(action)

    @workflow.signal(name=WITHDRAW_SIGNAL)
    async def withdraw(self, signal: WithdrawTrainingRequestInput) -> None:
        """The person's journey closed: a request still waiting for the funder's decision is
        withdrawn (then the funder is told, and the workflow ends); a decided one is left as
        it is (``rules.withdrawal_refusal`` says why), which is only logged. Added after the
        first release: a new handler and status, so older histories replay unchanged."""
        # Not before the request's row is read: a write before it would be lost.
        await workflow.wait_condition(lambda: self._begun)
        async with self._lock:
            reason = withdrawal_refusal(self.state)
            if reason:
                workflow.logger.info(
                    "withdrawal ignored",
                    extra={"request_id": self.state.request_id, "reason": reason},
                )
                return
            state, kind = apply_withdrawal(self.state)
            await self._commit(state, kind)

    @workflow.signal
    async def training_ended(self, signal: EndTrainingInput) -> None:
        """The end of the training, reported by a system: applied when it makes sense,
        otherwise only logged."""
        async with self._lock:
            reason = refusal(self.state, signal)
            if reason:
                workflow.logger.info(
                    "end of training ignored",
                    extra={"request_id": self.state.request_id, "reason": reason},
                )
                return
            state, kind, detail = apply(self.state, signal, workflow.now(), self._answer_days)
            await self._commit(state, kind, signal.actor_id, detail)
