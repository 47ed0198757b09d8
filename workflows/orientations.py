"""The orientations' workflows: ``ServiceOrientation`` (a person oriented to a service of the
resource base, through Dora's circuit) and ``FranceTravailOrientationNotice`` (France Travail
told of a professional orientation)."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from parcours.core.messages import READ_MODEL_RETRY, READ_MODEL_TIMEOUT, ScalarDetail
    from parcours.journey.messages import tell_journey
    from parcours.orientations.messages import (
        ANSWER_SIGNAL,
        BEGIN_SERVICE_ORIENTATION,
        FRANCE_TRAVAIL_NOTICE_WORKFLOW,
        RECORD_SERVICE_ORIENTATION,
        REMIND_STRUCTURE,
        SERVICE_ORIENTATION_WORKFLOW,
        WAITING_STATUSES,
        WITHDRAW_SIGNAL,
        BeginServiceOrientationInput,
        FranceTravailNoticeResult,
        FranceTravailNoticeStart,
        OrientationAnswerInput,
        OrientationStatus,
        OrientationTarget,
        ServiceOrientationResult,
        ServiceOrientationStart,
        ServiceOrientationTransition,
        StructureReminderInput,
        Transition,
        WithdrawOrientationInput,
    )
    from parcours.partners.messages import (
        CANCEL_STRUCTURE_ORIENTATION,
        NOTIFY_FRANCE_TRAVAIL_ORIENTATION,
        SEND_STRUCTURE_ORIENTATION,
        PartnerReceipt,
        ProfessionalOrientationInput,
        StructureCancellationInput,
        StructureOrientationInput,
        call_partner,
        failure_of,
        idempotency_key,
    )


@workflow.defn(name=SERVICE_ORIENTATION_WORKFLOW)
class ServiceOrientation:
    """A person oriented to a service of the resource base,
    started by their journey (``orient_to_service``), carried through Dora's circuit.

    It sends the orientation to the service's structure (a partner call, once by its idempotency
    key), then waits for the structure's answer — a signed callback, turned into the signal
    ``answer`` — reminds the structure after ``reminder_days`` and lets the orientation expire
    after ``expiry_days`` (settings, read once at the start). Each transition is written to the
    SQL read model (and the plan's line) by an activity, then told to the journey with
    ``record_outcome``; a journey closed meanwhile is not told, and that is not a failure.

    A journey that closes before the structure answered withdraws the orientation (signal
    ``withdraw``): it is written as withdrawn (the plan's line abandoned), the structure is told
    to cancel it if it received it (a partner call, once by its key), and the workflow ends.
    An answer after that is not taken, nor a withdrawal after an answer.
    """

    @workflow.init
    def __init__(self, input: ServiceOrientationStart) -> None:
        self._input = input
        self._status = OrientationStatus.REQUESTED
        self._answer: OrientationAnswerInput | None = None
        self._withdrawal: WithdrawOrientationInput | None = None

    @workflow.signal(name=ANSWER_SIGNAL)
    def answer(self, answer: OrientationAnswerInput) -> None:
        """The structure's answer; the first one counts (the callbacks' service already drops
        copies of one callback, this drops a second answer), and none once withdrawn."""
        if (
            self._answer is None
            and self._withdrawal is None
            and self._status not in (OrientationStatus.EXPIRED, OrientationStatus.FAILED)
        ):
            self._answer = answer

    @workflow.signal(name=WITHDRAW_SIGNAL)
    def withdraw(self, withdrawal: WithdrawOrientationInput) -> None:
        """The person's journey closed: withdrawn, unless the structure has answered (or the
        orientation has ended). Added after the first release: a new handler and status, so
        older histories replay unchanged."""
        if self._withdrawal is None and self._answer is None and self._status in WAITING_STATUSES:
            self._withdrawal = withdrawal

    @workflow.query
    def status(self) -> OrientationStatus:
        return self._status

    @workflow.run
    async def run(self, input: ServiceOrientationStart) -> ServiceOrientationResult:
        target = await workflow.execute_activity(
            BEGIN_SERVICE_ORIENTATION,
            BeginServiceOrientationInput(
                orientation_id=input.orientation_id,
                beneficiary_id=input.beneficiary_id,
                service_id=input.service_id,
                resource_structure_id=input.resource_structure_id,
                plan_action_id=input.plan_action_id,
                requested_by=input.requested_by,
                requested_at=input.requested_at,
            ),
            result_type=OrientationTarget,
            start_to_close_timeout=READ_MODEL_TIMEOUT,
            retry_policy=READ_MODEL_RETRY,
        )
        if not target.found or target.structure_id is None or target.service_id is None:
            return await self._fail("service_unknown")
        if self._withdrawal is not None:
            return await self._withdraw(None)  # never sent: nothing to cancel
        try:
            receipt = await call_partner(
                SEND_STRUCTURE_ORIENTATION,
                StructureOrientationInput(
                    beneficiary_id=input.beneficiary_id,
                    idempotency_key=idempotency_key("send"),
                    orientation_id=input.orientation_id,
                    structure_id=target.structure_id,
                    service_id=target.service_id,
                    referent_id=input.referent_id,
                ),
                PartnerReceipt,
            )
        except ActivityError as error:
            return await self._fail(failure_of(error))
        if self._withdrawal is not None:
            return await self._withdraw(receipt.reference)
        self._status = OrientationStatus.SENT
        expires_at = input.requested_at + timedelta(days=target.expiry_days)
        await self._record(Transition.SENT, reference=receipt.reference, expires_at=expires_at)
        await self._tell("service_orientation_sent", reference=receipt.reference)

        if not await self._answered_by(input.requested_at + timedelta(days=target.reminder_days)):
            if self._withdrawal is not None:
                return await self._withdraw(receipt.reference)
            await self._remind(receipt.reference)
            if not await self._answered_by(expires_at):
                if self._withdrawal is not None:
                    return await self._withdraw(receipt.reference)
                self._status = OrientationStatus.EXPIRED
                await self._record(Transition.EXPIRED)
                await self._tell("service_orientation_expired", days=target.expiry_days)
                return self._result()

        answer = self._answer
        assert answer is not None
        transition = Transition.ACCEPTED if answer.accepted else Transition.REFUSED
        self._status = transition.status
        await self._record(transition, callback_id=answer.callback_id)
        await self._tell(f"service_orientation_{transition.value}", reference=receipt.reference)
        return self._result()

    async def _answered_by(self, moment: datetime) -> bool:
        """Whether the structure answered by ``moment``; a withdrawal stops the wait."""
        seconds = (moment - workflow.now()).total_seconds()
        if self._answer is None and self._withdrawal is None and seconds > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._answer is not None or self._withdrawal is not None,
                    timeout=timedelta(seconds=seconds),
                )
        return self._answer is not None

    async def _remind(self, reference: str) -> None:
        """Remind the structure; the reminder is recorded even if it could not be delivered."""
        try:
            await call_partner(
                REMIND_STRUCTURE,
                StructureReminderInput(
                    beneficiary_id=self._input.beneficiary_id,
                    idempotency_key=idempotency_key("remind"),
                    orientation_id=self._input.orientation_id,
                    reference=reference,
                ),
                PartnerReceipt,
            )
            delivered = True
        except ActivityError:
            delivered = False
        await self._record(Transition.REMINDED, delivered=delivered)
        await self._tell("service_orientation_reminded", reference=reference, delivered=delivered)

    async def _withdraw(self, reference: str | None) -> ServiceOrientationResult:
        """Withdrawn (the journey closed): written first — the plan's line abandoned — then
        the structure asked to cancel it, if it received it (``reference``). The journey is
        not told: it has closed."""
        self._status = OrientationStatus.WITHDRAWN
        await self._record(Transition.WITHDRAWN, reference=reference)
        if reference is None:
            return self._result()
        try:
            await call_partner(
                CANCEL_STRUCTURE_ORIENTATION,
                StructureCancellationInput(
                    beneficiary_id=self._input.beneficiary_id,
                    idempotency_key=idempotency_key("cancel"),
                    orientation_id=self._input.orientation_id,
                    reference=reference,
                ),
                PartnerReceipt,
            )
        except ActivityError as error:
            workflow.logger.warning(
                "structure not told of the cancellation",
                extra={
                    "orientation_id": self._input.orientation_id,
                    "reason": failure_of(error),
                },
            )
        return self._result()

    async def _fail(self, failure: str) -> ServiceOrientationResult:
        self._status = OrientationStatus.FAILED
        await self._record(Transition.FAILED, failure=failure)
        await self._tell("service_orientation_failed", reason=failure)
        return self._result()

    async def _record(self, transition: Transition, **fields: object) -> None:
        await workflow.execute_activity(
            RECORD_SERVICE_ORIENTATION,
            ServiceOrientationTransition.model_validate(
                {
                    "orientation_id": self._input.orientation_id,
                    "transition": transition,
                    "at": workflow.now(),
                    **fields,
                }
            ),
            start_to_close_timeout=READ_MODEL_TIMEOUT,
            retry_policy=READ_MODEL_RETRY,
        )

    async def _tell(self, kind: str, **detail: ScalarDetail) -> None:
        await tell_journey(
            self._input.journey_workflow_id,
            kind,
            {
                "orientation_id": self._input.orientation_id,
                "service_id": self._input.service_id,
                **detail,
            },
        )

    def _result(self) -> ServiceOrientationResult:
        return ServiceOrientationResult(
            orientation_id=self._input.orientation_id, status=self._status
        )


@workflow.defn(name=FRANCE_TRAVAIL_NOTICE_WORKFLOW)
class FranceTravailOrientationNotice:
    """France Travail is told that a person was
    oriented to it (a professional orientation), then the journey is told how that went.

    Started by the service that decides orientations once the journey accepted the decision, with
    an id made of the person and the decision's event number: a second start of the same notice
    is refused by Temporal, and the partner call's idempotency key (this workflow's id) makes the
    partner answer a retried call once. A person who did not consent to share with France Travail
    is not sent (the journey records why).
    """

    @workflow.run
    async def run(self, input: FranceTravailNoticeStart) -> FranceTravailNoticeResult:
        try:
            receipt = await call_partner(
                NOTIFY_FRANCE_TRAVAIL_ORIENTATION,
                ProfessionalOrientationInput(
                    beneficiary_id=input.beneficiary_id,
                    idempotency_key=idempotency_key("notify"),
                    orientation_id=workflow.info().workflow_id,
                    decided_on=input.decided_on,
                    referent_id=input.referent_id,
                    structure_id=input.structure_id,
                ),
                PartnerReceipt,
            )
        except ActivityError as error:
            reason = failure_of(error)
            await tell_journey(
                input.journey_workflow_id,
                "france_travail_not_notified",
                {"orientation_seq": input.orientation_seq, "reason": reason},
            )
            return FranceTravailNoticeResult(notified=False, reason=reason)
        await tell_journey(
            input.journey_workflow_id,
            "france_travail_notified",
            {"orientation_seq": input.orientation_seq, "reference": receipt.reference},
        )
        return FranceTravailNoticeResult(notified=True, reference=receipt.reference)
