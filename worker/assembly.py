"""The worker's assembly: which workflows it runs and which activities it registers, each
built with its dependencies (the database sessions, the Temporal client, the partners'
adapters: one connection pool per partner, closed with the worker).

    partners = PartnerWorkerParts.build(client, sessions, settings)
    worker = build_worker(client, sessions, task_queue, settings, partners=partners)
    async with worker: ...
    await partners.aclose()  # after the worker stopped

``PartnerWorkerParts`` are apart because tests run the partner side against their own
transports and simulators.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.appointments import AppointmentActivities
from activities.carnet import RetentionActivities
from activities.inbox import InboxActivities
from activities.indicators import IndicatorActivities
from activities.journey import (
    JourneyReconcileActivities,
    JourneySettlementActivities,
    ReadModelActivities,
)
from activities.mail import OutboxActivities
from activities.management import DigestActivities
from activities.orientations import ServiceOrientationActivities
from activities.partners import CafImportActivities, PartnerActivities
from activities.sanctions import SanctionActivities, SanctionPartnerActivities
from activities.sms import SmsActivities
from activities.training_requests import TrainingRequestActivities
from parcours.core.settings import Settings, get_settings
from parcours.management.incidents import PartnerIncidentLog
from parcours.partners.adapters.clients import PartnerAdapters
from workflows.appointments import Appointment, FranceTravailAppointmentNotice
from workflows.carnet import RetentionSweep
from workflows.inbox import InboxDaily
from workflows.indicators import KeepClosedMonths
from workflows.journey import Journey, ReconcileJourneys
from workflows.mail import DeliverOutbox
from workflows.management import DailyDigest
from workflows.orientations import FranceTravailOrientationNotice, ServiceOrientation
from workflows.partners import CafImport, PartnerLookup
from workflows.sanctions import SanctionCase
from workflows.sms import DeliverSms
from workflows.training_requests import TrainingRequest

# The workflows whose activities call partners: the CAF import and look-ups, orientations to
# services, France Travail's notices of orientations and of appointments, training requests to
# their funder.
PARTNER_WORKFLOWS: list[type] = [
    CafImport,
    PartnerLookup,
    ServiceOrientation,
    FranceTravailOrientationNotice,
    FranceTravailAppointmentNotice,
    TrainingRequest,
    # Sanction cases send their decision to the CAF and may propose a removal to France Travail.
    SanctionCase,
]


@dataclass(frozen=True)
class PartnerWorkerParts:
    adapters: PartnerAdapters
    activities: list[Callable[..., Any]]

    @classmethod
    def build(
        cls,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> PartnerWorkerParts:
        adapters = PartnerAdapters.from_settings(settings, transport)
        incidents = PartnerIncidentLog(sessions, settings.partner_incident_attempts)
        calls = PartnerActivities(
            sessions,
            adapters,
            incidents,
            app_url=settings.public_app_url,
            lookup_wait_s=settings.partner_lookup_wait_s,
        )
        imports = CafImportActivities(sessions, client, settings)
        orientations = ServiceOrientationActivities(sessions, settings, adapters)
        training_requests = TrainingRequestActivities(sessions, settings)
        sanctions = SanctionPartnerActivities(sessions, adapters, incidents)
        return cls(
            adapters=adapters,
            activities=[
                calls.lookup_caf_household,
                calls.find_france_travail_person,
                calls.notify_france_travail_orientation,
                calls.request_france_travail_orientation,
                calls.send_appointment_to_france_travail,
                calls.submit_training_request,
                calls.withdraw_training_request,
                calls.send_structure_orientation,
                calls.cancel_structure_orientation,
                imports.begin_caf_import,
                imports.apply_caf_feed_batch,
                imports.finish_caf_import,
                orientations.begin_service_orientation,
                orientations.record_service_orientation,
                orientations.remind_structure,
                training_requests.begin_training_request,
                training_requests.record_training_request,
                sanctions.send_sanction_to_caf,
                sanctions.propose_france_travail_removal,
            ],
        )

    async def aclose(self) -> None:
        await self.adapters.aclose()


WORKFLOWS = [
    Journey,
    ReconcileJourneys,
    RetentionSweep,
    KeepClosedMonths,
    DailyDigest,
    InboxDaily,
    DeliverOutbox,
    DeliverSms,
    Appointment,
    *PARTNER_WORKFLOWS,
]


# The SDK sends an activity's heartbeats at most every 0.8 × its heartbeat timeout: a CAF
# batch (15 s, a dead worker noticed quickly) would reach the server every 12 s, 3 s before
# the server gives up on it and starts another attempt. Every 5 s at most: 10 s to spare.
HEARTBEAT_THROTTLE = timedelta(seconds=5)


def build_worker(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    settings: Settings | None = None,
    partners: PartnerWorkerParts | None = None,
) -> Worker:
    settings = settings or get_settings()
    read_model = ReadModelActivities(sessions, settings)
    reconcile = JourneyReconcileActivities(sessions, client, settings)
    settlement = JourneySettlementActivities(sessions, client)
    retention = RetentionActivities(sessions, client, settings)
    indicators = IndicatorActivities(sessions, settings)
    digest = DigestActivities(sessions, settings)
    outbox = OutboxActivities(sessions, settings)
    inbox = InboxActivities(sessions, settings)
    sms = SmsActivities(sessions, settings)
    appointments = AppointmentActivities(sessions, settings)
    sanctions = SanctionActivities(sessions, settings)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            read_model.record_journey_event,
            read_model.record_journey_events,
            reconcile.reconcile_journeys,
            settlement.settle_journey_requests,
            retention.anonymise_expired,
            indicators.keep_closed_months,
            digest.compose_digests,
            digest.send_digests,
            inbox.run_inbox_day,
            outbox.send_outbox_mails,
            sms.send_due_sms,
            appointments.record_appointment,
            appointments.notify_person,
            appointments.prepare_convocation_documents,
            sanctions.send_sanction_notice,
            *(partners.activities if partners else []),
        ],
        max_concurrent_activities=50,
        unsandboxed_workflow_runner=journey_runner(settings),
        # Activities in flight get this long to finish when the worker is asked to stop.
        graceful_shutdown_timeout=timedelta(seconds=30),
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
    )


def journey_runner(settings: Settings) -> WorkflowRunner:
    """How workflows declared ``sandboxed=False`` (the Journey) run: as they are, or in the
    sandbox when the settings ask (the tests)."""
    if settings.workflow_sandbox_everywhere:
        return SandboxedWorkflowRunner()
    return UnsandboxedWorkflowRunner()
