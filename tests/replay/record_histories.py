"""Records real histories of every long-running workflow type for the replay tests.

    PYTHONPATH=. .venv/bin/python -m tests.replay.record_histories [SCENARIO ...]

Without arguments every scenario below is recorded; with names, only those. Each writes one or
more histories to ``tests/replay/histories/<name>.json``. Before re-recording a history that
exists, keep the old one (``git mv <name>.json <name>_before_vN.json``): the point of the files
is that workflow code changed later still replays the histories running workflows already have.

The workflows are the real ones, run by the worker's real assembly (``build_worker``: every
workflow of ``WORKFLOWS``, the read-model activities), on a throwaway SQLite database migrated
with alembic. The partners are never called: their activities are stubs registered under the
real activity names, returning what the real ones return, so the histories have the real shape.
Ids are fixed; the people are in SQL only, and a history that carries any of their data (a
name, a NIR, an address…) is refused before it is written.

On the time-skipping server (months of timers in seconds):

- ``complete_journey``: intake to sustained employment, every step, the three follow-up
  check-ins on their timers (one refused out of turn).
- ``paused_and_reassigned``: a pause that ends by itself, one resumed by hand, a new référent,
  a move to another département, then a refusal.
- ``stalled_then_moved_on``: intake left past its deadline, taken up again, then the CAF
  suspends and closes the rights (signals).
- ``training_request_reminded``: a journey's ``request_training`` starts a ``TrainingRequest``
  (written as ``training_request_reminded``) that the funder leaves past its deadline (stalled,
  reminded), then asks for more information, the référent answers, the funder approves, the
  training starts on its start date and its end is recorded (``end_training``). The journey
  (``journey_requested_training``) hears each outcome (``record_outcome``), then closes.
- ``service_orientation_expired``: a professional orientation told to France Travail
  (``france_travail_notice``), a CAF look-up (``partner_lookup``), then the journey's
  ``orient_to_service`` starts a ``ServiceOrientation`` (``service_orientation_expired``)
  whose structure never answers: reminded after its reminder days, expired after its expiry
  days. The journey (``journey_oriented_to_service``) hears it all, then closes.
- ``closed_with_requests``: a journey that orients to a service and requests a training
  (both waiting), then closes: it withdraws both (patch ``settle-requests-on-close``).
- ``appointment_attended``: an invitation of the journey (``journey_with_appointment``),
  reminded at day +3, booked, reminded 2 days before, attended; the journey reaches its
  orientation step, then closes.
- ``orientation_decision_requested``: at the orientation step the référente asks the
  orientation team for its decision (``record_outcome``, ``decision_requested``), asks again
  at once (left out: patch ``decision-request-check``), then the decision is taken and the
  journey closes.
- ``france_travail_orientation``: the CAF's « droits et devoirs » flag off then on again
  (the legal clock starts over), the legal orientation delay passes in diagnosis, France
  Travail is asked (patch ``france-travail-orientation``) and orients (its callback's update).
- ``enrolled_past_the_delay``: someone enrolled after the legal orientation delay: France
  Travail is asked at once, without a timer (patch ``due-at-once``), and orients.
- ``reoriented_after_social_review``: a journey oriented to the social track (its review's
  timer, patch ``social-track-review``) asks for a reorientation, refused (and refused again
  to the same track and structure); the review falls due, is concluded by a reorientation
  request, accepted to another track; the journey closes.
- ``scheduled_runs``: one run of each workflow the worker's schedules start
  (``reconcile_journeys``, ``retention_sweep``, ``daily_digest``): short, but a deploy can
  land while one retries.
- ``deliver_outbox``: one run of the mail outbox's workflow (``DeliverOutbox``).
- ``deliver_sms``: one run of the SMS outbox's workflow (``DeliverSms``; no provider
  configured: nothing is sent, the history has the real shape).
- ``inbox_daily``: one run of the inbox's daily workflow (``InboxDaily``).
- ``keep_closed_months``: one run of the indicators' nightly workflow (``KeepClosedMonths``).
- ``france_travail_appointment_notice``: one status of an appointment sent to France Travail
  (``FranceTravailAppointmentNotice``, its partner call answered by a stub).

- ``sanction_cases``: four suspension-remobilisation cases of one journey
  (``journey_with_sanctions``): a first breach suspended for a month that ends by itself
  (``sanction_ended``, with observations, a hearing and the équipe pluridisciplinaire); a
  repeated one removed at 100 % for 4 months, then proposed to France Travail
  (``sanction_removal_proposed``); a third lifted when the contract is signed
  (``sanction_lifted``: the journey's patch ``sanction-lift-on-contract``); a fourth ended by
  a signature before any decision (``sanction_remobilised_before_decision``). The CAF and
  France Travail are answered by stubs.

On a dev server that suggests continuing as new after a few events (``short_history_server``):

- ``journey_continued_as_new``: a journey driven through enough actions to continue as new,
  then closed. The first run, which ends with ContinuedAsNew, is ``journey_continued_as_new``;
  the next ones (started from the state carried over) ``journey_continued_as_new_run<N>``.
- ``caf_import_continued_as_new``: a small CAF feed imported one line per batch, so that the
  ``CafImport`` continues as new before its last line; runs named the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

import httpx
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.orientations import ServiceOrientationActivities
from activities.partners import CafImportActivities
from activities.training_requests import TrainingRequestActivities
from parcours.access.models import Structure
from parcours.appointments.messages import (
    AppointmentKind,
    AppointmentState,
    AppointmentStatus,
    BookSlotInput,
    RecordAttendanceInput,
    appointment_workflow_id,
    france_travail_notice_id,
)
from parcours.appointments.models import Appointment, Place, Slot
from parcours.carnet.messages import SCHEDULE_ID as RETENTION_SCHEDULE_ID
from parcours.carnet.messages import RetentionSweepInput
from parcours.carnet.models import Beneficiary
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.settings import ROOT, Settings
from parcours.inbox.messages import WORKFLOW_ID as INBOX_WORKFLOW_ID
from parcours.inbox.messages import InboxDailyInput
from parcours.indicators.messages import WORKFLOW_ID as INDICATORS_WORKFLOW_ID
from parcours.indicators.messages import KeepClosedMonthsInput
from parcours.journey import rules
from parcours.journey.messages import (
    RECONCILE_SCHEDULE_ID,
    Action,
    BeginDiagnosisInput,
    CloseInput,
    CompleteDiagnosisInput,
    ConcludeSocialReviewInput,
    DecideOrientationInput,
    DecideReorientationInput,
    EmploymentContract,
    ExitReason,
    HandOffInput,
    JourneyInput,
    JourneyOutcomeInput,
    JourneyResult,
    JourneyState,
    OpenSanctionInput,
    OrientationKind,
    OrientToServiceInput,
    PauseInput,
    PlanAppointmentInput,
    ReassignReferentInput,
    ReconcileInput,
    RecordCheckInInput,
    RecordEmploymentInput,
    RequestReorientationInput,
    RequestTrainingInput,
    ResumeInput,
    RsaRightsChangedInput,
    RsaStatus,
    SetFollowUpConsentInput,
    SignContractInput,
    Sla,
    Step,
    journey_workflow_id,
)
from parcours.mail.messages import WORKFLOW_ID as OUTBOX_WORKFLOW_ID
from parcours.mail.messages import DeliverOutboxInput
from parcours.management.messages import WORKFLOW_ID as DIGEST_WORKFLOW_ID
from parcours.management.messages import DailyDigestInput
from parcours.orientations.messages import (
    REMIND_STRUCTURE,
    FranceTravailNoticeStart,
    OrientationStatus,
    ServiceOrientationResult,
    StructureReminderInput,
    france_travail_notice_workflow_id,
    service_orientation_workflow_id,
)
from parcours.partners.adapters.clients import PartnerAdapters
from parcours.partners.caf_import import CafImportService
from parcours.partners.messages import (
    CANCEL_STRUCTURE_ORIENTATION,
    FIND_FRANCE_TRAVAIL_PERSON,
    LOOKUP_CAF_HOUSEHOLD,
    NOTIFY_FRANCE_TRAVAIL_ORIENTATION,
    PROPOSE_FRANCE_TRAVAIL_REMOVAL,
    REQUEST_FRANCE_TRAVAIL_ORIENTATION,
    SEND_APPOINTMENT_TO_FRANCE_TRAVAIL,
    SEND_SANCTION_TO_CAF,
    SEND_STRUCTURE_ORIENTATION,
    SUBMIT_TRAINING_REQUEST_REGION,
    WITHDRAW_TRAINING_REQUEST_REGION,
    CafImportInput,
    CafLookupResult,
    FranceTravailAppointmentInput,
    FranceTravailAppointmentResult,
    FranceTravailLookupResult,
    FranceTravailOrientationRequestInput,
    PartnerLookupInput,
    PartnerLookupStart,
    PartnerReceipt,
    ProfessionalOrientationInput,
    StructureCancellationInput,
    StructureOrientationInput,
    TrainingRequestInput,
    TrainingWithdrawalInput,
    caf_import_workflow_id,
    partner_lookup_workflow_id,
)
from parcours.resources.models import ResourceService, ResourceStructure, Training
from parcours.resources.text import normalise
from parcours.sanctions.messages import (
    Breach,
    CafSanctionInput,
    DecideSanctionInput,
    FranceTravailRemovalInput,
    Measure,
    PartnerAck,
    RecordHearingInput,
    RecordReceiptInput,
    RecordTeamOpinionInput,
    RequestHearingInput,
    SanctionCaseState,
    SendObservationsInput,
    sanction_case_workflow_id,
)
from parcours.sms.messages import WORKFLOW_ID as SMS_WORKFLOW_ID
from parcours.sms.messages import DeliverSmsInput
from parcours.training_requests.messages import (
    AnswerMoreInfoInput,
    ApproveTrainingInput,
    AskMoreInfoInput,
    EndTrainingInput,
    TrainingRequestResult,
    TrainingRequestState,
    TrainingStatus,
    training_request_workflow_id,
)
from parcours.training_requests.models import TrainingRequestRecord
from simulators.caf_feed import events_to_csv, generate_events
from tests.support.histories import HISTORIES, every_run
from tests.support.journeys import short_history_server, time_skipping_server
from tests.support.privacy import forms, recognisable_person, searchable
from tests.support.workflows import settled
from worker.assembly import PartnerWorkerParts, build_worker
from workflows.appointments import FranceTravailAppointmentNotice
from workflows.carnet import RetentionSweep
from workflows.inbox import InboxDaily
from workflows.indicators import KeepClosedMonths
from workflows.journey import Journey, ReconcileJourneys
from workflows.mail import DeliverOutbox
from workflows.management import DailyDigest
from workflows.orientations import FranceTravailOrientationNotice, ServiceOrientation
from workflows.partners import CafImport, PartnerLookup
from workflows.sms import DeliverSms
from workflows.training_requests import TrainingRequest

TASK_QUEUE = "record-histories"
IDENTITY = "parcours-record-histories"

REFERENT = "00000000-0000-4000-8000-0000000000a1"
OTHER_REFERENT = "00000000-0000-4000-8000-0000000000a2"
ORIENTATION_OFFICER = "00000000-0000-4000-8000-0000000000a3"
FUNDER = "00000000-0000-4000-8000-0000000000a4"
STRUCTURE = "00000000-0000-4000-8000-0000000000b1"

TRAINING = "00000000-0000-4000-8000-0000000000c1"
TRAINING_REQUEST = "00000000-0000-4000-8000-0000000000c2"
ORIENTATION = "00000000-0000-4000-8000-0000000000d1"
APPOINTMENT = "00000000-0000-4000-8000-0000000000e1"
APPOINTMENT_STRUCTURE = "00000000-0000-4000-8000-0000000000e2"
APPOINTMENT_PLACE = "00000000-0000-4000-8000-0000000000e3"
APPOINTMENT_SLOT = "00000000-0000-4000-8000-0000000000e4"
# The resource base's own keys (integers) of the service and its structure.
RESOURCE_STRUCTURE, RESOURCE_SERVICE = 1, 1

# A CAF feed of a few lines, the same at every recording (its id is its SHA-256).
CAF_FEED_LINES = 12
CAF_FEED_SEED = 73
CAF_FEED_DAY = date(2025, 1, 15)

JourneyHandle = WorkflowHandle[Any, JourneyResult]
T = TypeVar("T")


class PartnerStubs:
    """The partner calls, answered here: the real activity names and result types, no HTTP."""

    @activity.defn(name=LOOKUP_CAF_HOUSEHOLD.activity)
    async def lookup_caf_household(self, data: PartnerLookupInput) -> CafLookupResult:
        return CafLookupResult(found=True, rsa_status=RsaStatus.OPEN)

    @activity.defn(name=FIND_FRANCE_TRAVAIL_PERSON.activity)
    async def find_france_travail_person(
        self, data: PartnerLookupInput
    ) -> FranceTravailLookupResult:
        return FranceTravailLookupResult(found=True, registered=True)

    @activity.defn(name=NOTIFY_FRANCE_TRAVAIL_ORIENTATION.activity)
    async def notify_france_travail_orientation(
        self, data: ProfessionalOrientationInput
    ) -> PartnerReceipt:
        return PartnerReceipt(reference="FT-ORIENTATION-0001")

    @activity.defn(name=REQUEST_FRANCE_TRAVAIL_ORIENTATION.activity)
    async def request_france_travail_orientation(
        self, data: FranceTravailOrientationRequestInput
    ) -> PartnerReceipt:
        return PartnerReceipt(reference="FT-DEM-0001")

    @activity.defn(name=SEND_APPOINTMENT_TO_FRANCE_TRAVAIL.activity)
    async def send_appointment_to_france_travail(
        self, data: FranceTravailAppointmentInput
    ) -> FranceTravailAppointmentResult:
        return FranceTravailAppointmentResult(sent=True, reference="FT-RDV-0001")

    @activity.defn(name=SUBMIT_TRAINING_REQUEST_REGION.activity)
    async def submit_training_request(self, data: TrainingRequestInput) -> PartnerReceipt:
        return PartnerReceipt(reference="REGION-DEMANDE-0001")

    @activity.defn(name=SEND_STRUCTURE_ORIENTATION.activity)
    async def send_structure_orientation(self, data: StructureOrientationInput) -> PartnerReceipt:
        return PartnerReceipt(reference="STRUCTURE-ORIENTATION-0001")

    @activity.defn(name=REMIND_STRUCTURE.activity)
    async def remind_structure(self, data: StructureReminderInput) -> PartnerReceipt:
        return PartnerReceipt(reference=data.reference)

    @activity.defn(name=WITHDRAW_TRAINING_REQUEST_REGION.activity)
    async def withdraw_training_request(self, data: TrainingWithdrawalInput) -> PartnerReceipt:
        return PartnerReceipt(reference=data.reference)

    @activity.defn(name=SEND_SANCTION_TO_CAF.activity)
    async def send_sanction_to_caf(self, data: CafSanctionInput) -> PartnerAck:
        return PartnerAck(sent=True, reference=f"CAF-SAN-{data.event}")

    @activity.defn(name=PROPOSE_FRANCE_TRAVAIL_REMOVAL.activity)
    async def propose_france_travail_removal(self, data: FranceTravailRemovalInput) -> PartnerAck:
        return PartnerAck(sent=True, reference="FT-RAD-0001")

    @activity.defn(name=CANCEL_STRUCTURE_ORIENTATION.activity)
    async def cancel_structure_orientation(
        self, data: StructureCancellationInput
    ) -> PartnerReceipt:
        return PartnerReceipt(reference=data.reference)


def no_partner(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the recorder called a partner: {request.method} {request.url}")


def partner_parts(
    client: Client, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> PartnerWorkerParts:
    """The partner side of the worker: the real activities that only touch SQL (and Temporal),
    the stubs for the ones that call a partner. The adapters exist only because the orientation
    activities take them; their transport refuses every request."""
    adapters = PartnerAdapters.from_settings(settings, httpx.MockTransport(no_partner))
    stubs = PartnerStubs()
    imports = CafImportActivities(sessions, client, settings)
    orientations = ServiceOrientationActivities(sessions, settings, adapters)
    training_requests = TrainingRequestActivities(sessions, settings)
    return PartnerWorkerParts(
        adapters=adapters,
        activities=[
            stubs.lookup_caf_household,
            stubs.find_france_travail_person,
            stubs.notify_france_travail_orientation,
            stubs.request_france_travail_orientation,
            stubs.send_appointment_to_france_travail,
            stubs.submit_training_request,
            stubs.send_structure_orientation,
            stubs.remind_structure,
            stubs.withdraw_training_request,
            stubs.cancel_structure_orientation,
            stubs.send_sanction_to_caf,
            stubs.propose_france_travail_removal,
            imports.begin_caf_import,
            imports.apply_caf_feed_batch,
            imports.finish_caf_import,
            orientations.begin_service_orientation,
            orientations.record_service_orientation,
            training_requests.begin_training_request,
            training_requests.record_training_request,
        ],
    )


def caf_feed() -> tuple[bytes, list[tuple[str, object]]]:
    """The feed file, and the personal data its lines carry (none may reach a history)."""
    events = [
        event.model_copy(
            update={"event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"parcours:replay:{n}"))}
        )
        for n, event in enumerate(
            generate_events(CAF_FEED_LINES, seed=CAF_FEED_SEED, today=CAF_FEED_DAY)
        )
    ]
    personal: list[tuple[str, object]] = [
        (key, getattr(event, key))
        for event in events
        for key in ("nir", "caf_number", "first_name", "last_name", "birth_date")
    ]
    return events_to_csv(events).encode(), personal


@dataclass
class Recorder:
    env: WorkflowEnvironment
    client: Client
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    # What the people's rows hold: found in no history.
    personal: list[tuple[str, object]] = field(default_factory=list)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def today(self) -> date:
        return (await self.now()).date()

    async def advance_to(self, moment: datetime) -> None:
        await self.env.sleep(moment - await self.now())

    async def until(self, probe: Callable[[], Awaitable[T]], done: Callable[[T], bool]) -> T:
        """``probe()`` once ``done`` holds (the workflows have caught up)."""
        async with asyncio.timeout(30):
            while not done(value := await probe()):
                await asyncio.sleep(0.05)
        return value

    # --- People and journeys ---

    async def person(self, beneficiary_id: str) -> None:
        """A person in SQL, with data found nowhere else (``write`` looks for it)."""
        data = recognisable_person()
        self.personal += [(k, v) for k, v in data.items() if k != "postal_code"]
        async with transaction(self.sessions) as session:
            session.add(Beneficiary(id=beneficiary_id, territory="73", **data))

    async def journey(
        self, beneficiary_id: str, *, rsa_opened_on: date | None = None, sla: Sla | None = None
    ) -> JourneyHandle:
        await self.person(beneficiary_id)
        return await self.client.start_workflow(
            Journey.run,
            JourneyInput(
                beneficiary_id=beneficiary_id,
                territory="73",
                referent_id=REFERENT,
                structure_id=STRUCTURE,
                rsa_opened_on=rsa_opened_on or await self.today(),
                actor_id=ORIENTATION_OFFICER,
                sla=sla or Sla(),
                # As the platform starts journeys today: it writes their first events itself.
                started_at=await self.now(),
            ),
            id=journey_workflow_id(beneficiary_id),
            task_queue=TASK_QUEUE,
        )

    async def act(self, handle: JourneyHandle, action: Action) -> JourneyState:
        return await handle.execute_update(rules.name_of(action), action, result_type=JourneyState)

    async def refused(self, handle: JourneyHandle, action: Action) -> None:
        try:
            await self.act(handle, action)
        except WorkflowUpdateFailedError:
            return
        raise AssertionError(f"{type(action).__name__} should have been refused")

    async def reached(
        self, handle: JourneyHandle, done: Callable[[JourneyState], bool]
    ) -> JourneyState:
        return await self.until(lambda: handle.query(Journey.current), done)

    async def heard(self, handle: JourneyHandle, kind: str) -> None:
        """The journey's timeline has an event ``kind`` (a child workflow told it)."""
        await self.until(
            lambda: handle.query(Journey.timeline),
            lambda timeline: kind in [event.kind for event in timeline.events],
        )

    async def to_accompaniment(self, handle: JourneyHandle, kind: OrientationKind) -> JourneyState:
        await self.act(handle, BeginDiagnosisInput(actor_id=REFERENT))
        await self.act(handle, CompleteDiagnosisInput(actor_id=REFERENT))
        return await self.act(
            handle,
            DecideOrientationInput(
                kind=kind,
                structure_id=STRUCTURE,
                referent_id=REFERENT,
                actor_id=ORIENTATION_OFFICER,
            ),
        )

    # --- Histories ---

    async def keep(self, name: str, handle: WorkflowHandle[Any, Any]) -> None:
        """Write the history of ``handle``'s run (the latest when it names none)."""
        self.write(name, await handle.fetch_history())

    async def keep_runs(self, name: str, workflow_id: str) -> None:
        """Write every run: the first as ``name``, the next ones as ``name_run<N>``."""
        histories = await every_run(self.client, workflow_id)
        assert len(histories) >= 2, f"{workflow_id} never continued as new"
        for number, history in enumerate(histories, start=1):
            self.write(name if number == 1 else f"{name}_run{number}", history)

    def write(self, name: str, history: WorkflowHistory) -> None:
        haystack = searchable(history)
        for key, value in self.personal:
            for form in forms(key, value):
                assert form.casefold() not in haystack, f"{name}: personal data ({key})"
        path = HISTORIES / f"{name}.json"
        path.write_text(history.to_json() + "\n")
        print(f"{path.relative_to(ROOT)}: {len(history.events)} events")


