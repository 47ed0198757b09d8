"""Importing the CAF's feed of RSA beneficiaries: store a file, start its import, apply its
lines, report.

Each line's CAF event is claimed (``caf_applied_events``) in the same transaction as what it
changed: the same event never acts twice, whether the file is imported again, another file
repeats it, or a batch is retried after a crash. What a line does:

- new rights for someone Parcours does not know (by CAF number) → the person is enrolled in
  the line's département and their journey starts there, the carnet gets the CAF's facts;
- anything about a known person → their journey gets the ``rsa_rights_changed`` signal and
  their carnet the CAF's facts;
- a change, suspension or closure for an unknown person → rejected ("personne inconnue"),
  never guessed; a malformed line → rejected with its reason. Rejections claim nothing, so a
  later feed can still apply the event;
- a line whose département this platform does not host (``territories.active``), or that
  does not exist, or whose commune code no commune has → rejected with that reason: the CAF
  routes each line to its département, and another département's people are not ours.

The activity (``activities.partners``) decides which transactions hold which step.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import itertools
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from parcours.carnet.models import Beneficiary
from parcours.core.db import utcnow
from parcours.core.errors import NotFound, ParcoursError
from parcours.core.settings import Settings
from parcours.core.temporal import start_workflow
from parcours.journey.messages import RsaRightsChangedInput, RsaStatus, Step
from parcours.journey.repository import JourneyRepository
from parcours.journey.schemas import BeneficiaryCreate
from parcours.journey.service import JourneyService
from parcours.partners.caf_feed import (
    EVENT_KIND_LABELS,
    CafFeedEvent,
    EventKind,
    FeedFormat,
    InvalidFeedFile,
)
from parcours.partners.messages import (
    CAF_IMPORT_WORKFLOW,
    CafImportCounts,
    CafImportInput,
    CafImportPlan,
    caf_import_workflow_id,
)
from parcours.partners.models import CafFeedFile
from parcours.partners.repository import CafFeedRepository, CafImportListRepository
from parcours.partners.schemas import IMPORT_STATUS_LABELS, CafImportRead, CafRejectRead
from parcours.partners.service import PartnerDataService, household_record
from parcours.territories import rules as territory_rules
from parcours.territories.repository import TerritoryRepository

log = logging.getLogger(__name__)

OUTCOMES = ("created", "signalled", "unchanged", "rejected")
ALREADY_APPLIED = "événement déjà appliqué par un import précédent"
_FIELD_LABELS = {
    "first_name": "prénom",
    "last_name": "nom",
    "birth_date": "date de naissance",
    "nir": "NIR",
    "caf_number": "matricule CAF",
    "address": "adresse",
    "postal_code": "code postal",
    "city": "commune",
}


class InvalidFeed(ParcoursError):
    status_code = 422


class CafBeneficiaryCreate(BeneficiaryCreate):
    """A person enrolled from a CAF event, with the household the CAF knows (written with
    the person: one statement less per line)."""

    household: dict[str, Any] | None = None


@dataclass
class LineOutcome:
    outcome: str
    reason: str | None = None
    beneficiary_id: str | None = None


def counts_of(by_outcome: dict[str, int]) -> CafImportCounts:
    done = {outcome: by_outcome.get(outcome, 0) for outcome in OUTCOMES}
    return CafImportCounts(processed=sum(done.values()), **done)


FEED_CHUNK_BYTES = 1024 * 1024
# A CAF line is a few hundred characters: a "line" this long is not a feed (and reading on for
# its end would hold the whole file).
MAX_LINE_CHARS = 64 * 1024


def feed_rows(chunks: Iterable[bytes]) -> Iterator[tuple[int, str]]:
    """The rows of a feed file given by chunks of its bytes, numbered from 1 (the header), each
    without its line end. Decoded as it goes: whatever the file's size, a chunk and a row at a
    time are held."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    fed, pending, number, begun = 0, "", 0, False
    for chunk in itertools.chain(chunks, [b""]):
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            held_back = len(error.object) - len(chunk)  # the end of the previous chunk
            raise InvalidFeed(
                f"Le fichier n'est pas encodé en UTF-8 (octet {fed - held_back + error.start + 1})."
            ) from error
        if text and not begun:
            text, begun = text.removeprefix("\ufeff"), True  # the mark some tools write first
        fed += len(chunk)
        *rows, pending = (pending + text).split("\n")
        for row in rows:
            number += 1
            yield number, row.rstrip("\r")
        if len(pending) > MAX_LINE_CHARS:
            raise InvalidFeed(
                f"La ligne {number + 1} est trop longue (plus de {MAX_LINE_CHARS // 1024} Kio) : "
                "ce fichier n'est pas un flux de la CAF."
            )
    yield number + 1, pending.rstrip("\r")


