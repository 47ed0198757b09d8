"""The ``TrainingRequest`` workflow's activities: read what a request needs when it starts,
and write each of its transitions to the read model — with, for an approval, the entry into
training in the person's carnet (a plan action linked to the training, in progress), and for
the end of the training, that action done (or abandoned)."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.expected import expected_failure
from parcours.carnet.models import PlanAction
from parcours.carnet.schemas import PlanStatus, Theme
from parcours.core.db import new_id, transaction, utcnow
from parcours.core.settings import Settings
from parcours.partners.messages import TrainingDetails
from parcours.resources.models import Training
from parcours.training_requests.messages import (
    BEGIN_TRAINING_REQUEST,
    RECORD_TRAINING_REQUEST,
    BeginTrainingRequestInput,
    RecordTrainingRequestInput,
    TrainingRequestSetup,
    TrainingRequestState,
)
from parcours.training_requests.repository import TrainingRequestRepository

NOT_RECORDED = "TrainingRequestNotRecorded"
# The row is usually there within milliseconds: look a few times before failing the attempt.
RECORDED_CHECKS = 50
RECORDED_CHECK_EVERY_S = 0.1


def training_details(training: Training) -> TrainingDetails:
    """The training as the funder receives it (the resource base's, no personal data)."""
    hours = None
    if training.weekly_hours and training.weeks:
        hours = round(training.weekly_hours * training.weeks) or None
    return TrainingDetails(
        training_id=training.id,
        title=training.title,
        provider=training.organisation,
        starts_on=training.start_on,
        ends_on=training.end_on,
        hours=hours,
        location=training.city,
    )


def _french(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _projected(state: TrainingRequestState) -> dict[str, object]:
    values = state.model_dump()
    values["status"] = state.status.value
    return values


class TrainingRequestActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    @activity.defn(name=BEGIN_TRAINING_REQUEST)
    async def begin_training_request(self, data: BeginTrainingRequestInput) -> TrainingRequestSetup:
        """The training to send and the requested amount, with the funder's deadline setting
        (read here, once: the workflow keeps it). The référent's request writes the row just
        after the journey accepted it: until then, try again."""
        for _ in range(RECORDED_CHECKS):
            async with transaction(self.sessions) as session:
                repo = TrainingRequestRepository(session)
                request = await repo.get(data.request_id)
                if request is not None:
                    training = await repo.training(request.training_id)
                    amount = request.requested_amount
                    details = training_details(training) if training is not None else None
                    break
            activity.heartbeat()
            await asyncio.sleep(RECORDED_CHECK_EVERY_S)
        else:
            raise expected_failure(
                f"training request {data.request_id} not recorded yet", NOT_RECORDED
            )
        return TrainingRequestSetup(
            training=details,
            requested_amount=amount if amount is not None else Decimal("0.00"),
            answer_days=self.settings.funder_answer_days,
        )

    @activity.defn(name=RECORD_TRAINING_REQUEST)
    async def record_training_request(self, data: RecordTrainingRequestInput) -> None:
        """Idempotent: the row moves forward only (``seq``), and what goes with a transition
        is done in the same transaction, only when the row moved."""
        async with transaction(self.sessions) as session:
            repo = TrainingRequestRepository(session)
            if not await repo.project(_projected(data.state)):
                return
            if data.kind == "training_approved":
                await self._enter_training(session, repo, data)
            elif data.kind == "training_ended":
                await self._leave_training(repo, data)

    async def _enter_training(
        self,
        session: AsyncSession,
        repo: TrainingRequestRepository,
        data: RecordTrainingRequestInput,
    ) -> None:
        state = data.state
        request = await repo.fresh(state.request_id)
        person = (await repo.people([state.beneficiary_id])).get(state.beneficiary_id)
        if request is None or person is None or person.anonymised_at is not None:
            return
        training = await repo.training(state.training_id)
        title = training.title if training else "Formation"
        start = state.start_date or (training.start_on if training else None)
        when = f", à partir du {_french(start)}" if start else ""
        if training and training.end_on:
            when += f" jusqu'au {_french(training.end_on)}"
        where = f" — {training.organisation}" if training else ""
        hours = training.weekly_hours if training else None
        action = PlanAction(
            id=new_id(),
            beneficiary_id=state.beneficiary_id,
            theme=Theme.TRAINING.value,
            objective=f"Suivre la formation « {title} »"[:300],
            action=f"{title}{where}{when} (financée par {_funder(state.funder)})"[:300],
            status=PlanStatus.IN_PROGRESS.value,
            weekly_hours=round(hours) if hours is not None else None,
            updated_by=data.actor_id,
            updated_at=utcnow(),
            training_id=state.training_id,
        )
        repo.add(action)
        request.plan_action_id = action.id
        await session.flush()

    async def _leave_training(
        self, repo: TrainingRequestRepository, data: RecordTrainingRequestInput
    ) -> None:
        request = await repo.fresh(data.state.request_id)
        if request is None or request.plan_action_id is None:
            return
        action = await repo.plan_action(request.plan_action_id)
        if action is None:
            return
        action.status = (
            PlanStatus.DONE.value if data.state.completed else PlanStatus.ABANDONED.value
        )
        action.updated_by = data.actor_id
        action.updated_at = utcnow()


def _funder(funder: str) -> str:
    return "la Région" if funder == "region" else "France Travail"