# --- Scenarios on the time-skipping server ---


def check_in_due(month: int) -> Callable[[JourneyState], bool]:
    return lambda state: state.check_in_due == month


async def complete_journey(r: Recorder) -> None:
    handle = await r.journey("00000000-0000-4000-8000-000000000001")
    await r.act(handle, BeginDiagnosisInput(actor_id=REFERENT))
    await r.act(handle, CompleteDiagnosisInput(actor_id=REFERENT))
    await r.act(
        handle,
        DecideOrientationInput(
            kind=OrientationKind.PROFESSIONAL,
            structure_id=STRUCTURE,
            referent_id=OTHER_REFERENT,
            actor_id=ORIENTATION_OFFICER,
        ),
    )
    today = await r.today()
    await r.act(handle, SignContractInput(signed_on=today, ends_on=today + timedelta(days=120)))
    state = await r.act(
        handle,
        RecordEmploymentInput(
            started_on=today, contract=EmploymentContract.CDI, follow_up_consent=True
        ),
    )
    assert state.follow_up_since is not None
    for month in (1, 3, 6):
        await r.advance_to(rules.add_months(state.follow_up_since, month) + timedelta(hours=1))
        await r.reached(handle, check_in_due(month))
        if month == 1:
            await r.refused(handle, RecordCheckInInput(month=3, still_employed=True))
        await r.act(handle, RecordCheckInInput(month=month, still_employed=True))
    assert (await handle.result()).exit_reason is ExitReason.SUSTAINED_EMPLOYMENT
    await r.keep("complete_journey", handle)


