"""The partners' activities: the partner calls, with the adapters injected by the worker, and
the CAF import's steps (``CafImportActivities``: begin, apply one batch of lines, finish).

Each one reads what the partner needs from SQL (never from its input: inputs carry ids), checks
the person's consent when it sends their data, makes one HTTP call with the idempotency key
its workflow gave it, and writes what came back to SQL. Errors say whether a retry can help:
a partner that is down, slow or overloaded is retried under the partner's policy
(``parcours.partners.messages``); a refusal, a missing consent or an unknown person is not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.expected import expected_failure
from activities.heartbeat import heartbeating
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.inbox.service import InboxProducer
from parcours.management.incidents import PartnerIncidentLog
from parcours.management.repository import FailedCall
from parcours.partners.adapters.clients import PartnerAdapters
from parcours.partners.adapters.france_travail import OrientationRequest, ProfessionalOrientation
from parcours.partners.adapters.funding import (
    TrainingFundingRequest,
    TrainingRef,
    TrainingWithdrawal,
)
from parcours.partners.adapters.http import PartnerRefused, PartnerUnavailable
from parcours.partners.adapters.structures import OrientationCancellation, ServiceOrientation
from parcours.partners.caf_feed import CafFeedEvent, EventKind, FeedFormat, LineRejected
from parcours.partners.caf_import import (
    ALREADY_APPLIED,
    BatchContext,
    CafImportService,
    InvalidFeed,
    LineOutcome,
    counts_of,
    unknown_person,
)
from parcours.partners.messages import (
    APPLY_CAF_FEED_BATCH,
    BEGIN_CAF_IMPORT,
    CANCEL_STRUCTURE_ORIENTATION,
    CONSENT_MISSING,
    FIND_FRANCE_TRAVAIL_PERSON,
    FINISH_CAF_IMPORT,
    INVALID_FEED,
    LOOKUP_CAF_HOUSEHOLD,
    NOTIFY_FRANCE_TRAVAIL_ORIENTATION,
    PARTNER_REFUSED,
    PARTNER_UNAVAILABLE,
    PERSON_INCOMPLETE,
    PERSON_UNKNOWN,
    REQUEST_FRANCE_TRAVAIL_ORIENTATION,
    SEND_APPOINTMENT_TO_FRANCE_TRAVAIL,
    SEND_STRUCTURE_ORIENTATION,
    SUBMIT_TRAINING_REQUEST_REGION,
    WITHDRAW_TRAINING_REQUEST_REGION,
    CafFeedBatchInput,
    CafImportCounts,
    CafImportPlan,
    CafImportRef,
    CafLookupResult,
    FranceTravailAppointmentInput,
    FranceTravailAppointmentResult,
    FranceTravailLookupResult,
    FranceTravailOrientationRequestInput,
    PartnerLookupInput,
    PartnerReceipt,
    ProfessionalOrientationInput,
    StructureCancellationInput,
    StructureOrientationInput,
    TrainingRequestInput,
    TrainingWithdrawalInput,
)
from parcours.partners.repository import CafFeedRepository
from parcours.partners.service import (
    ConsentMissing,
    PartnerDataService,
    PersonIncomplete,
    PersonUnknown,
)

T = TypeVar("T")
HEARTBEAT_EVERY_S = 2.0


async def partner_http_call(
    call: Callable[[], Awaitable[T]],
    *,
    incidents: PartnerIncidentLog | None = None,
    beneficiary_id: str | None = None,
) -> T:
    """One HTTP call to a partner, with the outcome sorted for Temporal's retries.

    With ``incidents``, a call that keeps failing opens an incident managers see (the
    person's journey shows as stalled), closed when the call goes through or is refused.
    Reporting never changes the call's outcome."""
    try:
        async with heartbeating(HEARTBEAT_EVERY_S):
            result = await call()
    except PartnerRefused as refused:
        await _incident_settled(incidents)
        raise expected_failure(refused.message, PARTNER_REFUSED, non_retryable=True) from None
    except PartnerUnavailable as unavailable:
        # Retryable: the policy decides when; the same key makes the next attempt safe. This
        # warning is the attempt's whole log (the failure is benign: no stack trace).
        activity.logger.warning(
            "partner unavailable (%s): %s",
            unavailable.partner,
            unavailable,
            extra={"partner": unavailable.partner, "error": str(unavailable)},
        )
        await _incident_failed(incidents, unavailable, beneficiary_id)
        raise expected_failure(unavailable.message, PARTNER_UNAVAILABLE, logged=False) from None
    await _incident_settled(incidents)
    return result


async def _incident_failed(
    incidents: PartnerIncidentLog | None, error: PartnerUnavailable, beneficiary_id: str | None
) -> None:
    if incidents is None:
        return
    info = activity.info()
    try:
        await incidents.failed(
            FailedCall(
                workflow_id=info.workflow_id or "",
                run_id=info.workflow_run_id or "",
                activity_id=info.activity_id,
                activity_type=info.activity_type,
                partner=error.partner,
                beneficiary_id=beneficiary_id,
                attempt=info.attempt,
                since=info.scheduled_time,
                failure=str(error),
            )
        )
    except Exception:  # the database may be what fails: the retry goes on regardless
        activity.logger.exception("could not record the partner incident")


async def _incident_settled(incidents: PartnerIncidentLog | None) -> None:
    if incidents is None:
        return
    info = activity.info()
    try:
        await incidents.settled(
            info.workflow_id or "", info.workflow_run_id or "", info.activity_id
        )
    except Exception:
        activity.logger.exception("could not close the partner incident")


def _refusal(error: ConsentMissing | PersonUnknown | PersonIncomplete) -> ApplicationError:
    kind = {
        ConsentMissing: CONSENT_MISSING,
        PersonUnknown: PERSON_UNKNOWN,
        PersonIncomplete: PERSON_INCOMPLETE,
    }[type(error)]
    return expected_failure(str(error), kind, non_retryable=True)


class PartnerActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        adapters: PartnerAdapters,
        incidents: PartnerIncidentLog | None = None,
        *,
        app_url: str = "",
        lookup_wait_s: float = 5,
    ) -> None:
        self.sessions = sessions
        self.adapters = adapters
        self.incidents = incidents or PartnerIncidentLog(sessions)
        self.app_url = app_url
        self.lookup_wait_s = lookup_wait_s

    async def _answered_late(
        self, session: AsyncSession, beneficiary_id: str, partner: str
    ) -> None:
        """A look-up answered after the page stopped waiting (a retry, a slow partner): the
        answer went to the carnet, and the référente's « À traiter » says so."""
        info = activity.info()
        waited = (datetime.now(UTC) - info.scheduled_time).total_seconds()
        if info.attempt > 1 or waited > self.lookup_wait_s:
            await InboxProducer(session, self.app_url).on_lookup_answered(
                beneficiary_id, partner, source=f"lookup:{info.workflow_id}"
            )

    @activity.defn(name=LOOKUP_CAF_HOUSEHOLD.activity)
    async def lookup_caf_household(self, data: PartnerLookupInput) -> CafLookupResult:
        """Fill the carnet with the household and RSA status the CAF knows (source CAF).

        No consent needed: the CAF only receives its own allocataire number back."""
        async with transaction(self.sessions) as session:
            person = await PartnerDataService(session).partners.person(data.beneficiary_id)
            if person is None:
                raise _refusal(PersonUnknown("Personne introuvable."))
            caf_number = person.caf_number
        if not caf_number:
            return CafLookupResult(found=False)
        found = await partner_http_call(
            lambda: self.adapters.caf.beneficiary(caf_number, key=data.idempotency_key),
            incidents=self.incidents,
            beneficiary_id=data.beneficiary_id,
        )
        if found is None:
            return CafLookupResult(found=False)
        async with transaction(self.sessions) as session:
            service = PartnerDataService(session)
            person = await service.partners.person(data.beneficiary_id)
            if person is not None:  # erased while we were asking
                await service.record_caf_rights(person, found)
                await self._answered_late(session, data.beneficiary_id, "caf")
        return CafLookupResult(found=True, rsa_status=found.rsa_status)

    @activity.defn(name=FIND_FRANCE_TRAVAIL_PERSON.activity)
    async def find_france_travail_person(
        self, data: PartnerLookupInput
    ) -> FranceTravailLookupResult:
        """Registration status and identifier at France Travail (source France Travail)."""
        try:
            async with transaction(self.sessions) as session:
                service = PartnerDataService(session)
                identity = service.identity(
                    await service.person_for(data.beneficiary_id, "france_travail")
                )
        except (ConsentMissing, PersonUnknown, PersonIncomplete) as error:
            raise _refusal(error) from None
        found = await partner_http_call(
            lambda: self.adapters.france_travail.find(
                identity.nir, identity.birth_date, key=data.idempotency_key
            ),
            incidents=self.incidents,
            beneficiary_id=data.beneficiary_id,
        )
        async with transaction(self.sessions) as session:
            service = PartnerDataService(session)
            person = await service.partners.person(data.beneficiary_id)
            if person is not None:
                await service.record_france_travail(person, found)
                await self._answered_late(session, data.beneficiary_id, "france_travail")
        if found is None:
            return FranceTravailLookupResult(found=False)
        return FranceTravailLookupResult(
            found=True, registered=found.registration.status == "registered"
        )

    @activity.defn(name=NOTIFY_FRANCE_TRAVAIL_ORIENTATION.activity)
    async def notify_france_travail_orientation(
        self, data: ProfessionalOrientationInput
    ) -> PartnerReceipt:
        """Tell France Travail a person is oriented to it (once per key)."""
        try:
            async with transaction(self.sessions) as session:
                service = PartnerDataService(session)
                person = await service.person_for(data.beneficiary_id, "france_travail")
                agency = (
                    await service.partners.structure(data.structure_id)
                    if data.structure_id
                    else None
                )
                notice = ProfessionalOrientation(
                    orientation_id=data.orientation_id,
                    person=service.identity(person),
                    decided_on=data.decided_on,
                    agency=agency.name if agency else None,
                    referent=await service.referent(data.referent_id),
                )
        except (ConsentMissing, PersonUnknown, PersonIncomplete) as error:
            raise _refusal(error) from None
        receipt, replayed = await partner_http_call(
            lambda: self.adapters.france_travail.notify_orientation(
                notice, key=data.idempotency_key
            ),
            incidents=self.incidents,
            beneficiary_id=data.beneficiary_id,
        )
        if receipt.identifier:
            async with transaction(self.sessions) as session:
                known = await PartnerDataService(session).partners.person(data.beneficiary_id)
                if known is not None and known.france_travail_id != receipt.identifier:
                    known.france_travail_id = receipt.identifier
        return PartnerReceipt(reference=receipt.reference, replayed=replayed)

    @activity.defn(name=REQUEST_FRANCE_TRAVAIL_ORIENTATION.activity)
    async def request_france_travail_orientation(
        self, data: FranceTravailOrientationRequestInput
    ) -> PartnerReceipt:
        """Ask France Travail to orient a person whose legal delay passed (once per key). A
        transmission the law makes (France Travail orients by law), not one the person
        consents to: only her identity is needed."""
        try:
            async with transaction(self.sessions) as session:
                service = PartnerDataService(session)
                person = await service.partners.person(data.beneficiary_id)
                if person is None:
                    raise PersonUnknown("Personne introuvable (ou ses données ont été effacées).")
                request = OrientationRequest(
                    journey_id=data.journey_id,
                    person=service.identity(person),
                    due_on=data.due_on,
                    departement=data.territory,
                )
        except (PersonUnknown, PersonIncomplete) as error:
            raise _refusal(error) from None
        receipt, replayed = await partner_http_call(
            lambda: self.adapters.france_travail.request_orientation(
                request, key=data.idempotency_key
            ),
            incidents=self.incidents,
            beneficiary_id=data.beneficiary_id,
        )
        return PartnerReceipt(reference=receipt.reference, replayed=replayed)

    @activity.defn(name=SEND_APPOINTMENT_TO_FRANCE_TRAVAIL.activity)
    async def send_appointment_to_france_travail(
        self, data: FranceTravailAppointmentInput
    ) -> FranceTravailAppointmentResult:
        """Send an appointment and its status to France Travail (once per key), only with the
        person's consent: without it (or without NIR, or erased) nothing is sent and the result
        says why — an appointment's life goes on without France Travail."""
        try:
            async with transaction(self.sessions) as session:
                appointment = await PartnerDataService(session).france_travail_appointment(data)
        except (ConsentMissing, PersonUnknown, PersonIncomplete) as error:
            skipped = {
                ConsentMissing: "consent_missing",
                PersonUnknown: "person_unknown",
                PersonIncomplete: "person_incomplete",
            }[type(error)]
            activity.logger.info(
                "appointment not sent to France Travail",
                extra={"appointment_id": data.appointment_id, "skipped": skipped},
            )
            return FranceTravailAppointmentResult(
                sent=False,
                skipped=skipped,
                reason=str(error),
            )
        receipt, replayed = await partner_http_call(
            lambda: self.adapters.france_travail.send_appointment(
                appointment, key=data.idempotency_key
            ),
            incidents=self.incidents,
            beneficiary_id=data.beneficiary_id,
        )
        return FranceTravailAppointmentResult(
            sent=True, reference=receipt.reference, replayed=replayed
        )

    @activity.defn(name=SUBMIT_TRAINING_REQUEST_REGION.activity)
    async def submit_training_request(self, data: TrainingRequestInput) -> PartnerReceipt:
        """Ask the training's funder (the Région, or France Travail for an AIF) to fund it."""
        try:
            async with transaction(self.sessions) as session:
                service = PartnerDataService(session)
                person = await service.person_for(data.beneficiary_id, data.funder)
                request = TrainingFundingRequest(
                    request_id=data.request_id,
                    person=service.identity(person),
                    training=TrainingRef.model_validate(data.training.model_dump()),
                    requested_amount=data.requested_amount,
                    referent=await service.referent(data.referent_id),
                )
        except (ConsentMissing, PersonUnknown, PersonIncomplete) as error:
            raise _refusal(error) from None
        desk = (
            self.adapters.region_funding
            if data.funder == "region"
            else self.adapters.france_travail_funding
        )
        receipt, replayed = await partner_http_call(
            lambda: desk.request_training(request, key=data.idempotency_key),
            incidents=self.incidents,
            beneficiary_id=data.beneficiary_id,
        )
        return PartnerReceipt(reference=receipt.reference, replayed=replayed)

    @activity.defn(name=WITHDRAW_TRAINING_REQUEST_REGION.activity)
    async def withdraw_training_request(self, data: TrainingWithdrawalInput) -> PartnerReceipt:
        """Withdraw a request from its funder (the person's journey closed before the
        decision): only the funder's reference and ours, no personal data, so no consent is
        needed."""
        desk = (
            self.adapters.region_funding
            if data.funder == "region"
            else self.adapters.france_travail_funding
        )
        withdrawal = TrainingWithdrawal(request_id=data.request_id, reason=data.reason)
        receipt, replayed = await partner_http_call(
            lambda: desk.withdraw_training(data.reference, withdrawal, key=data.idempotency_key),
            incidents=self.incidents,
            beneficiary_id=data.beneficiary_id,
        )
        return PartnerReceipt(reference=receipt.reference, replayed=replayed)

    @activity.defn(name=SEND_STRUCTURE_ORIENTATION.activity)
    async def send_structure_orientation(self, data: StructureOrientationInput) -> PartnerReceipt:
        """Orient the person to a structure's service: their name and how to reach them, never
        their NIR."""
        try:
            async with transaction(self.sessions) as session:
                service = PartnerDataService(session)
                oriented = await service.person_for(data.beneficiary_id, "structures")
                orientation = ServiceOrientation(
                    orientation_id=data.orientation_id,
                    structure_id=data.structure_id,
                    service_id=data.service_id,
                    person=service.contact(oriented),
                    referent=await service.referent(data.referent_id),
                )
        except (ConsentMissing, PersonUnknown) as error:
            raise _refusal(error) from None
        receipt, replayed = await partner_http_call(
            lambda: self.adapters.structures.orient(orientation, key=data.idempotency_key),
            incidents=self.incidents,
            beneficiary_id=data.beneficiary_id,
        )
        return PartnerReceipt(reference=receipt.reference, replayed=replayed)

    @activity.defn(name=CANCEL_STRUCTURE_ORIENTATION.activity)
    async def cancel_structure_orientation(
        self, data: StructureCancellationInput
    ) -> PartnerReceipt:
        """Cancel an orientation at its structure (the person's journey closed before the
        answer): only the structure's reference and ours, no personal data."""
        cancellation = OrientationCancellation(
            orientation_id=data.orientation_id, reason=data.reason
        )
        receipt, replayed = await partner_http_call(
            lambda: self.adapters.structures.cancel(
                data.reference, cancellation, key=data.idempotency_key
            ),
            incidents=self.incidents,
            beneficiary_id=data.beneficiary_id,
        )
        return PartnerReceipt(reference=receipt.reference, replayed=replayed)


