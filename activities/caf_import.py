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

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.partners.caf_feed import CafFeedEvent, EventKind, FeedFormat, LineRejected
from parcours.repositories.partners import CafFeedRepository
from parcours.services.caf_import import (
    ALREADY_APPLIED,
    BatchContext,
    CafImportService,
    InvalidFeed,
    LineOutcome,
    counts_of,
    unknown_person,
)
from workflows.caf_import import (
    APPLY_CAF_FEED_BATCH,
    BEGIN_CAF_IMPORT,
    FINISH_CAF_IMPORT,
    CafFeedBatchInput,
    CafImportCounts,
    CafImportPlan,
    CafImportRef,
)

HEARTBEAT_EVERY_S = 3.0


def _parse(feed_format: FeedFormat, text: str) -> CafFeedEvent | LineRejected:
    try:
        return feed_format.parse(text)
    except LineRejected as rejected:
        return rejected


class CafImportActivities:
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
            raise ApplicationError(error.message, type="InvalidFeed", non_retryable=True) from None

    @activity.defn(name=APPLY_CAF_FEED_BATCH)
    async def apply_caf_feed_batch(self, data: CafFeedBatchInput) -> CafImportCounts:
        async with transaction(self.sessions) as session:
            feeds = CafFeedRepository(session)
            feed = await feeds.file(data.file_id)
            if feed is None:
                raise ApplicationError(
                    "Fichier introuvable.", type="InvalidFeed", non_retryable=True
                )
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

        async with heartbeating(HEARTBEAT_EVERY_S):
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
        person_id = context.person(event)
        if person_id is None:
            if event.kind is not EventKind.NEW_RIGHTS:
                return await self._record(file_id, number, unknown_person(event), event.event_id)
            outcome = await self._enrol(file_id, number, event)
            if outcome.beneficiary_id:
                context.enrolled(event, outcome.beneficiary_id)
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
            raise ApplicationError(error.message, type="InvalidFeed", non_retryable=True) from None