async def paused_and_reassigned(r: Recorder) -> None:
    handle = await r.journey("00000000-0000-4000-8000-000000000002")
    await r.act(handle, BeginDiagnosisInput(actor_id=REFERENT))
    await r.act(handle, PauseInput(until=await r.today() + timedelta(days=10)))
    await r.refused(handle, CompleteDiagnosisInput())
    await r.advance_to(await r.now() + timedelta(days=11))
    await r.act(handle, PauseInput())
    await r.act(handle, ResumeInput())
    await r.act(handle, ReassignReferentInput(referent_id=OTHER_REFERENT))
    await r.act(handle, CompleteDiagnosisInput(actor_id=OTHER_REFERENT))
    await r.act(handle, HandOffInput(territory="74"))
    await r.act(handle, CloseInput(exit_reason=ExitReason.DECLINED))
    assert (await handle.result()).exit_reason is ExitReason.DECLINED
    await r.keep("paused_and_reassigned", handle)


async def stalled_then_moved_on(r: Recorder) -> None:
    handle = await r.journey("00000000-0000-4000-8000-000000000003")
    started = await handle.query(Journey.current)
    assert started.deadline is not None
    await r.advance_to(started.deadline + timedelta(days=2))
    await r.reached(handle, lambda s: s.stalled)
    await r.act(handle, BeginDiagnosisInput(actor_id=REFERENT))
    today = await r.today()
    await handle.signal(
        Journey.rsa_rights_changed,
        RsaRightsChangedInput(status=RsaStatus.SUSPENDED, effective_on=today),
    )
    await r.reached(handle, lambda s: s.rsa_status is RsaStatus.SUSPENDED)
    await handle.signal(
        Journey.rsa_rights_changed,
        RsaRightsChangedInput(status=RsaStatus.CLOSED, effective_on=today),
    )
    assert (await handle.result()).exit_reason is ExitReason.RIGHTS_CLOSED
    await r.keep("stalled_then_moved_on", handle)


