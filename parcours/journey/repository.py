"""The journeys' read model: projection upserts (idempotent) and the reads pages need."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Select, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.repository import visible_journeys
from parcours.carnet.models import Beneficiary
from parcours.indicators.repository import project_indicators
from parcours.journey.messages import RecordJourneyEventInput, journey_workflow_id
from parcours.journey.models import JourneyEventRecord, JourneyRecord
from parcours.journey.schemas import JourneyFilter

_Query = TypeVar("_Query", bound=Select)


# The journey row's columns an event moves forward (all but the key and ``started_at``).
_PROJECTED = (
    "workflow_id",
    "step",
    "step_since",
    "deadline",
    "stalled",
    "paused",
    "referent_id",
    "structure_id",
    "territory",
    "orientation",
    "rsa_status",
    "follow_up_consent",
    "check_in_due",
    "exit_reason",
    "seq",
    "updated_at",
)


@cache
def _projection(dialect: str) -> tuple[Any, Any]:
    """The projection's two statements, built once per dialect and run with each event's
    values: building an upsert (its ``excluded`` columns) costs more than running it."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    journeys = cast(Table, JourneyRecord.__table__)
    upsert = insert(journeys)
    journey_upsert = upsert.on_conflict_do_update(
        index_elements=[journeys.c.beneficiary_id],
        set_={column: upsert.excluded[column] for column in _PROJECTED},
        where=journeys.c.seq < upsert.excluded.seq,
    )
    event_insert = insert(cast(Table, JourneyEventRecord.__table__)).on_conflict_do_nothing(
        index_elements=["beneficiary_id", "seq"]
    )
    return journey_upsert, event_insert


class JourneyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def project(self, data: RecordJourneyEventInput) -> None:
        """Apply one numbered event: insert it once, move the journey row forward only."""
        j, e = data.journey, data.event
        journey_upsert, event_insert = _projection(self.session.get_bind().dialect.name)
        # Bind values go through the column types (aware datetimes → UTCDateTime).
        await self.session.execute(
            journey_upsert,
            {
                "beneficiary_id": j.beneficiary_id,
                "workflow_id": journey_workflow_id(j.beneficiary_id),
                "step": j.step.value,
                "step_since": j.step_since,
                "deadline": j.deadline,
                "stalled": j.stalled,
                "paused": j.paused,
                "referent_id": j.referent_id,
                "structure_id": j.structure_id,
                "territory": j.territory,
                "orientation": j.orientation.value if j.orientation else None,
                "rsa_status": j.rsa_status.value,
                "follow_up_consent": j.follow_up_consent,
                "check_in_due": j.check_in_due,
                "exit_reason": j.exit_reason.value if j.exit_reason else None,
                "seq": data.seq,
                "started_at": e.occurred_at,
                "updated_at": e.occurred_at,
            },
        )
        await self.session.execute(
            event_insert,
            {
                "beneficiary_id": j.beneficiary_id,
                "seq": data.seq,
                "kind": e.kind,
                "step": (e.step or j.step).value,
                "occurred_at": e.occurred_at,
                "actor_id": e.actor_id,
                "detail": e.detail,
            },
        )
        # The indicators' milestones and step spans move with the same event.
        await project_indicators(self.session, data)

    async def get(self, beneficiary_id: str) -> JourneyRecord | None:
        return await self.session.get(JourneyRecord, beneficiary_id)

    async def events(self, journey: JourneyRecord) -> Sequence[JourneyEventRecord]:
        """The timeline up to the journey row as read: the two agree even when a transition
        is written between the two reads."""
        result = await self.session.scalars(
            select(JourneyEventRecord)
            .where(
                JourneyEventRecord.beneficiary_id == journey.beneficiary_id,
                JourneyEventRecord.seq <= journey.seq,
            )
            .order_by(JourneyEventRecord.seq)
        )
        return result.all()

    def _filtered(self, query: _Query, f: JourneyFilter) -> _Query:
        if f.viewer is not None:
            query = query.where(visible_journeys(f.viewer))
        if f.territory:
            query = query.where(JourneyRecord.territory == f.territory)
        if f.step:
            query = query.where(JourneyRecord.step == f.step)
        if f.referent_id:
            query = query.where(JourneyRecord.referent_id == f.referent_id)
        if f.stalled is not None:
            query = query.where(JourneyRecord.stalled.is_(f.stalled))
        if f.due_before is not None:
            query = query.where(JourneyRecord.deadline <= f.due_before)
        if f.search:
            pattern = f"%{f.search.lower()}%"
            query = query.where(
                func.lower(Beneficiary.last_name).like(pattern)
                | func.lower(Beneficiary.first_name).like(pattern)
            )
        return query

    async def list_with_people(
        self, f: JourneyFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[Sequence[tuple[JourneyRecord, Beneficiary]], int]:
        base = select(JourneyRecord, Beneficiary).join(
            Beneficiary, Beneficiary.id == JourneyRecord.beneficiary_id
        )
        query = self._filtered(base, f)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.execute(
            query.order_by(JourneyRecord.deadline.is_(None), JourneyRecord.deadline)
            .limit(limit)
            .offset(offset)
        )
        return [(row[0], row[1]) for row in rows.all()], total or 0

    async def count_by_step(self, visible: ColumnElement[bool] | None = None) -> dict[str, int]:
        query = select(JourneyRecord.step, func.count()).group_by(JourneyRecord.step)
        if visible is not None:
            query = query.where(visible)
        return {row[0]: row[1] for row in (await self.session.execute(query)).all()}
