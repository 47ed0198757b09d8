"""The ``ServiceOrientation`` workflow's own activities: begin (write the orientation as
requested, and read what the workflow needs), record each transition in the read model and the
plan, and remind the structure (a partner call, once per key)."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.expected import expected_failure
from activities.partners import partner_http_call
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.orientations.messages import (
    BEGIN_SERVICE_ORIENTATION,
    RECORD_SERVICE_ORIENTATION,
    REMIND_STRUCTURE,
    BeginServiceOrientationInput,
    OrientationTarget,
    ServiceOrientationTransition,
    StructureReminderInput,
)
from parcours.orientations.service import AnswerNotYetCommitted, ServiceOrientationProjection
from parcours.partners.adapters.clients import PartnerAdapters
from parcours.partners.messages import PartnerReceipt

# A structure's answer is read from its callback, committed by the request that signalled:
# wait for it this many attempts (about ten minutes), then write the answer without it.
ANSWER_WAIT_ATTEMPTS = 25
ANSWER_NOT_YET_COMMITTED = "AnswerNotYetCommitted"


class StructureReminder(BaseModel):
    orientation_id: str


class StructureReminderReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str


class ServiceOrientationActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        adapters: PartnerAdapters,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.adapters = adapters

    @activity.defn(name=BEGIN_SERVICE_ORIENTATION)
    async def begin_service_orientation(
        self, data: BeginServiceOrientationInput
    ) -> OrientationTarget:
        async with transaction(self.sessions) as session:
            return await ServiceOrientationProjection(session, self.settings).begin(data)

    @activity.defn(name=RECORD_SERVICE_ORIENTATION)
    async def record_service_orientation(self, data: ServiceOrientationTransition) -> None:
        wait = activity.info().attempt < ANSWER_WAIT_ATTEMPTS
        try:
            async with transaction(self.sessions) as session:
                await ServiceOrientationProjection(session, self.settings).record(
                    data, wait_for_answer=wait
                )
        except AnswerNotYetCommitted as waiting:
            raise expected_failure(
                f"structure's answer not committed yet ({waiting})", ANSWER_NOT_YET_COMMITTED
            ) from None

    @activity.defn(name=REMIND_STRUCTURE.activity)
    async def remind_structure(self, data: StructureReminderInput) -> PartnerReceipt:
        """Remind the structure of an orientation it has not answered (no personal data: the
        structure already has the orientation)."""
        client = self.adapters.structures.client
        receipt, replayed = await partner_http_call(
            lambda: client.call(
                "POST",
                f"/orientations/{quote(data.reference, safe='')}/reminders",
                key=data.idempotency_key,
                body=StructureReminder(orientation_id=data.orientation_id),
                result=StructureReminderReceipt,
            )
        )
        assert receipt is not None
        return PartnerReceipt(reference=receipt.reference, replayed=replayed)