async def training_request_reminded(r: Recorder) -> None:
    beneficiary_id = "00000000-0000-4000-8000-000000000004"
    journey = await r.journey(beneficiary_id)
    await r.to_accompaniment(journey, OrientationKind.SOCIO_PROFESSIONAL)
    starts_on = await r.today() + timedelta(days=30)
    ends_on = starts_on + timedelta(weeks=12)
    title = "Titre professionnel Agent de restauration"
    async with transaction(r.sessions) as session:
        session.add(
            Training(
                id=TRAINING,
                reference="replay-training-1",
                title=title,
                organisation="AFPA Chambéry",
                funder="region",
                start_on=starts_on,
                end_on=ends_on,
                places_left=8,
                weekly_hours=35.0,
                weeks=12,
                city="Chambéry",
                postal_code="73000",
                search_text=normalise(title),
            )
        )
        # The référent's request writes this row once the journey accepted it; written first
        # here, the workflow's first activity finds it at its first attempt.
        session.add(
            TrainingRequestRecord(
                id=TRAINING_REQUEST,
                beneficiary_id=beneficiary_id,
                training_id=TRAINING,
                funder="region",
                territory="73",
                workflow_id=training_request_workflow_id(TRAINING_REQUEST),
                status=TrainingStatus.SUBMITTED.value,
                requested_by=REFERENT,
                referent_id=REFERENT,
                structure_id=STRUCTURE,
                requested_amount=Decimal("2400.00"),
            )
        )
    await r.act(
        journey,
        RequestTrainingInput(
            request_id=TRAINING_REQUEST, training_id=TRAINING, funder="region", actor_id=REFERENT
        ),
    )
    request: WorkflowHandle[Any, TrainingRequestResult] = r.client.get_workflow_handle(
        training_request_workflow_id(TRAINING_REQUEST), result_type=TrainingRequestResult
    )

    def current() -> Awaitable[TrainingRequestState]:
        return request.query(TrainingRequest.current)

    sent = await r.until(current, lambda s: s.sent_at is not None)
    assert sent.deadline is not None
    # The funder lets the deadline pass: reminded, the request shows as stalled.
    await r.advance_to(sent.deadline + timedelta(days=1))
    await r.until(current, lambda s: s.stalled_since is not None)
    await request.execute_update(TrainingRequest.ask_more_info, AskMoreInfoInput(actor_id=FUNDER))
    await request.execute_update(
        TrainingRequest.answer_more_info, AnswerMoreInfoInput(actor_id=REFERENT)
    )
    await request.execute_update(
        TrainingRequest.approve,
        ApproveTrainingInput(
            actor_id=FUNDER,
            start_date=starts_on,
            amount=Decimal("2400.00"),
            funder_reference="REGION-DECISION-0001",
        ),
    )
    await r.advance_to(rules.at_midnight(starts_on) + timedelta(hours=1))
    await r.until(current, lambda s: s.status is TrainingStatus.IN_TRAINING)
    await r.advance_to(rules.at_midnight(ends_on) + timedelta(hours=1))
    await request.execute_update(
        TrainingRequest.end_training,
        EndTrainingInput(actor_id=REFERENT, ended_on=ends_on, completed=True),
    )
    assert (await request.result()).status is TrainingStatus.ENDED
    await r.heard(journey, "training_ended")
    await r.act(journey, CloseInput(exit_reason=ExitReason.OTHER, actor_id=REFERENT))
    await journey.result()
    await r.keep("training_request_reminded", request)
    await r.keep("journey_requested_training", journey)


