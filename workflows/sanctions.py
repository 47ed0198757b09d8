"""``SanctionCase``: one suspension-remobilisation procedure (décret 2025-478), a child
workflow of the person's journey.

    opened (notice printed into the carnet, e-mail and SMS) → notified (receipt dated; the
    answer window runs: observations, a hearing with a companion) → équipe pluridisciplinaire
    → decided by the président: no sanction (closed), or a suspension / removal sent to the
    CAF → lifted at once when the person signs or updates her contract (the journey signals
    ``remobilise``; the CAF is told) or ended after its months → after a total removal for
    4 months, the proposal to France Travail to strike her off its list → closed.

Human actions are updates whose validators run the pure rules of
``parcours.sanctions.rules``: a decision outside the legal bounds, before the window ends or
without a dated notice is refused before anything is written. Every step is told to the
journey (``record_outcome``): its timeline is the carnet's history.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, time, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from parcours.core.messages import READ_MODEL_RETRY
    from parcours.journey.messages import tell_journey
    from parcours.partners.messages import (
        PROPOSE_FRANCE_TRAVAIL_REMOVAL,
        SEND_SANCTION_TO_CAF,
        call_partner,
        idempotency_key,
    )
    from parcours.sanctions import rules
    from parcours.sanctions.messages import (
        REMOBILISE_SIGNAL,
        SANCTION_CASE_WORKFLOW,
        SEND_SANCTION_NOTICE,
        CafSanctionInput,
        CaseAction,
        CaseStatus,
        DecideSanctionInput,
        FranceTravailRemovalInput,
        PartnerAck,
        RecordHearingInput,
        RecordReceiptInput,
        RecordTeamOpinionInput,
        RemobiliseInput,
        RequestHearingInput,
        SanctionCaseStart,
        SanctionCaseState,
        SanctionNoticeInput,
        SendObservationsInput,
    )


@workflow.defn(name=SANCTION_CASE_WORKFLOW)
class SanctionCase:
    @workflow.init
    def __init__(self, input: SanctionCaseStart) -> None:
        self._input = input
        self.state = SanctionCaseState(
            case_id=input.case_id,
            breach=input.breach,
            repeated=input.repeated,
            opened_at=input.opened_at,
            appointment_id=input.appointment_id,
        )
        self._lock = asyncio.Lock()
        # Journey events made by updates, told by the main loop in order.
        self._pending: list[tuple[str, str | None]] = []
        self._remobilised: RemobiliseInput | None = None

    @workflow.run
    async def run(self, input: SanctionCaseStart) -> SanctionCaseState:
        await self._tell(
            "sanction_opened",
            input.opened_by,
            breach=input.breach.value,
            repeated=input.repeated,
            appointment_id=input.appointment_id,
        )
        await self._send_notice()
        while self.state.status in (CaseStatus.OPENED, CaseStatus.NOTIFIED):
            await workflow.wait_condition(
                lambda: (
                    bool(self._pending)
                    or self.state.status not in (CaseStatus.OPENED, CaseStatus.NOTIFIED)
                )
            )
            await self._flush()
        await self._flush()
        if self.state.status is CaseStatus.SANCTIONED:
            await self._run_sanction()
        elif self.state.lift_reason == "remobilisation" and self.state.lifted_on:
            # Signed before any decision: the procedure ends, nothing was sent to the CAF.
            await self._tell(
                "sanction_lifted",
                None,
                reason="remobilisation",
                lifted_on=self.state.lifted_on.isoformat(),
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._flush()
        await self._tell("sanction_closed", None)
        return self.state

    async def _run_sanction(self) -> None:
        """The sanction runs until its end, or until the person signs her contract."""
        s = self.state
        assert s.decided_on is not None and s.ends_on is not None
        await self._tell_caf("decided")
        end = datetime.combine(s.ends_on, time(), tzinfo=UTC)
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._remobilised is not None,
                timeout=max((end - workflow.now()).total_seconds(), 0.001),
            )
        async with self._lock:
            if self._remobilised is not None:
                lifted_on, reason = self._remobilised.signed_on, "remobilisation"
            else:
                lifted_on, reason = s.ends_on, "ended"
            self.state = self.state.model_copy(
                update={"lifted_on": lifted_on, "lift_reason": reason}
            )
        if reason == "remobilisation":
            await self._tell_caf("lifted")
        await self._tell("sanction_lifted", None, reason=reason, lifted_on=lifted_on.isoformat())
        if rules.proposes_removal_to_france_travail(self.state, self._input.bounds):
            await self._propose_removal()
        self.state = self.state.model_copy(update={"status": CaseStatus.CLOSED})

    async def _send_notice(self) -> None:
        i = self._input
        try:
            await workflow.execute_activity(
                SEND_SANCTION_NOTICE,
                SanctionNoticeInput(
                    case_id=i.case_id,
                    beneficiary_id=i.beneficiary_id,
                    breach=i.breach,
                    repeated=i.repeated,
                    appointment_id=i.appointment_id,
                    answer_days=i.bounds.answer_days,
                    opened_at=i.opened_at,
                ),
                start_to_close_timeout=timedelta(minutes=2),
                schedule_to_close_timeout=timedelta(hours=1),
                retry_policy=READ_MODEL_RETRY,
            )
        except ActivityError:
            # The référente sees no receipt on the journey's page and sends it by hand: the
            # decision waits for a dated receipt either way.
            workflow.logger.warning("sanction notice not sent", extra={"case_id": i.case_id})

    async def _tell_caf(self, event: str) -> None:
        s = self.state
        assert s.measure and s.decided_on and s.ends_on
        try:
            ack = await call_partner(
                SEND_SANCTION_TO_CAF,
                CafSanctionInput(
                    beneficiary_id=self._input.beneficiary_id,
                    idempotency_key=idempotency_key(f"caf:{event}"),
                    case_id=s.case_id,
                    event="decided" if event == "decided" else "lifted",
                    measure=s.measure,
                    rate_percent=s.rate_percent or 0,
                    months=s.months or 0,
                    starts_on=s.decided_on,
                    ends_on=s.lifted_on or s.ends_on,
                ),
                PartnerAck,
            )
        except ActivityError:
            workflow.logger.warning("CAF not told", extra={"case_id": s.case_id, "event": event})
            return
        self.state = self.state.model_copy(update={"caf_told": ack.sent})
        await self._tell("sanction_sent_to_caf", None, event=event, reference=ack.reference)

    async def _propose_removal(self) -> None:
        s = self.state
        assert s.decided_on and s.lifted_on
        try:
            ack = await call_partner(
                PROPOSE_FRANCE_TRAVAIL_REMOVAL,
                FranceTravailRemovalInput(
                    beneficiary_id=self._input.beneficiary_id,
                    idempotency_key=idempotency_key("france-travail:removal"),
                    case_id=s.case_id,
                    removal_started_on=s.decided_on,
                    removal_ended_on=s.lifted_on,
                ),
                PartnerAck,
            )
        except ActivityError:
            workflow.logger.warning("removal not proposed", extra={"case_id": s.case_id})
            return
        self.state = self.state.model_copy(update={"france_travail_proposed": ack.sent})
        await self._tell("france_travail_removal_proposed", None, reference=ack.reference)

    async def _flush(self) -> None:
        async with self._lock:
            pending, self._pending = self._pending, []
        for kind, actor_id in pending:
            await self._tell(kind, actor_id, **self._detail(kind))

    def _detail(self, kind: str) -> dict[str, str | int | bool | None]:
        s = self.state
        if kind == "sanction_notified":
            return {
                "received_on": s.received_on.isoformat() if s.received_on else None,
                "window_ends_on": s.window_ends_on.isoformat() if s.window_ends_on else None,
            }
        if kind == "sanction_decided":
            return {
                "measure": s.measure.value if s.measure else None,
                "rate_percent": s.rate_percent,
                "months": s.months,
                "ends_on": s.ends_on.isoformat() if s.ends_on else None,
            }
        if kind == "sanction_team_consulted":
            return {"opinion": s.team_opinion, "members": len(s.team_member_ids)}
        if kind in ("sanction_hearing_requested", "sanction_hearing_held"):
            return {"with_companion": s.hearing_with_companion}
        return {}

    async def _tell(
        self, kind: str, actor_id: str | None, **detail: str | int | bool | None
    ) -> None:
        await tell_journey(
            self._input.journey_workflow_id,
            kind,
            {"case_id": self._input.case_id, **detail},
            actor_id,
        )

    async def _act(self, action: CaseAction) -> SanctionCaseState:
        async with self._lock:
            reason = rules.refusal(self.state, action, self._input.bounds, workflow.now())
            if reason:
                raise ApplicationError(reason, type="TransitionRefused", non_retryable=True)
            state, kind = rules.apply(self.state, action, self._input.bounds, workflow.now())
            self.state = state
            if kind:
                self._pending.append((kind, action.actor_id))
            return self.state

    def _validate(self, action: CaseAction) -> None:
        reason = rules.refusal(self.state, action, self._input.bounds, workflow.now())
        if reason:
            raise ApplicationError(reason, type="TransitionRefused", non_retryable=True)

    @workflow.query
    def current(self) -> SanctionCaseState:
        return self.state

    @workflow.signal(name=REMOBILISE_SIGNAL)
    def remobilise(self, signal: RemobiliseInput) -> None:
        """The person signed or updated her contract: a running sanction is lifted at once;
        before the decision, the breach is cured and the procedure ends (no later step is
        accepted: the validators see it closed)."""
        if self.state.status is CaseStatus.SANCTIONED and self._remobilised is None:
            self._remobilised = signal
        elif self.state.status in (CaseStatus.OPENED, CaseStatus.NOTIFIED):
            self.state = self.state.model_copy(
                update={
                    "status": CaseStatus.CLOSED,
                    "lifted_on": signal.signed_on,
                    "lift_reason": "remobilisation",
                }
            )

    @workflow.update
    async def record_receipt(self, action: RecordReceiptInput) -> SanctionCaseState:
        return await self._act(action)

    @record_receipt.validator
    def _v_record_receipt(self, action: RecordReceiptInput) -> None:
        self._validate(action)

    @workflow.update
    async def send_observations(self, action: SendObservationsInput) -> SanctionCaseState:
        return await self._act(action)

    @send_observations.validator
    def _v_send_observations(self, action: SendObservationsInput) -> None:
        self._validate(action)

    @workflow.update
    async def request_hearing(self, action: RequestHearingInput) -> SanctionCaseState:
        return await self._act(action)

    @request_hearing.validator
    def _v_request_hearing(self, action: RequestHearingInput) -> None:
        self._validate(action)

    @workflow.update
    async def record_hearing(self, action: RecordHearingInput) -> SanctionCaseState:
        return await self._act(action)

    @record_hearing.validator
    def _v_record_hearing(self, action: RecordHearingInput) -> None:
        self._validate(action)

    @workflow.update
    async def record_team_opinion(self, action: RecordTeamOpinionInput) -> SanctionCaseState:
        return await self._act(action)

    @record_team_opinion.validator
    def _v_record_team_opinion(self, action: RecordTeamOpinionInput) -> None:
        self._validate(action)

    @workflow.update
    async def decide(self, action: DecideSanctionInput) -> SanctionCaseState:
        return await self._act(action)

    @decide.validator
    def _v_decide(self, action: DecideSanctionInput) -> None:
        self._validate(action)
