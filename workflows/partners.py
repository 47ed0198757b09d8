"""The partners' workflows: ``CafImport`` (one CAF feed file imported, batch after batch) and
``PartnerLookup`` (a référent asks the CAF or France Travail what it knows about a person)."""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from parcours.core.messages import Message
    from parcours.partners.messages import (
        APPLY_CAF_FEED_BATCH,
        BEGIN_CAF_IMPORT,
        CAF_IMPORT_WORKFLOW,
        FIND_FRANCE_TRAVAIL_PERSON,
        FINISH_CAF_IMPORT,
        IMPORT_RETRY,
        LOOKUP_CAF_HOUSEHOLD,
        NON_RETRYABLE,
        PARTNER_LOOKUP_WORKFLOW,
        CafFeedBatchInput,
        CafImportCounts,
        CafImportInput,
        CafImportPlan,
        CafImportProgress,
        CafImportRef,
        CafLookupResult,
        FranceTravailLookupResult,
        PartnerLookupInput,
        PartnerLookupOutcome,
        PartnerLookupStart,
        call_partner,
        idempotency_key,
    )


Result = TypeVar("Result", bound=Message)


async def _activity(name: str, arg: Message, result_type: type[Result]) -> Result:
    result: Result = await workflow.execute_activity(
        name,
        arg,
        result_type=result_type,
        # A batch heartbeats as it goes: a dead worker is noticed in 15 seconds.
        start_to_close_timeout=timedelta(minutes=30),
        heartbeat_timeout=timedelta(seconds=15),
        retry_policy=IMPORT_RETRY,
    )
    return result


@workflow.defn(name=CAF_IMPORT_WORKFLOW)
class CafImport:
    """One CAF feed file imported, batch after batch, with its progress.

    The file's lines wait in SQL (``caf_feed_lines``, stored before the workflow starts); the
    workflow only carries the file's id (its SHA-256: the same file is one import, ``caf-import-
    <sha256>``) and counts. Each batch is an activity that applies its lines one by one and is
    idempotent: a line already applied is not applied again, a CAF event already applied (by this
    file or another) changes nothing. The ``progress`` query says where the import is.
    """

    @workflow.init
    def __init__(self, input: CafImportInput) -> None:
        self._progress = input.progress or CafImportProgress(file_id=input.file_id)

    @workflow.run
    async def run(self, input: CafImportInput) -> CafImportProgress:
        ref = CafImportRef(file_id=input.file_id)
        position, last = input.next_line, input.last_line
        if position is None or last is None:
            plan = await _activity(BEGIN_CAF_IMPORT, ref, CafImportPlan)
            self._progress = self._progress.model_copy(update={"lines": plan.lines})
            position, last = plan.first_line, plan.last_line
        while position <= last:
            end = min(position + input.batch_lines - 1, last)
            counts = await _activity(
                APPLY_CAF_FEED_BATCH,
                CafFeedBatchInput(file_id=input.file_id, first_line=position, last_line=end),
                CafImportCounts,
            )
            self._progress = self._progress.model_copy(
                update={"counts": self._progress.counts + counts}
            )
            position = end + 1
            if position <= last and workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    input.model_copy(
                        update={
                            "next_line": position,
                            "last_line": last,
                            "progress": self._progress,
                        }
                    )
                )
        # The totals as SQL has them (the reference), and the lines' texts forgotten.
        final = await _activity(FINISH_CAF_IMPORT, ref, CafImportCounts)
        self._progress = self._progress.model_copy(update={"counts": final, "done": True})
        return self._progress

    @workflow.query
    def progress(self) -> CafImportProgress:
        return self._progress


@workflow.defn(name=PARTNER_LOOKUP_WORKFLOW)
class PartnerLookup:
    """A référent asks the CAF or France Travail what it knows about a person.

    One workflow per request (``partner-lookup-<partner>-<person>-<request>``: a double click, or
    the same request sent again, joins the first one instead of asking twice). It makes the
    partner's look-up call (``parcours.partners.messages``), whose activity writes what the partner
    said into the carnet, and returns the outcome. A partner that does not answer is tried again
    under its retry policy: the référent's request stops waiting after a few seconds, the workflow
    does not, and the carnet shows the result once it comes. Ids and decisions only.
    """

    @workflow.run
    async def run(self, start: PartnerLookupStart) -> PartnerLookupOutcome:
        data = PartnerLookupInput(
            beneficiary_id=start.beneficiary_id,
            idempotency_key=idempotency_key(f"lookup-{start.partner}"),
        )
        try:
            if start.partner == "caf":
                caf = await call_partner(LOOKUP_CAF_HOUSEHOLD, data, CafLookupResult)
                return PartnerLookupOutcome(
                    partner="caf",
                    outcome="found" if caf.found else "not_found",
                    rsa_status=caf.rsa_status,
                )
            france_travail = await call_partner(
                FIND_FRANCE_TRAVAIL_PERSON, data, FranceTravailLookupResult
            )
            return PartnerLookupOutcome(
                partner="france_travail",
                outcome="found" if france_travail.found else "not_found",
                registered=france_travail.registered,
            )
        except ActivityError as failed:
            cause = failed.cause
            if isinstance(cause, ApplicationError) and cause.type in NON_RETRYABLE:
                return PartnerLookupOutcome(
                    partner=start.partner,
                    outcome="refused",
                    refusal=cause.type,
                    reason=cause.message,
                )
            # Every try failed (down, too slow): the référent may ask again later.
            workflow.logger.warning(
                "partner look-up gave up", extra={"partner": start.partner, "error": str(cause)}
            )
            return PartnerLookupOutcome(partner=start.partner, outcome="unavailable")