async def service_orientation_expired(r: Recorder) -> None:
    beneficiary_id = "00000000-0000-4000-8000-000000000005"
    journey = await r.journey(beneficiary_id)
    state = await r.to_accompaniment(journey, OrientationKind.PROFESSIONAL)
    # A professional orientation is told to France Travail, as ``JourneyService`` does.
    notice = await r.client.start_workflow(
        FranceTravailOrientationNotice.run,
        FranceTravailNoticeStart(
            beneficiary_id=beneficiary_id,
            journey_workflow_id=journey.id,
            orientation_seq=state.seq,
            decided_on=state.step_since.date(),
            structure_id=STRUCTURE,
            referent_id=REFERENT,
        ),
        id=france_travail_notice_workflow_id(beneficiary_id, state.seq),
        task_queue=TASK_QUEUE,
    )
    assert (await notice.result()).notified
    await r.heard(journey, "france_travail_notified")
    lookup = await r.client.start_workflow(
        PartnerLookup.run,
        PartnerLookupStart(beneficiary_id=beneficiary_id, partner="caf", request_id="replay-1"),
        id=partner_lookup_workflow_id("caf", beneficiary_id, "replay-1"),
        task_queue=TASK_QUEUE,
    )
    assert (await lookup.result()).outcome == "found"

    async with transaction(r.sessions) as session:
        session.add(
            ResourceStructure(
                id=RESOURCE_STRUCTURE,
                source="replay",
                source_id="replay-structure-1",
                nom="Association d'insertion",
                date_maj=await r.today(),
                raw={},
            )
        )
        session.add(
            ResourceService(
                id=RESOURCE_SERVICE,
                source="replay",
                source_id="replay-service-1",
                structure_source_id="replay-structure-1",
                nom="Atelier de remobilisation",
                description="Atelier collectif.",
                date_maj=await r.today(),
                search_text="atelier de remobilisation",
                raw={},
            )
        )
    await r.act(
        journey,
        OrientToServiceInput(
            orientation_id=ORIENTATION,
            service_id=str(RESOURCE_SERVICE),
            resource_structure_id=str(RESOURCE_STRUCTURE),
            actor_id=REFERENT,
        ),
    )
    orientation: WorkflowHandle[Any, ServiceOrientationResult] = r.client.get_workflow_handle(
        service_orientation_workflow_id(ORIENTATION), result_type=ServiceOrientationResult
    )
    await r.until(
        lambda: orientation.query(ServiceOrientation.status),
        lambda status: status is OrientationStatus.SENT,
    )
    # The structure never answers: reminded after its reminder days, expired after the rest.
    expiry = timedelta(days=r.settings.service_orientation_expiry_days)
    await r.advance_to(await r.now() + expiry + timedelta(hours=1))
    assert (await orientation.result()).status is OrientationStatus.EXPIRED
    await r.heard(journey, "service_orientation_expired")
    await r.act(journey, CloseInput(exit_reason=ExitReason.OTHER, actor_id=REFERENT))
    await journey.result()
    await r.keep("france_travail_notice", notice)
    await r.keep("partner_lookup", lookup)
    await r.keep("service_orientation_expired", orientation)
    await r.keep("journey_oriented_to_service", journey)


async def closed_with_requests(r: Recorder) -> None:
    """An orientation to a service and a training request (child workflows), then the journey
    closed: it withdraws what still waits (patch ``settle-requests-on-close``)."""
    handle = await r.journey("00000000-0000-4000-8000-000000000007")
    await r.act(handle, BeginDiagnosisInput(actor_id=REFERENT))
    await r.act(
        handle,
        OrientToServiceInput(
            orientation_id="00000000-0000-4000-8000-0000000000d1",
            service_id="1",
            resource_structure_id="1",
            plan_action_id="00000000-0000-4000-8000-0000000000d2",
            actor_id=REFERENT,
        ),
    )
    await r.act(handle, CompleteDiagnosisInput(actor_id=REFERENT))
    await r.act(
        handle,
        DecideOrientationInput(
            kind=OrientationKind.SOCIO_PROFESSIONAL,
            structure_id=STRUCTURE,
            referent_id=REFERENT,
            actor_id=ORIENTATION_OFFICER,
        ),
    )
    await r.act(
        handle,
        RequestTrainingInput(
            request_id="00000000-0000-4000-8000-0000000000e1",
            training_id="00000000-0000-4000-8000-0000000000e2",
            funder="region",
            actor_id=REFERENT,
        ),
    )
    await r.act(handle, CloseInput(exit_reason=ExitReason.DECLINED, actor_id=REFERENT))
    assert (await handle.result()).exit_reason is ExitReason.DECLINED
    await r.keep("closed_with_requests", handle)


async def orientation_decision_requested(r: Recorder) -> None:
    """A request for the orientation decision, sent twice: recorded once."""
    handle = await r.journey("00000000-0000-4000-8000-000000000008")
    await r.act(handle, BeginDiagnosisInput(actor_id=REFERENT))
    await r.act(handle, CompleteDiagnosisInput(actor_id=REFERENT))
    request = JourneyOutcomeInput(kind="decision_requested", actor_id=REFERENT)
    await handle.signal(Journey.record_outcome, request)
    await r.heard(handle, "decision_requested")
    await handle.signal(Journey.record_outcome, request)
    # The second is handled (left out, behind its patch marker) before the decision.
    await settled(handle)
    markers = [
        e
        for e in (await handle.fetch_history()).events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]
    assert markers, "the request sent twice was left out behind its patch"
    await r.act(
        handle,
        DecideOrientationInput(
            kind=OrientationKind.SOCIAL,
            structure_id=STRUCTURE,
            referent_id=REFERENT,
            actor_id=ORIENTATION_OFFICER,
        ),
    )
    timeline = await handle.query(Journey.timeline)
    assert [e.kind for e in timeline.events].count("decision_requested") == 1
    await r.act(handle, CloseInput(exit_reason=ExitReason.OTHER, actor_id=REFERENT))
    await handle.result()
    await r.keep("orientation_decision_requested", handle)


async def oriented_by_france_travail_then_closed(
    r: Recorder, handle: JourneyHandle, name: str
) -> None:
    """France Travail is asked, orients by its callback, then the journey closes; kept as
    ``name``."""
    await r.reached(handle, lambda s: s.france_travail_requested_due_on is not None)
    await r.heard(handle, "france_travail_orientation_sent")
    await r.act(
        handle,
        DecideOrientationInput(
            kind=OrientationKind.PROFESSIONAL, structure_id=STRUCTURE, decided_by="france_travail"
        ),
    )
    await r.act(handle, CloseInput(exit_reason=ExitReason.OTHER, actor_id=REFERENT))
    await handle.result()
    await r.keep(name, handle)


