"""What a closed journey leaves behind, settled: its training requests still waiting for their
funder's decision and its orientations still waiting for their structure's answer are
withdrawn, its appointments still to come cancelled.

The ``Journey`` workflow runs this once it has closed (whatever closed it: the ``close``
update, the CAF closing the rights, the end of follow-up), as an activity the engine records
with the journey's history. It lists the waiting children in SQL — every run of the journey,
those started before this existed too — adds the ones the journey's current run started (a
request's row is written just after the journey accepted it, an orientation's by its own
workflow: either may not be there yet), and signals each child ``withdraw``. Each child
decides for itself, under its own rules: only what still waits is withdrawn, told to its
funder or structure, and written to its read model. A signal repeated (the activity retried)
changes nothing; a child that has ended meanwhile is skipped.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from parcours.appointments import messages as appointments
from parcours.appointments.repository import AppointmentRepository
from parcours.core.temporal import send_signal
from parcours.journey.messages import SettleRequestsInput, SettleRequestsResult
from parcours.orientations import messages as orientations
from parcours.orientations.repository import ServiceOrientationRepository
from parcours.training_requests import messages as training_requests
from parcours.training_requests.repository import TrainingRequestRepository

log = logging.getLogger(__name__)


def _together(found: list[str], started: list[str]) -> list[str]:
    """Both lists, each id once, in a stable order."""
    return list(dict.fromkeys([*found, *started]))


class JourneySettlement:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], temporal: Client) -> None:
        self.sessions = sessions
        self.temporal = temporal

    async def settle(self, data: SettleRequestsInput) -> SettleRequestsResult:
        # Read first, then signal: no transaction is held while Temporal answers.
        async with self.sessions() as session:
            requests = await TrainingRequestRepository(session).undecided_ids(data.beneficiary_id)
            oriented = await ServiceOrientationRepository(session).waiting_ids(data.beneficiary_id)
            coming = await AppointmentRepository(session).pending_ids(data.beneficiary_id)
        told_requests = 0
        for request_id in _together(requests, data.training_request_ids):
            handle = self.temporal.get_workflow_handle(
                training_requests.training_request_workflow_id(request_id)
            )
            if await send_signal(
                handle,
                training_requests.WITHDRAW_SIGNAL,
                training_requests.WithdrawTrainingRequestInput(),
            ):
                told_requests += 1
        told_orientations = 0
        for orientation_id in _together(oriented, data.orientation_ids):
            handle = self.temporal.get_workflow_handle(
                orientations.service_orientation_workflow_id(orientation_id)
            )
            if await send_signal(
                handle, orientations.WITHDRAW_SIGNAL, orientations.WithdrawOrientationInput()
            ):
                told_orientations += 1
        told_appointments = 0
        for appointment_id in coming:
            handle = self.temporal.get_workflow_handle(
                appointments.appointment_workflow_id(appointment_id)
            )
            if await send_signal(
                handle, appointments.WITHDRAW_SIGNAL, appointments.WithdrawAppointmentInput()
            ):
                told_appointments += 1
        log.info(
            "closed journey settled",
            extra={
                "beneficiary_id": data.beneficiary_id,
                "training_requests": told_requests,
                "orientations": told_orientations,
                "appointments": told_appointments,
            },
        )
        return SettleRequestsResult(
            training_requests=told_requests,
            orientations=told_orientations,
            appointments=told_appointments,
        )