def data_lines(rows: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """After the header (checked), the numbered data lines; blank lines skipped."""
    _, header = next(rows)
    try:
        FeedFormat.from_header(header)
    except InvalidFeedFile as error:
        raise InvalidFeed(str(error)) from error
    return ((number, row) for number, row in rows if row.strip())


@dataclass
class _Reading:
    """One pass over a feed file, chunk by chunk, with its digest and size so far."""

    source: BinaryIO
    max_bytes: int
    digest: Any = field(default_factory=hashlib.sha256)
    size: int = 0

    def chunks(self) -> Iterator[bytes]:
        self.source.seek(0)
        while chunk := self.source.read(FEED_CHUNK_BYTES):
            self.size += len(chunk)
            if self.size > self.max_bytes:
                raise InvalidFeed(
                    f"Fichier trop volumineux : {self.max_bytes // (1024 * 1024)} Mio au plus."
                )
            self.digest.update(chunk)
            yield chunk


class CafImportService:
    def __init__(self, session: AsyncSession, temporal: Client, settings: Settings) -> None:
        self.session = session
        self.temporal = temporal
        self.settings = settings
        self.feeds = CafFeedRepository(session)

    # --- Files and imports ---

    async def store(
        self, filename: str, content: bytes | BinaryIO, uploaded_by: str | None = None
    ) -> tuple[str, bool]:
        """Keep the file's lines until they are applied. Returns its id (SHA-256) and whether
        it is new; a file already stored (the same bytes) is not stored twice.

        ``content``: the bytes, or a binary file open for reading (an upload, the CLI's file),
        read twice chunk by chunk — once to check it whole and name it, once to store its
        lines — so that the memory it takes does not grow with its size."""
        source = io.BytesIO(content) if isinstance(content, bytes) else content
        limit = self.settings.caf_import_max_bytes
        checked = _Reading(source, limit)
        header, count = "", 0
        for number, row in feed_rows(checked.chunks()):
            if number == 1:
                header = row
            elif row.strip():
                count += 1
        if checked.size == 0:
            raise InvalidFeed(f"Le fichier « {filename} » est vide.")
        try:
            FeedFormat.from_header(header)
        except InvalidFeedFile as error:
            raise InvalidFeed(str(error)) from error
        if not count:
            raise InvalidFeed("Le fichier ne contient aucune ligne de données.")
        file_id = checked.digest.hexdigest()
        if await self.feeds.file(file_id) is not None:
            return file_id, False
        feed = CafFeedFile(
            id=file_id,
            filename=filename[:255] or "flux-rsa.csv",
            header=header,
            lines=count,
            status="stored",
            uploaded_by=uploaded_by,
        )
        stored = _Reading(source, limit)
        new = await self.feeds.add_file(feed, data_lines(feed_rows(stored.chunks())))
        if new and stored.digest.hexdigest() != file_id:
            # Written to while it was read (a file still being copied): not the file named.
            raise InvalidFeed("Le fichier a changé pendant sa lecture : importez-le de nouveau.")
        return file_id, new

    async def start(self, file_id: str) -> None:
        """Start the file's import (once: a running import is joined, a finished one is left
        as it is). Call after the file is committed."""
        # Completed before: the same file is one import.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await start_workflow(
                self.temporal,
                CAF_IMPORT_WORKFLOW,
                CafImportInput(file_id=file_id, batch_lines=self.settings.caf_import_batch_lines),
                id=caf_import_workflow_id(file_id),
                task_queue=self.settings.task_queue,
                join=True,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            )

    async def recent(self, limit: int) -> tuple[list[CafImportRead], int]:
        """The latest ``limit`` imports (without their rejected lines), and how many there are."""
        listing = CafImportListRepository(self.session)
        imports = [await self.read(i, rejects_limit=0) for i in await listing.file_ids(limit)]
        return imports, await listing.count()

    async def read(self, file_id: str, rejects_limit: int = 1000) -> CafImportRead:
        feed = await self.feeds.file(file_id)
        if feed is None:
            raise NotFound("Import introuvable.")
        counts = counts_of(await self.feeds.counts(file_id))
        rejects = await self.feeds.rejects(file_id, limit=rejects_limit)
        return CafImportRead(
            id=feed.id,
            workflow_id=caf_import_workflow_id(feed.id),
            filename=feed.filename,
            status=feed.status,
            status_label=IMPORT_STATUS_LABELS.get(feed.status, feed.status),
            lines=feed.lines,
            uploaded_at=feed.uploaded_at,
            started_at=feed.started_at,
            completed_at=feed.completed_at,
            rejects=[CafRejectRead(line=n, reason=r) for n, r in rejects],
            **counts.model_dump(),
        )

    # --- What the workflow's activities do ---

    async def begin(self, file_id: str) -> CafImportPlan:
        feed = await self.feeds.file(file_id)
        if feed is None:
            raise InvalidFeed(f"Fichier {file_id} introuvable.")
        first, last = await self.feeds.line_range(file_id)
        if feed.status == "stored":
            feed.status, feed.started_at = "running", utcnow()
        return CafImportPlan(lines=feed.lines, first_line=first, last_line=last)

    async def finish(self, file_id: str) -> CafImportCounts:
        feed = await self.feeds.file(file_id)
        if feed is None:
            raise InvalidFeed(f"Fichier {file_id} introuvable.")
        await self.feeds.forget_texts(file_id)
        if feed.status != "completed":
            feed.status, feed.completed_at = "completed", utcnow()
        return counts_of(await self.feeds.counts(file_id))

    # One line. The activity runs each step in its own transaction (``batch_context`` first,
    # for the whole batch); the Temporal calls of a known person happen outside any.

    async def batch_context(self, events: list[CafFeedEvent]) -> BatchContext:
        """What the batch's lines need to know beforehand, in four queries."""
        territories = TerritoryRepository(self.session)
        found = await territories.by_codes(territory_of(e) for e in events)
        return BatchContext(
            applied=await self.feeds.applied_among([e.event_id for e in events]),
            people=await self.feeds.people_by_caf_numbers({e.caf_number for e in events}),
            territories={code: (t.name, t.active) for code, t in found.items()},
            communes=await territories.known_communes(
                code for e in events if (code := commune_of(e))
            ),
        )

    async def record(
        self, file_id: str, number: int, outcome: LineOutcome, event_id: str | None = None
    ) -> None:
        await self.feeds.set_outcome(
            file_id,
            number,
            outcome.outcome,
            reason=outcome.reason,
            event_id=event_id,
            beneficiary_id=outcome.beneficiary_id,
            at=utcnow(),
        )

    async def enrol(self, file_id: str, number: int, event: CafFeedEvent) -> LineOutcome:
        """New rights for someone unknown: enrol them (their journey starts), fill their carnet,
        claim the event, record the line. The caller commits; if it cannot, the line's retry
        adopts the journey this attempt started."""
        outcome = await self._enrol(event)
        if outcome.outcome == "created":
            await self._claim(file_id, number, event, outcome)
        await self.record(file_id, number, outcome, event.event_id)
        return outcome

    async def _enrol(self, event: CafFeedEvent) -> LineOutcome:
        status = event.rsa_status
        if status is None:
            return LineOutcome(
                "rejected", f"droit RSA non ouvert ({event.rights_label.lower()}) : aucun parcours"
            )
        address = event.household.address
        try:
            data = CafBeneficiaryCreate(
                first_name=event.first_name,
                last_name=event.last_name,
                birth_date=event.birth_date,
                nir=event.nir,
                caf_number=event.caf_number,
                address=address.street if address else None,
                postal_code=address.postal_code if address else None,
                city=address.city if address else None,
                territory=territory_of(event),
                rsa_opened_on=event.rights_opened_on or event.occurred_on,
                household=household_record(event),
            )
        except ValidationError as error:
            return LineOutcome("rejected", _validation_reason(error))
        journeys = JourneyService(self.session, self.temporal, self.settings)
        # The person's id comes from the CAF event: a retried line adopts its journey.
        person_id = uuid.uuid5(uuid.NAMESPACE_URL, f"parcours:caf-event:{event.event_id}")
        enrolment = await journeys.enrol(data, beneficiary_id=str(person_id))
        beneficiary_id = enrolment.beneficiary.id
        person = await self.session.get(Beneficiary, beneficiary_id)
        assert person is not None
        await PartnerDataService(self.session).record_caf_rights(person, event, new_person=True)
        if status is not RsaStatus.OPEN or not event.subject_to_duties:
            # Suspended from the start, or not subject to duties (no legal orientation delay).
            await journeys.change_rsa_rights(beneficiary_id, _signal(event, status))
        return LineOutcome("created", beneficiary_id=beneficiary_id)

    async def opens_new_journey(self, person_id: str, event: CafFeedEvent) -> bool:
        """New rights for someone whose last journey is closed: they are followed again."""
        if event.kind is not EventKind.NEW_RIGHTS or event.rsa_status is not RsaStatus.OPEN:
            return False
        journey = await JourneyRepository(self.session).get(person_id)
        return journey is not None and journey.step == Step.CLOSED

    async def reopen(
        self, file_id: str, number: int, event: CafFeedEvent, person_id: str
    ) -> LineOutcome:
        """A new journey for a known person whose RSA opens again (the earlier journeys stay
        readable), their carnet updated, the event claimed, the line recorded. The caller
        commits; if it cannot, the line's retry adopts the journey this attempt started."""
        journey_id = uuid.uuid5(uuid.NAMESPACE_URL, f"parcours:caf-event-journey:{event.event_id}")
        await JourneyService(self.session, self.temporal, self.settings).reopen(
            person_id,
            journey_id=str(journey_id),
            rsa_opened_on=event.rights_opened_on or event.occurred_on,
        )
        outcome = LineOutcome(
            "created",
            "nouveau parcours : droit RSA rouvert après la clôture du précédent",
            person_id,
        )
        if await self._claim(file_id, number, event, outcome):
            person = await self.session.get(Beneficiary, person_id)
            if person is not None:
                await PartnerDataService(self.session).record_caf_rights(person, event)
        await self.record(file_id, number, outcome, event.event_id)
        return outcome

    async def signal(self, person_id: str, event: CafFeedEvent) -> str | None:
        """Tell a known person's journey (idempotent: a repeated status changes nothing).
        Returns why there was nothing to tell, if so."""
        status = event.rsa_status
        if status is None:
            return f"{event.rights_label.lower()} : carnet mis à jour, parcours inchangé"
        try:
            await JourneyService(self.session, self.temporal, self.settings).change_rsa_rights(
                person_id, _signal(event, status)
            )
        except NotFound:
            return "aucun parcours pour cette personne : carnet mis à jour"
        return None

    async def update_known(
        self,
        file_id: str,
        number: int,
        event: CafFeedEvent,
        person_id: str,
        nothing_to_signal: str | None,
    ) -> LineOutcome:
        """After ``signal``: fill the carnet, claim the event, record the line."""
        outcome = (
            LineOutcome("signalled", beneficiary_id=person_id)
            if nothing_to_signal is None
            else LineOutcome("unchanged", nothing_to_signal, person_id)
        )
        if not await self._claim(file_id, number, event, outcome):
            # Applied meanwhile by another import: its signal was the same as ours.
            outcome = LineOutcome("unchanged", ALREADY_APPLIED, person_id)
        else:
            person = await self.session.get(Beneficiary, person_id)
            if person is not None:
                await PartnerDataService(self.session).record_caf_rights(person, event)
        await self.record(file_id, number, outcome, event.event_id)
        return outcome

    async def _claim(
        self, file_id: str, number: int, event: CafFeedEvent, outcome: LineOutcome
    ) -> bool:
        return await self.feeds.claim_event(
            event.event_id,
            event.kind.value,
            file_id,
            number,
            utcnow(),
            beneficiary_id=outcome.beneficiary_id,
        )