async def france_travail_orientation(r: Recorder) -> None:
    """The legal orientation clock (patch ``france-travail-orientation``): the CAF says the
    person is not subject to duties, then is again (the clock starts over), the delay passes
    in diagnosis, France Travail is asked (a partner call) and orients by its callback (the
    ``decide_orientation`` update, decided by France Travail); then the journey closes."""
    today = await r.today()
    handle = await r.journey(
        "00000000-0000-4000-8000-000000000011",
        rsa_opened_on=today - timedelta(weeks=5),
        sla=Sla(france_travail_orients_after_weeks=6),
    )
    await r.act(handle, BeginDiagnosisInput(actor_id=REFERENT))
    off = RsaRightsChangedInput(
        status=RsaStatus.OPEN, effective_on=today, subject_to_duties=False, event_kind="change"
    )
    await handle.signal(Journey.rsa_rights_changed, off)
    await r.reached(handle, lambda s: not s.subject_to_duties)
    await r.advance_to(await r.now() + timedelta(weeks=2))
    on = off.model_copy(update={"subject_to_duties": True, "effective_on": await r.today()})
    await handle.signal(Journey.rsa_rights_changed, on)
    await r.reached(handle, lambda s: s.subject_to_duties)
    await r.advance_to(await r.now() + timedelta(weeks=6, days=1))
    await oriented_by_france_travail_then_closed(r, handle, "france_travail_orientation")


async def enrolled_past_the_delay(r: Recorder) -> None:
    """Someone enrolled once the legal orientation delay has passed (patch ``due-at-once``):
    France Travail is asked at once, without a timer, orients by its callback; then the journey
    closes."""
    today = await r.today()
    handle = await r.journey(
        "00000000-0000-4000-8000-000000000015",
        rsa_opened_on=today - timedelta(weeks=16),
        sla=Sla(france_travail_orients_after_weeks=6),
    )
    await oriented_by_france_travail_then_closed(r, handle, "enrolled_past_the_delay")


async def reoriented_after_social_review(r: Recorder) -> None:
    """Reorientation refused, the social review due at 6 months, then a reorientation."""
    handle = await r.journey("00000000-0000-4000-8000-000000000010")
    oriented = await r.to_accompaniment(handle, OrientationKind.SOCIAL)
    assert oriented.social_review_due_on is not None
    await r.act(
        handle,
        RequestReorientationInput(
            request_id="reo-1",
            requested_by_role="person",
            reason_code="ready_for_employment",
        ),
    )
    await r.refused(
        handle,
        DecideReorientationInput(
            request_id="reo-1", accepted=True, kind=OrientationKind.SOCIAL, structure_id=STRUCTURE
        ),
    )
    await r.act(
        handle,
        DecideReorientationInput(
            request_id="reo-1",
            accepted=False,
            refusal_code="too_early",
            actor_id=ORIENTATION_OFFICER,
        ),
    )
    await r.advance_to(rules.add_months(oriented.step_since, 6) - timedelta(days=10))
    await r.reached(handle, lambda s: s.social_review_noticed)
    await r.act(
        handle,
        ConcludeSocialReviewInput(decision="reorient", request_id="reo-2", actor_id=REFERENT),
    )
    state = await r.act(
        handle,
        DecideReorientationInput(
            request_id="reo-2",
            accepted=True,
            kind=OrientationKind.SOCIO_PROFESSIONAL,
            structure_id=APPOINTMENT_STRUCTURE,
            referent_id=OTHER_REFERENT,
            after_team_meeting=True,
            actor_id=ORIENTATION_OFFICER,
        ),
    )
    assert state.social_review_due_on is None
    await r.act(handle, CloseInput(exit_reason=ExitReason.OTHER, actor_id=OTHER_REFERENT))
    await handle.result()
    await r.keep("reoriented_after_social_review", handle)


async def appointment_attended(r: Recorder) -> None:
    """An invitation (``appointment_attended``): reminded at day +3, booked, reminded 2 days
    before, attended. The journey (``journey_with_appointment``) hears each change, reaches
    its orientation step (an orientation appointment attended), then closes."""
    person = "00000000-0000-4000-8000-000000000009"
    handle = await r.journey(person)
    await r.act(handle, BeginDiagnosisInput(actor_id=REFERENT))
    now = await r.now()
    expires = now + timedelta(days=7)
    await r.act(
        handle,
        PlanAppointmentInput(
            appointment_id=APPOINTMENT,
            mode="invitation",
            kind=AppointmentKind.ORIENTATION.value,
            structure_id=APPOINTMENT_STRUCTURE,
            expires_at=expires,
            actor_id=REFERENT,
        ),
    )
    # What the référente's request writes once the journey accepted.
    async with transaction(r.sessions) as session:
        session.add(
            Structure(id=APPOINTMENT_STRUCTURE, name="Pôle insertion", kind="ccas", territory="73")
        )
        await session.flush()
        session.add(
            Place(
                id=APPOINTMENT_PLACE,
                structure_id=APPOINTMENT_STRUCTURE,
                name="Accueil",
                address="Place Caffe, 73000 Chambéry",
            )
        )
        await session.flush()
        session.add(
            Slot(
                id=APPOINTMENT_SLOT,
                structure_id=APPOINTMENT_STRUCTURE,
                place_id=APPOINTMENT_PLACE,
                kind="orientation",
                start_time=time(10, 0),
                duration_minutes=45,
                capacity=1,
                weekday=0,
            )
        )
        session.add(
            Appointment(
                id=APPOINTMENT,
                beneficiary_id=person,
                mode="invitation",
                kind="orientation",
                status="invited",
                structure_id=APPOINTMENT_STRUCTURE,
                workflow_id=appointment_workflow_id(APPOINTMENT),
                expires_at=expires,
                seq=0,
            )
        )
    child = r.client.get_workflow_handle(appointment_workflow_id(APPOINTMENT))
    await settled(child)
    await r.advance_to(now + timedelta(days=3, minutes=1))
    await settled(child)
    starts = now + timedelta(days=6)
    await child.execute_update(
        "book",
        BookSlotInput(
            slot_id=APPOINTMENT_SLOT, starts_at=starts, ends_at=starts + timedelta(minutes=45)
        ),
        result_type=AppointmentState,
    )
    await settled(child)
    await r.advance_to(starts - timedelta(days=2) + timedelta(minutes=1))
    await settled(child)
    await r.advance_to(starts + timedelta(hours=1))
    await child.execute_update(
        "record_attendance",
        RecordAttendanceInput(status=AppointmentStatus.ATTENDED, actor_id=REFERENT),
        result_type=AppointmentState,
    )
    await child.result()
    await r.reached(handle, lambda state: state.step is Step.ORIENTATION)
    await r.act(handle, CloseInput(exit_reason=ExitReason.OTHER, actor_id=REFERENT))
    await handle.result()
    await r.keep("appointment_attended", child)
    await r.keep("journey_with_appointment", handle)


SANCTIONS = (
    "00000000-0000-4000-8000-0000000000f1",
    "00000000-0000-4000-8000-0000000000f2",
    "00000000-0000-4000-8000-0000000000f3",
    "00000000-0000-4000-8000-0000000000f4",
)


