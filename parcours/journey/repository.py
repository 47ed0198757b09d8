"""The journeys' read model: the projection of what the engine recorded (idempotent, and
convergent: the workflow's events replace what stands at their number), with the hand-offs
among its events, and the reads pages need."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.models import Structure
from parcours.access.repository import visible_journeys
from parcours.carnet.models import Beneficiary
from parcours.core.messages import ScalarDetail
from parcours.inbox.service import InboxProducer
from parcours.indicators.repository import project_indicators, rebuild_indicators
from parcours.journey.messages import (
    JourneyState,
    RecordJourneyEventInput,
    RecordJourneyEventsInput,
    journey_workflow_id,
)
from parcours.journey.models import JourneyEventRecord, JourneyHandover, JourneyRecord
from parcours.journey.schemas import JourneyFilter
from parcours.territories.models import Territory

_Query = TypeVar("_Query", bound=Select)


# The journey row's columns an event moves forward (all but the key and ``started_at``).
_PROJECTED = (
    "journey_id",
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
    "exit_code",
    "seq",
    "updated_at",
)


@cache
def _projection(dialect: str) -> tuple[Any, Any, Any, Any]:
    """The projection's statements, built once per dialect and run with each event's values:
    building an upsert (its ``excluded`` columns) costs more than running it.

    The journey row moves forward only (a retried or late write changes nothing), unless the
    workflow's truth replaces a branch it never recorded (``replacing``)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    journeys = cast(Table, JourneyRecord.__table__)
    upsert = insert(journeys)
    new = upsert.excluded
    # The row is the person's current journey: a later journey of theirs takes it over.
    same_journey = journeys.c.journey_id == new.journey_id
    later_journey = and_(
        journeys.c.journey_id != new.journey_id, journeys.c.started_at < new.started_at
    )
    set_: dict[str, Any] = {column: new[column] for column in _PROJECTED}
    set_["started_at"] = case((same_journey, journeys.c.started_at), else_=new.started_at)
    forward = upsert.on_conflict_do_update(
        index_elements=[journeys.c.beneficiary_id],
        set_=set_,
        where=or_(and_(same_journey, journeys.c.seq < new.seq), later_journey),
    )
    replacing = upsert.on_conflict_do_update(
        index_elements=[journeys.c.beneficiary_id],
        set_=set_,
        where=or_(same_journey, later_journey),
    )
    event_insert = insert(cast(Table, JourneyEventRecord.__table__)).on_conflict_do_nothing(
        index_elements=["journey_id", "seq"]
    )
    # One hand-off per ``handed_off`` event, like the event itself.
    handover_insert = insert(cast(Table, JourneyHandover.__table__)).on_conflict_do_nothing(
        index_elements=["journey_id", "seq"]
    )
    return forward, replacing, event_insert, handover_insert


def row_values(state: JourneyState) -> dict[str, Any]:
    """The journey row's columns as the workflow's state says them."""
    return {
        "step": state.step.value,
        "step_since": state.step_since,
        "deadline": state.deadline,
        "stalled": state.stalled,
        "paused": state.paused,
        "referent_id": state.referent_id,
        "structure_id": state.structure_id,
        "territory": state.territory,
        "orientation": state.orientation.value if state.orientation else None,
        "rsa_status": state.rsa_status.value,
        "follow_up_consent": state.follow_up_consent,
        "check_in_due": state.check_in_due,
        "exit_reason": state.exit_reason.value if state.exit_reason else None,
        "exit_code": state.exit_code,
        "seq": state.seq,
    }


def _text(value: ScalarDetail) -> str | None:
    return None if value is None else str(value)


def handover_values(data: RecordJourneyEventInput, handoff_read_days: int) -> dict[str, Any] | None:
    """The hand-off row of a ``handed_off`` event (None for any other event). The former
    follow-up group reads the journey for ``handoff_read_days`` after it."""
    j, e = data.journey, data.event
    if e.kind != "handed_off":
        return None
    return {
        "journey_id": j.id,
        "seq": data.seq,
        "beneficiary_id": j.beneficiary_id,
        "from_territory": _text(e.detail.get("from_territory")) or "",
        "to_territory": _text(e.detail.get("to_territory")) or j.territory,
        "from_referent_id": _text(e.detail.get("from_referent_id")),
        "from_structure_id": _text(e.detail.get("from_structure_id")),
        "handed_off_at": e.occurred_at,
        "readable_until": e.occurred_at + timedelta(days=handoff_read_days),
    }