def territory_of(event: CafFeedEvent) -> str:
    """The département the CAF sent the line for: the person's journey is there."""
    return territory_rules.departement_code(event.department)


def commune_of(event: CafFeedEvent) -> str | None:
    address = event.household.address
    return address.insee_code.strip().upper() if address and address.insee_code else None


@dataclass
class BatchContext:
    applied: set[str]
    # CAF number → (beneficiary id, NIR) of the people who have it.
    people: dict[str, list[tuple[str, str | None]]]
    # The batch's départements (code → name, hosted here) and its known commune codes.
    territories: dict[str, tuple[str, bool]] = field(default_factory=dict)
    communes: set[str] = field(default_factory=set)

    def misplaced(self, event: CafFeedEvent) -> LineOutcome | None:
        """A line for a département not hosted here (or none), or a commune that does not
        exist: rejected with the reason."""
        code = territory_of(event)
        if code not in self.territories:
            return LineOutcome("rejected", territory_rules.unknown_departement(event.department))
        name, active = self.territories[code]
        if not active:
            return LineOutcome("rejected", territory_rules.not_hosted(code, name))
        commune = commune_of(event)
        if commune is not None and commune not in self.communes:
            return LineOutcome("rejected", territory_rules.unknown_commune(commune))
        return None

    def person(self, event: CafFeedEvent) -> str | None:
        """Who the event is about: the person with its CAF number; when a household's two
        adults share it, the one with its NIR."""
        found = self.people.get(event.caf_number, [])
        for beneficiary_id, nir in found:
            if nir and nir[:13] == event.nir[:13]:
                return beneficiary_id
        return found[0][0] if found else None

    def enrolled(self, event: CafFeedEvent, beneficiary_id: str) -> None:
        self.people.setdefault(event.caf_number, []).append((beneficiary_id, event.nir))