async def sanction_cases(r: Recorder) -> None:
    """Four cases of one journey: ended, removed then proposed to France Travail, lifted by
    the contract's signature, ended by a signature before the decision."""
    handle = await r.journey("00000000-0000-4000-8000-000000000010")
    await r.to_accompaniment(handle, OrientationKind.SOCIO_PROFESSIONAL)

    async def case_through_decision(
        case_id: str, breach: Breach, decision: DecideSanctionInput, *, heard: bool = False
    ) -> WorkflowHandle[Any, Any]:
        await r.act(handle, OpenSanctionInput(case_id=case_id, breach=breach, actor_id=REFERENT))
        case = r.client.get_workflow_handle(sanction_case_workflow_id(case_id))
        await settled(case)
        today = await r.today()
        await case.execute_update(
            "record_receipt",
            RecordReceiptInput(received_on=today, by_person=True),
            result_type=SanctionCaseState,
        )
        if heard:
            for name, update in (
                ("send_observations", SendObservationsInput()),
                ("request_hearing", RequestHearingInput(with_companion=True)),
                ("record_hearing", RecordHearingInput(held_on=today, with_companion=True)),
            ):
                await case.execute_update(name, update, result_type=SanctionCaseState)
        await settled(case)
        await r.advance_to(await r.now() + timedelta(days=11))
        await case.execute_update(
            "record_team_opinion",
            RecordTeamOpinionInput(
                session_on=await r.today(),
                member_ids=[ORIENTATION_OFFICER, REFERENT],
                opinion="sanction",
                actor_id=ORIENTATION_OFFICER,
            ),
            result_type=SanctionCaseState,
        )
        # Below the bounds: refused by the validator, nothing written.
        with contextlib.suppress(WorkflowUpdateFailedError):
            await case.execute_update(
                "decide",
                decision.model_copy(update={"rate_percent": 20}),
                result_type=SanctionCaseState,
            )
        await case.execute_update("decide", decision, result_type=SanctionCaseState)
        await settled(case)
        return case

    first = await case_through_decision(
        SANCTIONS[0],
        Breach.CONTRACT_NOT_SIGNED,
        DecideSanctionInput(measure=Measure.SUSPENSION, rate_percent=30, months=1),
        heard=True,
    )
    await r.advance_to(await r.now() + timedelta(days=32))
    await first.result()
    await r.heard(handle, "sanction_closed")

    second = await case_through_decision(
        SANCTIONS[1],
        Breach.PLAN_NOT_DONE,
        DecideSanctionInput(measure=Measure.REMOVAL, rate_percent=100, months=4),
    )
    await r.advance_to(await r.now() + timedelta(days=124))
    await second.result()
    await r.heard(handle, "france_travail_removal_proposed")
    await settled(handle)

    third = await case_through_decision(
        SANCTIONS[2],
        Breach.PLAN_NOT_DONE,
        DecideSanctionInput(measure=Measure.SUSPENSION, rate_percent=50, months=2),
    )
    await r.act(handle, SignContractInput(signed_on=await r.today(), actor_id=REFERENT))
    await third.result()
    await settled(handle)

    # Signed (updated) before any decision: the procedure ends.
    await r.act(
        handle,
        OpenSanctionInput(case_id=SANCTIONS[3], breach=Breach.PLAN_NOT_DONE, actor_id=REFERENT),
    )
    fourth = r.client.get_workflow_handle(sanction_case_workflow_id(SANCTIONS[3]))
    await settled(fourth)
    await fourth.execute_update(
        "record_receipt",
        RecordReceiptInput(received_on=await r.today(), actor_id=REFERENT),
        result_type=SanctionCaseState,
    )
    await settled(fourth)
    await r.act(handle, SignContractInput(signed_on=await r.today(), actor_id=REFERENT))
    await fourth.result()
    await settled(handle)
    await r.act(handle, CloseInput(exit_reason=ExitReason.OTHER, actor_id=REFERENT))
    await handle.result()
    await r.keep("sanction_ended", first)
    await r.keep("sanction_removal_proposed", second)
    await r.keep("sanction_lifted", third)
    await r.keep("sanction_remobilised_before_decision", fourth)
    await r.keep("journey_with_sanctions", handle)


async def scheduled_runs(r: Recorder) -> None:
    """The short workflows the worker's schedules start, one run each."""
    runs: list[tuple[str, WorkflowHandle[Any, Any]]] = [
        (
            "reconcile_journeys",
            await r.client.start_workflow(
                ReconcileJourneys.run,
                ReconcileInput(),
                id=RECONCILE_SCHEDULE_ID,
                task_queue=TASK_QUEUE,
            ),
        ),
        (
            "retention_sweep",
            await r.client.start_workflow(
                RetentionSweep.run,
                RetentionSweepInput(retention_months=r.settings.retention_months),
                id=RETENTION_SCHEDULE_ID,
                task_queue=TASK_QUEUE,
            ),
        ),
        (
            "daily_digest",
            await r.client.start_workflow(
                DailyDigest.run, DailyDigestInput(), id=DIGEST_WORKFLOW_ID, task_queue=TASK_QUEUE
            ),
        ),
    ]
    for name, handle in runs:
        await handle.result()
        await r.keep(name, handle)


async def deliver_outbox(r: Recorder) -> None:
    """One run of the mail outbox's workflow (started every minute by its schedule)."""
    handle = await r.client.start_workflow(
        DeliverOutbox.run, DeliverOutboxInput(), id=OUTBOX_WORKFLOW_ID, task_queue=TASK_QUEUE
    )
    await handle.result()
    await r.keep("deliver_outbox", handle)


async def deliver_sms(r: Recorder) -> None:
    """One run of the SMS outbox's workflow (started every minute by its schedule)."""
    handle = await r.client.start_workflow(
        DeliverSms.run, DeliverSmsInput(), id=SMS_WORKFLOW_ID, task_queue=TASK_QUEUE
    )
    await handle.result()
    await r.keep("deliver_sms", handle)


async def france_travail_appointment_notice(r: Recorder) -> None:
    """One status of an accompaniment appointment sent to France Travail, as the
    ``Appointment`` workflow starts it for each change."""
    appointment_id = "00000000-0000-4000-8000-0000000000a7"
    handle = await r.client.start_workflow(
        FranceTravailAppointmentNotice.run,
        FranceTravailAppointmentInput(
            beneficiary_id="00000000-0000-4000-8000-000000000007",
            idempotency_key=f"{appointment_workflow_id(appointment_id)}:france-travail-1",
            appointment_id=appointment_id,
            status="planned",
            kind=AppointmentKind.ACCOMPAGNEMENT,
            starts_at=datetime(2026, 12, 15, 9, 30, tzinfo=UTC),
            duration_minutes=45,
            booked_by="person",
            structure_id=STRUCTURE,
        ),
        id=france_travail_notice_id(appointment_id, 1),
        task_queue=TASK_QUEUE,
    )
    assert (await handle.result()).sent
    await r.keep("france_travail_appointment_notice", handle)


async def inbox_daily(r: Recorder) -> None:
    """One run of the inbox's daily workflow (deadlines of the week, daily summaries)."""
    handle = await r.client.start_workflow(
        InboxDaily.run, InboxDailyInput(), id=INBOX_WORKFLOW_ID, task_queue=TASK_QUEUE
    )
    await handle.result()
    await r.keep("inbox_daily", handle)


