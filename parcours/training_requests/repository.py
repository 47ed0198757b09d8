"""SQL of the training requests: their read model (moved forward by the ``TrainingRequest``
workflow's activity, guarded by ``seq``), the messages about them, the plan action an approved
training becomes, and the lists référents, managers and funders read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.carnet.models import (
    Beneficiary,
    Consent,
    PlanAction,
    ProfessionalProject,
    SituationFact,
)
from parcours.journey.models import JourneyRecord
from parcours.resources.models import Training
from parcours.training_requests.models import TrainingRequestMessage, TrainingRequestRecord

# Statuses of a request still under way (a second one for the same training is refused).
ACTIVE_STATUSES = ("submitted", "more_info_requested", "approved", "in_training")
# Statuses of a request waiting for its funder's decision (``rules.UNDECIDED``).
UNDECIDED_STATUSES = ("submitted", "more_info_requested")
# Steps of a journey that accept a training request (``parcours.journey.rules``).
REQUESTING_STEPS = ("orientation", "accompaniment")

# The read model's columns a transition moves forward (all the workflow holds).
_PROJECTED = (
    "status",
    "seq",
    "deadline",
    "reminded_at",
    "stalled_since",
    "sent_at",
    "funder_reference",
    "decided_at",
    "decided_by",
    "decision_source",
    "start_date",
    "approved_amount",
    "started_at",
    "ended_at",
    "ended_on",
    "completed",
    "failure",
    "updated_at",
)


@dataclass(frozen=True)
class FunderFilter:
    """What a funder's list shows: its body's requests, narrowed down."""

    funder: str
    statuses: tuple[str, ...] = ()
    stalled: bool | None = None
    requested_after: datetime | None = None
    requested_before: datetime | None = None
    territory: str | None = None


@dataclass(frozen=True)
class FunderRow:
    request: TrainingRequestRecord
    person: Beneficiary
    training: Training | None
    consented: bool


class TrainingRequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, item: TrainingRequestRecord | TrainingRequestMessage | PlanAction) -> None:
        self.session.add(item)

    async def get(self, request_id: str) -> TrainingRequestRecord | None:
        return await self.session.get(TrainingRequestRecord, request_id)

    async def fresh(self, request_id: str) -> TrainingRequestRecord | None:
        """The row as the database holds it now (an activity may have moved it)."""
        return await self.session.scalar(
            select(TrainingRequestRecord)
            .where(TrainingRequestRecord.id == request_id)
            .execution_options(populate_existing=True)
        )

    async def training(self, training_id: str) -> Training | None:
        return await self.session.get(Training, training_id)

    async def trainings(self, ids: Iterable[str]) -> dict[str, Training]:
        wanted = set(ids)
        if not wanted:
            return {}
        rows = await self.session.scalars(select(Training).where(Training.id.in_(wanted)))
        return {t.id: t for t in rows}

    async def people(self, ids: Iterable[str]) -> dict[str, Beneficiary]:
        wanted = set(ids)
        if not wanted:
            return {}
        rows = await self.session.scalars(select(Beneficiary).where(Beneficiary.id.in_(wanted)))
        return {b.id: b for b in rows}

    async def messages(self, request_ids: Iterable[str]) -> dict[str, list[TrainingRequestMessage]]:
        wanted = set(request_ids)
        found: dict[str, list[TrainingRequestMessage]] = {i: [] for i in wanted}
        if not wanted:
            return found
        rows = await self.session.scalars(
            select(TrainingRequestMessage)
            .where(TrainingRequestMessage.request_id.in_(wanted))
            .order_by(TrainingRequestMessage.at, TrainingRequestMessage.id)
        )
        for message in rows:
            found[message.request_id].append(message)
        return found

    async def active_request(self, beneficiary_id: str, training_id: str) -> bool:
        found = await self.session.scalar(
            select(TrainingRequestRecord.id)
            .where(
                TrainingRequestRecord.beneficiary_id == beneficiary_id,
                TrainingRequestRecord.training_id == training_id,
                TrainingRequestRecord.status.in_(ACTIVE_STATUSES),
            )
            .limit(1)
        )
        return found is not None

    async def undecided_ids(self, beneficiary_id: str) -> list[str]:
        """The person's requests still waiting for their funder's decision."""
        rows = await self.session.scalars(
            select(TrainingRequestRecord.id).where(
                TrainingRequestRecord.beneficiary_id == beneficiary_id,
                TrainingRequestRecord.status.in_(UNDECIDED_STATUSES),
            )
        )
        return list(rows)

    # --- The workflow's projection ---

    async def project(self, values: dict[str, Any]) -> bool:
        """Move the request forward to ``values['seq']``; False when it already was there
        (a retried write) — then nothing else of the transition must be redone."""
        result = await self.session.execute(
            update(TrainingRequestRecord)
            .where(
                TrainingRequestRecord.id == values["request_id"],
                TrainingRequestRecord.seq < values["seq"],
            )
            .values({column: values[column] for column in _PROJECTED})
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return bool(result.rowcount)

    async def plan_action(self, action_id: str) -> PlanAction | None:
        return await self.session.get(PlanAction, action_id)

    # --- Lists ---

    async def for_person(self, beneficiary_id: str) -> Sequence[TrainingRequestRecord]:
        rows = await self.session.scalars(
            select(TrainingRequestRecord)
            .where(TrainingRequestRecord.beneficiary_id == beneficiary_id)
            .order_by(TrainingRequestRecord.requested_at.desc())
        )
        return rows.all()

    async def visible(
        self,
        visible: ColumnElement[bool],
        *,
        statuses: tuple[str, ...] = (),
        stalled: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[Sequence[TrainingRequestRecord], int]:
        """Requests about people whose carnet the caller may read (``visible`` is
        ``parcours.access.rules.visible_journeys``), the stalled longest first."""
        query = (
            select(TrainingRequestRecord)
            .join(
                JourneyRecord, JourneyRecord.beneficiary_id == TrainingRequestRecord.beneficiary_id
            )
            .where(visible)
        )
        if statuses:
            query = query.where(TrainingRequestRecord.status.in_(statuses))
        if stalled is not None:
            query = query.where(
                TrainingRequestRecord.stalled_since.is_not(None)
                if stalled
                else TrainingRequestRecord.stalled_since.is_(None)
            )
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(
            query.order_by(
                TrainingRequestRecord.stalled_since.is_(None),
                TrainingRequestRecord.stalled_since,
                TrainingRequestRecord.requested_at.desc(),
            )
            .limit(limit)
            .offset(offset)
        )
        return rows.all(), total or 0

    async def for_funder(
        self, f: FunderFilter, *, limit: int = 25, offset: int = 0
    ) -> tuple[list[FunderRow], int]:
        """A funder's requests with their person, training and whether the person consents to
        share with that funder; stalled first (the longest), then the oldest waiting."""
        consent = and_(
            Consent.beneficiary_id == TrainingRequestRecord.beneficiary_id,
            Consent.partner == TrainingRequestRecord.funder,
            Consent.granted.is_(True),
        )
        query = (
            select(TrainingRequestRecord, Beneficiary, Training, Consent.granted)
            .join(Beneficiary, Beneficiary.id == TrainingRequestRecord.beneficiary_id)
            .outerjoin(Training, Training.id == TrainingRequestRecord.training_id)
            .outerjoin(Consent, consent)
            .where(TrainingRequestRecord.funder == f.funder)
        )
        if f.statuses:
            query = query.where(TrainingRequestRecord.status.in_(f.statuses))
        if f.stalled is not None:
            query = query.where(
                TrainingRequestRecord.stalled_since.is_not(None)
                if f.stalled
                else TrainingRequestRecord.stalled_since.is_(None)
            )
        if f.requested_after is not None:
            query = query.where(TrainingRequestRecord.requested_at >= f.requested_after)
        if f.requested_before is not None:
            query = query.where(TrainingRequestRecord.requested_at < f.requested_before)
        if f.territory:
            query = query.where(TrainingRequestRecord.territory == f.territory)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        undecided = TrainingRequestRecord.status.in_(UNDECIDED_STATUSES)
        rows = await self.session.execute(
            query.order_by(
                TrainingRequestRecord.stalled_since.is_(None),
                TrainingRequestRecord.stalled_since,
                case((undecided, 0), else_=1),
                TrainingRequestRecord.requested_at,
            )
            .limit(limit)
            .offset(offset)
        )
        return [
            FunderRow(request=r, person=b, training=t, consented=bool(granted))
            for r, b, t, granted in rows.all()
        ], total or 0

    async def territories(self, funder: str) -> list[str]:
        rows = await self.session.scalars(
            select(TrainingRequestRecord.territory)
            .where(TrainingRequestRecord.funder == funder)
            .distinct()
            .order_by(TrainingRequestRecord.territory)
        )
        return list(rows)

    async def candidates(self, visible: ColumnElement[bool]) -> Sequence[Beneficiary]:
        """The people the caller follows whose journey accepts a training request now."""
        rows = await self.session.scalars(
            select(Beneficiary)
            .join(JourneyRecord, JourneyRecord.beneficiary_id == Beneficiary.id)
            .where(
                visible,
                JourneyRecord.step.in_(REQUESTING_STEPS),
                JourneyRecord.paused.is_(False),
                Beneficiary.anonymised_at.is_(None),
            )
            .order_by(Beneficiary.last_name, Beneficiary.first_name)
            .limit(500)
        )
        return rows.all()

    # --- What a person shares with a funder ---

    async def project_of(self, beneficiary_id: str) -> ProfessionalProject | None:
        return await self.session.get(ProfessionalProject, beneficiary_id)

    async def current_facts(
        self, beneficiary_id: str, themes: tuple[str, ...]
    ) -> Sequence[SituationFact]:
        rows = await self.session.scalars(
            select(SituationFact)
            .where(
                SituationFact.beneficiary_id == beneficiary_id,
                SituationFact.theme.in_(themes),
                SituationFact.superseded_at.is_(None),
            )
            .order_by(SituationFact.theme, SituationFact.recorded_at)
        )
        return rows.all()

    async def erase_personal_rows(self, beneficiary_id: str) -> None:
        """RGPD: the texts about the person's requests go; the requests keep their ids,
        dates and decisions."""
        await self.session.execute(
            delete(TrainingRequestMessage).where(
                TrainingRequestMessage.request_id.in_(
                    select(TrainingRequestRecord.id).where(
                        TrainingRequestRecord.beneficiary_id == beneficiary_id
                    )
                )
            )
        )
