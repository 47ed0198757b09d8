"""``Appointment``: one invitation to book, or one convocation, a child workflow of the
person's journey.

    invitation: invited → booked (the person picks a slot from her link) ⇄ moved
                invited → invitation_expired (the link's end: the agent is told to convoke)
    convocation: convoked (the agent set the slot; a letter prepared when asked)
    booked | convoked → cancelled (the person, until 24 h before; or the agent)
                      → attended | absent_unexcused | absent_excused (the agent, after it)

Timers: the invitation's reminder at day +3 (if the link then stays valid 2 more days), its
expiry, the appointment's reminder 2 days before, and attendance still unrecorded 2 days
after the slot (the agent is told). People's actions are updates with validators (the pure
rules of ``parcours.appointments.rules``); a handler only changes the state, and the main
loop writes the read model, tells the person and the journey: the request that booked (and
holds the seat in SQL) commits while the workflow goes on.

Ids, dates, kinds and statuses only: the person's name, address, phone and e-mail stay in SQL.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from parcours.appointments import rules
    from parcours.appointments.messages import (
        APPOINTMENT_WORKFLOW,
        FINAL_STATUSES,
        FRANCE_TRAVAIL_APPOINTMENT_WORKFLOW,
        FRANCE_TRAVAIL_STATUSES,
        NOTIFY_PERSON,
        PREPARE_CONVOCATION_DOCUMENTS,
        RECORD_APPOINTMENT,
        WITHDRAW_SIGNAL,
        AppointmentAction,
        AppointmentKind,
        AppointmentMode,
        AppointmentStart,
        AppointmentState,
        AppointmentStatus,
        BookSlotInput,
        CancelAppointmentInput,
        ConvocationDocumentsInput,
        MoveSlotInput,
        NotifyEvent,
        NotifyPersonInput,
        RecordAppointmentInput,
        RecordAttendanceInput,
        WithdrawAppointmentInput,
        france_travail_notice_id,
    )
    from parcours.core.messages import READ_MODEL_RETRY, READ_MODEL_TIMEOUT
    from parcours.journey.messages import tell_journey
    from parcours.partners.messages import (
        SEND_APPOINTMENT_TO_FRANCE_TRAVAIL,
        FranceTravailAppointmentInput,
        FranceTravailAppointmentResult,
        call_partner,
        france_travail_appointment_step,
        idempotency_key,
    )

# The appointment's row is written by the request right after the journey accepted it; a row
# never written (the request failed) or erased (the person's data) is not waited for forever.
ROW_WAIT = timedelta(minutes=10)

# What the person is told of each change (none: nothing to tell her).
NOTICES: dict[str, NotifyEvent] = {
    "invited": NotifyEvent.INVITED,
    "invitation_reminder": NotifyEvent.INVITATION_REMINDER,
    "booked": NotifyEvent.BOOKED,
    "moved": NotifyEvent.MOVED,
    "cancelled": NotifyEvent.CANCELLED,
    "withdrawn": NotifyEvent.CANCELLED,
    "convoked": NotifyEvent.CONVOKED,
    "appointment_reminder": NotifyEvent.APPOINTMENT_REMINDER,
}
# What the journey is told of (its timeline and inbox items).
JOURNEY_TOLD = frozenset(
    {
        "booked",
        "moved",
        "cancelled",
        "invitation_expired",
        "attendance_due",
        "attended",
        "absent_unexcused",
        "absent_excused",
    }
)


@workflow.defn(name=APPOINTMENT_WORKFLOW)
class Appointment:
    @workflow.init
    def __init__(self, input: AppointmentStart) -> None:
        self._input = input
        invitation = input.mode is AppointmentMode.INVITATION
        self.state = AppointmentState(
            appointment_id=input.appointment_id,
            mode=input.mode,
            kind=input.kind,
            status=AppointmentStatus.INVITED if invitation else AppointmentStatus.CONVOKED,
            planned_at=input.planned_at,
            expires_at=input.expires_at,
            starts_at=input.starts_at,
            ends_at=input.ends_at,
        )
        self._lock = asyncio.Lock()
        # Changes made by updates, for the main loop to write, tell and notify.
        self._pending: list[tuple[AppointmentState, str, str | None]] = []

    @workflow.run
    async def run(self, input: AppointmentStart) -> AppointmentState:
        first = "invited" if input.mode is AppointmentMode.INVITATION else "convoked"
        if not await self._publish(self.state, first, input.planned_by):
            workflow.logger.warning(
                "appointment never recorded: nothing sent",
                extra={"appointment_id": input.appointment_id},
            )
            return self.state
        if input.mode is AppointmentMode.CONVOCATION and input.with_letter:
            # The one place a convocation's letter is made (see the activity).
            await workflow.execute_activity(
                PREPARE_CONVOCATION_DOCUMENTS,
                ConvocationDocumentsInput(appointment_id=input.appointment_id),
                start_to_close_timeout=timedelta(minutes=2),
                schedule_to_close_timeout=ROW_WAIT,
                retry_policy=READ_MODEL_RETRY,
            )
        while self.state.status not in FINAL_STATUSES:
            due = rules.due(self.state)
            timeout = None
            if due:
                timeout = max((due[0][0] - workflow.now()).total_seconds(), 0.001)
            try:
                await workflow.wait_condition(lambda: bool(self._pending), timeout=timeout)
            except TimeoutError:
                async with self._lock:
                    await self._on_time()
                continue
            async with self._lock:
                pending, self._pending = self._pending, []
            for state, change, actor_id in pending:
                await self._publish(state, change, actor_id)
        await workflow.wait_condition(workflow.all_handlers_finished)
        async with self._lock:
            pending, self._pending = self._pending, []
        for state, change, actor_id in pending:
            await self._publish(state, change, actor_id)
        return self.state

    async def _on_time(self) -> None:
        """Under the lock: what falls due now (a reminder, the link's end, attendance
        unrecorded)."""
        now = workflow.now()
        for at, what in rules.due(self.state):
            if at > now:
                break
            s = self.state
            if what == "invitation_reminder":
                self._change(s.model_copy(update={"invitation_reminded": True}), what, None)
            elif what == "invitation_expired":
                expired = s.model_copy(update={"status": AppointmentStatus.INVITATION_EXPIRED})
                self._change(expired, what, None)
            elif what == "appointment_reminder":
                self._change(s.model_copy(update={"appointment_reminded": True}), what, None)
            elif what == "attendance_due":
                self._change(s.model_copy(update={"attendance_chased": True}), what, None)

    def _change(self, state: AppointmentState, change: str, actor_id: str | None) -> None:
        """Adopt ``state`` now (the next validator sees it); written and told by the loop."""
        self.state = state.model_copy(update={"seq": self.state.seq + 1})
        self._pending.append((self.state, change, actor_id))

    async def _publish(self, state: AppointmentState, change: str, actor_id: str | None) -> bool:
        """Write the change to the read model, tell the person and the journey; False when
        the row never was (or no longer is) in SQL."""
        try:
            await workflow.execute_activity(
                RECORD_APPOINTMENT,
                RecordAppointmentInput(state=state, change=change, actor_id=actor_id),
                start_to_close_timeout=READ_MODEL_TIMEOUT,
                schedule_to_close_timeout=ROW_WAIT,
                retry_policy=READ_MODEL_RETRY,
            )
        except ActivityError:
            return False
        notice = NOTICES.get(change)
        if notice is not None:
            try:
                await workflow.execute_activity(
                    NOTIFY_PERSON,
                    NotifyPersonInput(
                        appointment_id=state.appointment_id, event=notice, seq=state.seq
                    ),
                    start_to_close_timeout=timedelta(minutes=1),
                    schedule_to_close_timeout=ROW_WAIT,
                    retry_policy=READ_MODEL_RETRY,
                )
            except ActivityError:
                # A notice not sent does not stop the appointment: the agenda shows it.
                workflow.logger.warning(
                    "person not notified",
                    extra={"appointment_id": state.appointment_id, "event": notice.value},
                )
        await self._tell_france_travail(state, change)
        if change in JOURNEY_TOLD:
            await tell_journey(
                self._input.journey_workflow_id,
                f"appointment_{change}",
                {
                    "appointment_id": state.appointment_id,
                    "appointment_kind": state.kind.value,
                    "mode": state.mode.value,
                    "status": state.status.value,
                    "starts_at": state.starts_at.isoformat() if state.starts_at else None,
                },
                actor_id,
            )
        return True

    async def _tell_france_travail(self, state: AppointmentState, change: str) -> None:
        """Each status of an orientation or accompaniment appointment goes to France Travail
        once, in a workflow of its own (it may wait hours for France Travail; the appointment
        does not)."""
        status = FRANCE_TRAVAIL_STATUSES.get(change)
        if not self._input.france_travail or status is None or state.starts_at is None:
            return
        ends_at = state.ends_at or state.starts_at + timedelta(hours=1)
        minutes = int((ends_at - state.starts_at).total_seconds() // 60)
        notice = FranceTravailAppointmentInput(
            beneficiary_id=self._input.beneficiary_id,
            idempotency_key=idempotency_key(
                france_travail_appointment_step(state.appointment_id, status, state.seq)
            ),
            appointment_id=state.appointment_id,
            status=status,
            # The person's words stay in the carnet: France Travail gets a category.
            excuse="other" if status == "excused_absence" else None,
            kind=state.kind,
            starts_at=state.starts_at,
            duration_minutes=max(5, min(480, minutes)),
            collective=state.kind is AppointmentKind.INFORMATION_COLLECTIVE,
            booked_by="person" if state.mode is AppointmentMode.INVITATION else "agent",
            structure_id=self._input.structure_id,
        )
        await workflow.start_child_workflow(
            FRANCE_TRAVAIL_APPOINTMENT_WORKFLOW,
            notice,
            id=france_travail_notice_id(state.appointment_id, state.seq),
            parent_close_policy=ParentClosePolicy.ABANDON,
        )

    async def _act(self, action: AppointmentAction) -> AppointmentState:
        async with self._lock:
            try:
                state, change = rules.apply(self.state, action, workflow.now())
            except rules.TransitionRefused as refused:
                raise ApplicationError(
                    str(refused), type="TransitionRefused", non_retryable=True
                ) from refused
            self._change(state, change, action.actor_id)
            return self.state

    def _validate(self, action: AppointmentAction) -> None:
        reason = rules.refusal(self.state, action, workflow.now())
        if reason:
            raise ApplicationError(reason, type="TransitionRefused", non_retryable=True)

    @workflow.query
    def current(self) -> AppointmentState:
        return self.state

    @workflow.update
    async def book(self, action: BookSlotInput) -> AppointmentState:
        return await self._act(action)

    @book.validator
    def _v_book(self, action: BookSlotInput) -> None:
        self._validate(action)

    @workflow.update
    async def move(self, action: MoveSlotInput) -> AppointmentState:
        return await self._act(action)

    @move.validator
    def _v_move(self, action: MoveSlotInput) -> None:
        self._validate(action)

    @workflow.update
    async def cancel(self, action: CancelAppointmentInput) -> AppointmentState:
        return await self._act(action)

    @cancel.validator
    def _v_cancel(self, action: CancelAppointmentInput) -> None:
        self._validate(action)

    @workflow.update
    async def record_attendance(self, action: RecordAttendanceInput) -> AppointmentState:
        return await self._act(action)

    @record_attendance.validator
    def _v_record_attendance(self, action: RecordAttendanceInput) -> None:
        self._validate(action)

    @workflow.signal(name=WITHDRAW_SIGNAL)
    async def withdraw(self, signal: WithdrawAppointmentInput) -> None:
        """The person's journey closed: an appointment still to come is cancelled (and she is
        told); one that is over stays as it is."""
        async with self._lock:
            cancelled = rules.apply_withdrawal(self.state)
            if cancelled is None:
                workflow.logger.info(
                    "withdrawal ignored", extra={"appointment_id": self.state.appointment_id}
                )
                return
            self._change(cancelled, "withdrawn", None)


@workflow.defn(name=FRANCE_TRAVAIL_APPOINTMENT_WORKFLOW)
class FranceTravailAppointmentNotice:
    """One status of one appointment, sent to France Travail (« Rendez-vous partenaire ») once:
    the activity checks the person's consent and sends nothing without it; the key is this
    status's own, so a retried call is answered once."""

    @workflow.run
    async def run(self, input: FranceTravailAppointmentInput) -> FranceTravailAppointmentResult:
        try:
            return await call_partner(
                SEND_APPOINTMENT_TO_FRANCE_TRAVAIL, input, FranceTravailAppointmentResult
            )
        except ActivityError as error:
            workflow.logger.warning(
                "appointment not sent to France Travail",
                extra={"appointment_id": input.appointment_id, "status": input.status},
            )
            return FranceTravailAppointmentResult(sent=False, reason=str(error.cause or error))