CAF_BATCH_HEARTBEAT_S = 3.0


def _parse(feed_format: FeedFormat, text: str) -> CafFeedEvent | LineRejected:
    try:
        return feed_format.parse(text)
    except LineRejected as rejected:
        return rejected


class CafImportActivities:
    """The CAF import's activities: begin, apply one batch of lines, finish.

    A batch applies its lines one transaction each — the lines of one CAF number in file order,
    different CAF numbers side by side — and heartbeats as it goes. A line is recorded (its
    outcome, its CAF event claimed) in the same transaction as what it changed, so a retried batch
    skips what was applied and redoes the rest:

    - a known person's journey is signalled before that transaction (a repeated signal changes
      nothing), so no transaction waits on Temporal;
    - a new person is enrolled inside it (``JourneyService.enrol`` starts their journey, then
      writes); if it does not commit, the journey is abandoned and the retry enrols them again.
      A worker killed between the start and the commit leaves that journey without its person
      (see ``JourneyService.enrol``).
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], temporal: Client, settings: Settings
    ) -> None:
        self.sessions = sessions
        self.temporal = temporal
        self.settings = settings

    def _service(self, session: AsyncSession) -> CafImportService:
        return CafImportService(session, self.temporal, self.settings)

    @activity.defn(name=BEGIN_CAF_IMPORT)
    async def begin_caf_import(self, data: CafImportRef) -> CafImportPlan:
        try:
            async with transaction(self.sessions) as session:
                return await self._service(session).begin(data.file_id)
        except InvalidFeed as error:
            raise expected_failure(error.message, INVALID_FEED, non_retryable=True) from None

    @activity.defn(name=APPLY_CAF_FEED_BATCH)
    async def apply_caf_feed_batch(self, data: CafFeedBatchInput) -> CafImportCounts:
        async with transaction(self.sessions) as session:
            feeds = CafFeedRepository(session)
            feed = await feeds.file(data.file_id)
            if feed is None:
                raise expected_failure("Fichier introuvable.", INVALID_FEED, non_retryable=True)
            pending = await feeds.pending_lines(data.file_id, data.first_line, data.last_line)
            feed_format = FeedFormat.from_header(feed.header)
            lines = [(number, _parse(feed_format, text)) for number, text in pending]
            events = [line for _, line in lines if isinstance(line, CafFeedEvent)]
            context = await self._service(session).batch_context(events)
        # Per CAF number, in file order: a person's new rights come before their suspension.
        by_person: dict[str, list[tuple[int, CafFeedEvent | LineRejected]]] = {}
        for number, line in lines:
            key = line.caf_number if isinstance(line, CafFeedEvent) else f"#{number}"
            by_person.setdefault(key, []).append((number, line))
        slots = asyncio.Semaphore(max(1, self.settings.caf_import_concurrency))

        async def apply_person(person_lines: list[tuple[int, CafFeedEvent | LineRejected]]) -> None:
            async with slots:
                for number, line in person_lines:
                    await self._apply_line(data.file_id, number, line, context)

        async with heartbeating(CAF_BATCH_HEARTBEAT_S):
            # Every line runs to its end (no half-applied line cancelled by a sibling's
            # failure); then the first failure fails the batch, which is retried.
            results = await asyncio.gather(
                *(apply_person(person_lines) for person_lines in by_person.values()),
                return_exceptions=True,
            )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        async with transaction(self.sessions) as session:
            counts = await CafFeedRepository(session).counts(
                data.file_id, data.first_line, data.last_line
            )
        activity.logger.info(
            "caf feed batch applied",
            extra={"file_id": data.file_id, "first": data.first_line, "last": data.last_line},
        )
        return counts_of(counts)

    async def _apply_line(
        self,
        file_id: str,
        number: int,
        line: CafFeedEvent | LineRejected,
        context: BatchContext,
    ) -> None:
        if isinstance(line, LineRejected):
            return await self._record(file_id, number, LineOutcome("rejected", str(line)))
        event = line
        if event.event_id in context.applied:
            outcome = LineOutcome("unchanged", ALREADY_APPLIED)
            return await self._record(file_id, number, outcome, event.event_id)
        if (misplaced := context.misplaced(event)) is not None:
            return await self._record(file_id, number, misplaced, event.event_id)
        person_id = context.person(event)
        if person_id is None:
            if event.kind is not EventKind.NEW_RIGHTS:
                return await self._record(file_id, number, unknown_person(event), event.event_id)
            outcome = await self._enrol(file_id, number, event)
            if outcome.beneficiary_id:
                context.enrolled(event, outcome.beneficiary_id)
            return None
        async with self.sessions() as session:
            reopening = await self._service(session).opens_new_journey(person_id, event)
        if reopening:
            # Rights open again after a closed journey: a new one (a retry adopts it).
            async with transaction(self.sessions) as session:
                await self._service(session).reopen(file_id, number, event, person_id)
            return None
        # A known person: their journey first (no transaction held while Temporal answers;
        # a repeated signal changes nothing), then the carnet and the line, together.
        async with self.sessions() as session:
            nothing_to_signal = await self._service(session).signal(person_id, event)
        async with transaction(self.sessions) as session:
            await self._service(session).update_known(
                file_id, number, event, person_id, nothing_to_signal
            )
        return None

    async def _record(
        self, file_id: str, number: int, outcome: LineOutcome, event_id: str | None = None
    ) -> None:
        async with transaction(self.sessions) as session:
            await self._service(session).record(file_id, number, outcome, event_id)

    async def _enrol(self, file_id: str, number: int, event: CafFeedEvent) -> LineOutcome:
        # Not committed (a crash, a retry): the retry adopts the journey this attempt started,
        # its person's id being derived from the CAF event.
        async with transaction(self.sessions) as session:
            return await self._service(session).enrol(file_id, number, event)

    @activity.defn(name=FINISH_CAF_IMPORT)
    async def finish_caf_import(self, data: CafImportRef) -> CafImportCounts:
        try:
            async with transaction(self.sessions) as session:
                return await self._service(session).finish(data.file_id)
        except InvalidFeed as error:
            raise expected_failure(error.message, INVALID_FEED, non_retryable=True) from None