def unknown_person(event: CafFeedEvent) -> LineOutcome:
    return LineOutcome(
        "rejected",
        f"personne inconnue : aucun bénéficiaire avec le matricule CAF {event.caf_number} "
        f"({EVENT_KIND_LABELS[event.kind]} sans ouverture de droit connue)",
    )


def _signal(event: CafFeedEvent, status: RsaStatus) -> RsaRightsChangedInput:
    """The line as the journey takes it: its status, the « droits et devoirs » flag, the
    reasons (CNAF codes), and its kind and département (new rights sent for another
    département than the journey's are a transfer-in)."""
    effective_on = event.occurred_on
    if status is RsaStatus.CLOSED and event.closed_on is not None:
        effective_on = event.closed_on
    return RsaRightsChangedInput(
        status=status,
        effective_on=effective_on,
        subject_to_duties=event.subject_to_duties,
        suspension_reason=(event.suspension_reason or "")[:10] or None,
        closure_reason=(event.closure_reason or "")[:10] or None,
        event_kind=event.kind.value,
        territory=territory_of(event),
        rights_opened_on=event.rights_opened_on,
    )


def _validation_reason(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field_name = str(item["loc"][0]) if item["loc"] else ""
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{_FIELD_LABELS.get(field_name, field_name)} : {message}")
    return "données refusées (" + " ; ".join(problems) + ")"