# The events standing from a transition's first number on: read at every transition.
_STANDING = (
    select(JourneyEventRecord.seq, JourneyEventRecord.kind, JourneyEventRecord.occurred_at)
    .where(
        JourneyEventRecord.journey_id == bindparam("journey_id"),
        JourneyEventRecord.seq >= bindparam("first_seq"),
    )
    .order_by(JourneyEventRecord.seq)
)


@dataclass(frozen=True)
class WrittenSoFar:
    """How far a journey's read model goes: its row's number, how many events it holds, the
    last one's number and the last line written (an event replaced at its number is a new
    line). The reconciler compares it before and after asking the engine."""

    journey_id: str
    seq: int
    events: int
    last_event: int
    last_line: int


_WRITTEN_SO_FAR = select(
    JourneyRecord.journey_id,
    JourneyRecord.seq,
    *(
        select(aggregate)
        .where(JourneyEventRecord.journey_id == JourneyRecord.journey_id)
        .correlate(JourneyRecord)
        .scalar_subquery()
        for aggregate in (
            func.count(JourneyEventRecord.seq),
            func.coalesce(func.max(JourneyEventRecord.seq), 0),
            func.coalesce(func.max(JourneyEventRecord.id), 0),
        )
    ),
).where(JourneyRecord.beneficiary_id == bindparam("beneficiary_id"))


def _journey_with_handovers(*around: Any) -> Select[Any]:
    return (
        select(JourneyRecord, JourneyHandover, *around)
        .outerjoin(JourneyHandover, JourneyHandover.journey_id == JourneyRecord.journey_id)
        .where(JourneyRecord.beneficiary_id == bindparam("beneficiary_id"))
        .order_by(JourneyHandover.seq.desc())
    )


# Built once: every read of a journey and every action on it starts with one of them (building
# a statement and its cache key costs about as much as running it on SQLite).
_WITH_HANDOVERS = _journey_with_handovers()
_WITH_AROUND = (
    _journey_with_handovers(Beneficiary, Structure, Territory)
    .join(Beneficiary, Beneficiary.id == JourneyRecord.beneficiary_id)
    .outerjoin(Structure, Structure.id == JourneyRecord.structure_id)
    .outerjoin(Territory, Territory.code == JourneyRecord.territory)
)
_EVENTS_UP_TO = (
    select(JourneyEventRecord)
    .where(
        JourneyEventRecord.journey_id == bindparam("journey_id"),
        JourneyEventRecord.seq <= bindparam("seq"),
    )
    .order_by(JourneyEventRecord.seq)
)


@dataclass(frozen=True)
class Surroundings:
    """What a page of a journey shows around it: the person, their structure, their
    département (read with the journey, in the same statement)."""

    person: Beneficiary
    structure: Structure | None
    territory: Territory | None


class JourneyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def project(
        self, batch: RecordJourneyEventsInput, *, handoff_read_days: int, app_url: str = ""
    ) -> bool:
        """Write a transition the engine recorded: its events, numbered, and the journey after
        it (a hand-off among them also as a hand-off, readable by the former follow-up group
        for ``handoff_read_days``), and what each new event puts in agents' inboxes
        (``InboxProducer``; its mails link to ``app_url``). Returns True when it replaced a
        branch the engine never recorded.

        Idempotent: an event already there (a retried write) is left as it is, and the row
        only moves forward. Convergent: a different event at one of these numbers is the trace
        of a transition the engine did not record (written before the engine recorded it, as
        journeys did with a local activity, or by a reconciler racing a crash): it and every
        later event give way, the row takes the workflow's state, and the indicators of the
        journey are rebuilt from its events.
        """
        j = batch.journey
        standing = await self.session.execute(
            _STANDING, {"journey_id": j.id, "first_seq": batch.first_seq}
        )
        ours = {one.seq: one.event for one in batch.each()}
        diverged = next(
            (
                row.seq
                for row in standing
                if row.seq in ours
                and (row.kind, row.occurred_at) != (ours[row.seq].kind, ours[row.seq].occurred_at)
            ),
            None,
        )
        if diverged is not None:
            await self.forget_after(j.id, diverged - 1)
        inbox = InboxProducer(self.session, app_url)
        for one in batch.each():
            await self._write(
                one,
                replacing=diverged is not None,
                handoff_read_days=handoff_read_days,
                inbox=inbox,
            )
        if diverged is not None:
            await rebuild_indicators(self.session, j.beneficiary_id, j.id)
        return diverged is not None

    async def _write(
        self,
        data: RecordJourneyEventInput,
        *,
        replacing: bool,
        handoff_read_days: int,
        inbox: InboxProducer,
    ) -> None:
        j, e = data.journey, data.event
        forward, replace, event_insert, handover_insert = _projection(
            self.session.get_bind().dialect.name
        )
        # Bind values go through the column types (aware datetimes → UTCDateTime).
        await self.session.execute(
            replace if replacing else forward,
            {
                **row_values(j),
                "beneficiary_id": j.beneficiary_id,
                "journey_id": j.id,
                "workflow_id": journey_workflow_id(j.id),
                # The row's seq is the event's (``j`` is the journey after this event).
                "seq": data.seq,
                "started_at": e.occurred_at,
                "updated_at": e.occurred_at,
            },
        )
        written = await self.session.execute(
            event_insert,
            {
                "beneficiary_id": j.beneficiary_id,
                "journey_id": j.id,
                "seq": data.seq,
                "kind": e.kind,
                "step": (e.step or j.step).value,
                "occurred_at": e.occurred_at,
                "actor_id": e.actor_id,
                "detail": e.detail,
            },
        )
        assert isinstance(written, CursorResult)
        if written.rowcount:
            # Only an event written now makes items: a retried or late write of an older
            # transition must not settle what the journey asks today.
            await inbox.on_journey_event(data)
        handover = handover_values(data, handoff_read_days)
        if handover is not None:
            # Kept as first written, like the event: a retried write changes nothing.
            await self.session.execute(handover_insert, handover)
        if not replacing:
            # The indicators' milestones and step spans move with the same event.
            await project_indicators(self.session, data)

    async def forget_after(self, journey_id: str, seq: int) -> int:
        """Remove the journey's events after ``seq``, and the hand-offs they made:
        transitions the engine never recorded, and the inbox items they made. Returns how
        many events there were."""
        await InboxProducer(self.session).forget_after(journey_id, seq)
        await self.session.execute(
            delete(JourneyHandover).where(
                JourneyHandover.journey_id == journey_id, JourneyHandover.seq > seq
            )
        )
        result = await self.session.execute(
            delete(JourneyEventRecord).where(
                JourneyEventRecord.journey_id == journey_id,
                JourneyEventRecord.seq > seq,
            )
        )
        assert isinstance(result, CursorResult)
        return int(result.rowcount or 0)

    async def adopt_state(self, state: JourneyState) -> None:
        """Make the journey row say what the workflow holds (the reconciler's last word)."""
        record = await self.get(state.beneficiary_id)
        if record is None or record.journey_id != state.id:
            return
        for name, value in row_values(state).items():
            setattr(record, name, value)
        await self.session.flush()
        await rebuild_indicators(self.session, state.beneficiary_id, state.id)

    async def events_from(
        self, journey_id: str, first_seq: int
    ) -> Sequence[tuple[int, str, datetime]]:
        """The journey's events from ``first_seq`` on: number, kind, when."""
        rows = await self.session.execute(
            select(JourneyEventRecord.seq, JourneyEventRecord.kind, JourneyEventRecord.occurred_at)
            .where(
                JourneyEventRecord.journey_id == journey_id,
                JourneyEventRecord.seq >= first_seq,
            )
            .order_by(JourneyEventRecord.seq)
        )
        return [(row.seq, row.kind, row.occurred_at) for row in rows]

    async def written_so_far(self, beneficiary_id: str) -> WrittenSoFar | None:
        """How far the person's read model goes: any write of an event changes it."""
        row = (
            await self.session.execute(_WRITTEN_SO_FAR, {"beneficiary_id": beneficiary_id})
        ).first()
        return None if row is None else WrittenSoFar(*row)

    async def hold(self, beneficiary_id: str) -> None:
        """Make the projection wait for this transaction: the journey's row is taken (on
        SQLite, the file's write lock) before anything is read, and what is read stays true
        until the commit."""
        await self.session.execute(
            update(JourneyRecord)
            .where(JourneyRecord.beneficiary_id == beneficiary_id)
            .values(seq=JourneyRecord.seq)
        )

    async def recently_written(self, since: datetime) -> Sequence[str]:
        """Journeys whose read model moved since ``since`` (what a crash may have left
        half-written)."""
        rows = await self.session.scalars(
            select(JourneyRecord.beneficiary_id).where(JourneyRecord.updated_at >= since)
        )
        return rows.all()

    async def all_ids(self) -> Sequence[str]:
        return (await self.session.scalars(select(JourneyRecord.beneficiary_id))).all()

    async def get(self, beneficiary_id: str) -> JourneyRecord | None:
        """The person's current journey."""
        return await self.session.get(JourneyRecord, beneficiary_id)

    async def by_journey_id(self, journey_id: str) -> JourneyRecord | None:
        return await self.session.scalar(
            select(JourneyRecord).where(JourneyRecord.journey_id == journey_id)
        )

    async def with_handovers(
        self, beneficiary_id: str
    ) -> tuple[JourneyRecord | None, Sequence[JourneyHandover]]:
        """The person's current journey and its hand-offs to other départements, the latest
        first: what the access rules judge its former follow-up group by. One statement: every
        read of a journey and every action on it starts here."""
        rows = (
            await self.session.execute(_WITH_HANDOVERS, {"beneficiary_id": beneficiary_id})
        ).all()
        if not rows:
            return None, ()
        return rows[0][0], [row[1] for row in rows if row[1] is not None]

    async def with_around(
        self, beneficiary_id: str
    ) -> tuple[JourneyRecord | None, Sequence[JourneyHandover], Surroundings | None]:
        """``with_handovers`` and what a page of the journey shows around it, in the same
        statement (a read of a journey made four of them)."""
        rows = (await self.session.execute(_WITH_AROUND, {"beneficiary_id": beneficiary_id})).all()
        if not rows:
            return None, (), None
        record, _, person, structure, territory = rows[0]
        return (
            record,
            [row[1] for row in rows if row[1] is not None],
            Surroundings(person, structure, territory),
        )

    async def handovers(self, journey_id: str) -> Sequence[JourneyHandover]:
        result = await self.session.scalars(
            select(JourneyHandover)
            .where(JourneyHandover.journey_id == journey_id)
            .order_by(JourneyHandover.seq.desc())
        )
        return result.all()

    async def arrivals(
        self, territory: str, since: datetime, until: datetime, *, limit: int
    ) -> tuple[Sequence[JourneyHandover], int]:
        """Journeys handed off to ``territory`` in [since, until), the earliest first (at most
        ``limit``), and how many there are."""
        where = (
            JourneyHandover.to_territory == territory,
            JourneyHandover.handed_off_at >= since,
            JourneyHandover.handed_off_at < until,
        )
        total = await self.session.scalar(
            select(func.count()).select_from(JourneyHandover).where(*where)
        )
        rows = await self.session.scalars(
            select(JourneyHandover)
            .where(*where)
            .order_by(JourneyHandover.handed_off_at, JourneyHandover.id)
            .limit(limit)
        )
        return rows.all(), total or 0

    async def events(self, journey: JourneyRecord) -> Sequence[JourneyEventRecord]:
        """The timeline up to the journey row as read: the two agree even when a transition
        is written between the two reads."""
        result = await self.session.scalars(
            _EVENTS_UP_TO, {"journey_id": journey.journey_id, "seq": journey.seq}
        )
        return result.all()

    async def earlier_events(self, journey: JourneyRecord) -> Sequence[JourneyEventRecord]:
        """The events of the person's journeys before the current one."""
        result = await self.session.scalars(
            select(JourneyEventRecord)
            .where(
                JourneyEventRecord.beneficiary_id == journey.beneficiary_id,
                JourneyEventRecord.journey_id != journey.journey_id,
            )
            .order_by(JourneyEventRecord.occurred_at, JourneyEventRecord.seq)
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