async def keep_closed_months(r: Recorder) -> None:
    """One run of the indicators' nightly workflow (``KeepClosedMonths``; on SQLite it keeps
    nothing, the history has the real shape)."""
    handle = await r.client.start_workflow(
        KeepClosedMonths.run,
        KeepClosedMonthsInput(),
        id=INDICATORS_WORKFLOW_ID,
        task_queue=TASK_QUEUE,
    )
    await handle.result()
    await r.keep("keep_closed_months", handle)


async def journey_bounded_history(r: Recorder) -> None:
    """Pauses and resumptions until the journey's run passes ``Sla.history_events_bound`` events
    and continues as new by itself (the server would only suggest it at 4,096)."""
    handle = await r.journey("00000000-0000-4000-8000-000000000007")
    await r.act(handle, BeginDiagnosisInput(actor_id=REFERENT))
    first = (await handle.describe()).run_id
    while (await handle.describe()).run_id == first:
        await r.act(handle, PauseInput(actor_id=REFERENT))
        await r.act(handle, ResumeInput(actor_id=REFERENT))
    second = (await handle.describe()).run_id
    await r.act(handle, CompleteDiagnosisInput(actor_id=REFERENT))
    await r.act(handle, CloseInput(exit_reason=ExitReason.MOVED_AWAY, actor_id=REFERENT))
    await handle.result()
    # Each run by its id (the time-skipping server describes a closed journey, its deadline
    # unset, in a form the client cannot read).
    for name, run_id in (
        ("journey_bounded_history", first),
        ("journey_bounded_history_run2", second),
    ):
        run = r.client.get_workflow_handle(handle.id, run_id=run_id)
        r.write(name, await run.fetch_history())


# --- Scenarios on the short-history dev server ---


async def journey_continued_as_new(r: Recorder) -> None:
    handle = await r.journey("00000000-0000-4000-8000-000000000006")
    today = await r.today()
    for action in (
        BeginDiagnosisInput(actor_id=REFERENT),
        PauseInput(actor_id=REFERENT),
        ResumeInput(actor_id=REFERENT),
        ReassignReferentInput(referent_id=OTHER_REFERENT, actor_id=ORIENTATION_OFFICER),
        CompleteDiagnosisInput(actor_id=OTHER_REFERENT),
        DecideOrientationInput(
            kind=OrientationKind.SOCIO_PROFESSIONAL,
            structure_id=STRUCTURE,
            referent_id=REFERENT,
            actor_id=ORIENTATION_OFFICER,
        ),
        SignContractInput(signed_on=today, weekly_hours=15, actor_id=REFERENT),
        RecordEmploymentInput(started_on=today, contract=EmploymentContract.CDD),
        SetFollowUpConsentInput(consent=True),
        SetFollowUpConsentInput(consent=False),
    ):
        await r.act(handle, action)
    assert (await handle.result()).exit_reason is ExitReason.EMPLOYMENT
    await r.keep_runs("journey_continued_as_new", handle.id)


async def caf_import_continued_as_new(r: Recorder) -> None:
    content, personal = caf_feed()
    r.personal += personal
    async with transaction(r.sessions) as session:
        service = CafImportService(session, r.client, r.settings)
        file_id, _ = await service.store("flux-rsa-rejoue.csv", content)
    # One line per batch: a dozen batches are enough for the server to suggest continuing.
    handle = await r.client.start_workflow(
        CafImport.run,
        CafImportInput(file_id=file_id, batch_lines=1),
        id=caf_import_workflow_id(file_id),
        task_queue=TASK_QUEUE,
    )
    progress = await handle.result()
    assert progress.done and progress.counts.processed == CAF_FEED_LINES, progress
    await r.keep_runs("caf_import_continued_as_new", handle.id)


Scenario = Callable[[Recorder], Awaitable[None]]
Server = Literal["time-skipping", "short-history"]

SCENARIOS: dict[str, tuple[Server, Scenario]] = {
    "complete_journey": ("time-skipping", complete_journey),
    "paused_and_reassigned": ("time-skipping", paused_and_reassigned),
    "stalled_then_moved_on": ("time-skipping", stalled_then_moved_on),
    "training_request_reminded": ("time-skipping", training_request_reminded),
    "service_orientation_expired": ("time-skipping", service_orientation_expired),
    "closed_with_requests": ("time-skipping", closed_with_requests),
    "orientation_decision_requested": ("time-skipping", orientation_decision_requested),
    "appointment_attended": ("time-skipping", appointment_attended),
    "france_travail_orientation": ("time-skipping", france_travail_orientation),
    "enrolled_past_the_delay": ("time-skipping", enrolled_past_the_delay),
    "reoriented_after_social_review": ("time-skipping", reoriented_after_social_review),
    "sanction_cases": ("time-skipping", sanction_cases),
    "scheduled_runs": ("time-skipping", scheduled_runs),
    "deliver_outbox": ("time-skipping", deliver_outbox),
    "deliver_sms": ("time-skipping", deliver_sms),
    "france_travail_appointment_notice": ("time-skipping", france_travail_appointment_notice),
    "inbox_daily": ("time-skipping", inbox_daily),
    "keep_closed_months": ("time-skipping", keep_closed_months),
    "journey_bounded_history": ("time-skipping", journey_bounded_history),
    "journey_continued_as_new": ("short-history", journey_continued_as_new),
    "caf_import_continued_as_new": ("short-history", caf_import_continued_as_new),
}


SERVERS: dict[Server, Callable[[], contextlib.AbstractAsyncContextManager[WorkflowEnvironment]]]
SERVERS = {"time-skipping": time_skipping_server, "short-history": short_history_server}


async def record_on(
    server: Server,
    scenarios: list[Scenario],
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    async with SERVERS[server]() as env:
        # A fixed identity, so the files name no machine.
        client = await Client.connect(
            env.client.service_client.config.target_host,
            namespace=env.client.namespace,
            data_converter=pydantic_data_converter,
            identity=IDENTITY,
        )
        recorder = Recorder(env, client, sessions, settings)
        partners = partner_parts(client, sessions, settings)
        try:
            async with build_worker(client, sessions, TASK_QUEUE, settings, partners=partners):
                for scenario in scenarios:
                    await scenario(recorder)
        finally:
            await partners.aclose()


async def record(names: list[str]) -> None:
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    chosen = {name: SCENARIOS[name] for name in names or SCENARIOS}
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite+aiosqlite:///{tmp}/record.db"
        config = Config(str(ROOT / "alembic.ini"))
        config.attributes["database_url"] = database_url
        await asyncio.to_thread(command.upgrade, config, "head")
        settings = Settings(
            environment="development",
            database_url=database_url,
            task_queue=TASK_QUEUE,
            # As the tests run them: a non-deterministic call fails the recording at once.
            workflow_sandbox_everywhere=True,
        )
        engine = create_engine(database_url)
        sessions = create_sessionmaker(engine)
        HISTORIES.mkdir(exist_ok=True)
        try:
            for server in SERVERS:
                scenarios = [run for on, run in chosen.values() if on == server]
                if scenarios:
                    await record_on(server, scenarios, sessions, settings)
        finally:
            await engine.dispose()


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1:]))
