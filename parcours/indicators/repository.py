"""The indicators' SQL: the projection of each journey event into milestones and step spans
(idempotent upserts, built once per dialect), and the aggregates the indicators read.

Aggregates group by month and structure in SQL; the service adds them up into the period's
figures, the monthly table and the structures' table. Medians and 90th percentiles of the
time per step are computed here (``percentile``, ``percentile_cont``'s interpolation) over the
stays' durations: kept for closed months on PostgreSQL (``closed_months``), counted on SQLite.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    TIMESTAMP,
    ColumnElement,
    Date,
    Float,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    column,
    delete,
    event,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
    update,
    values,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy import insert as insert_rows
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from parcours.access.models import Structure
from parcours.appointments.models import Appointment
from parcours.carnet.models import Beneficiary
from parcours.core.db import UTCDateTime
from parcours.indicators import closed_months
from parcours.indicators import rules as milestones
from parcours.indicators.models import JourneyMilestones, JourneyProcedureEvent, JourneyStepSpan
from parcours.indicators.rules import (
    CURRENT,
    FIRST,
    FOLLOW_UP,
    LATEST,
    journey_rows,
    milestone_row,
    procedure_row,
)
from parcours.journey.messages import RecordJourneyEventInput, Step
from parcours.journey.models import JourneyEventRecord, JourneyRecord

M = cast(Table, JourneyMilestones.__table__)
S = cast(Table, JourneyStepSpan.__table__)
P = cast(Table, JourneyProcedureEvent.__table__)


@dataclass(frozen=True)
class _Projection:
    milestones: Any
    span_upsert: Any
    span_close: Any
    procedure: Any


@cache
def _projection(dialect: str) -> _Projection:
    """The three statements of the projection (see ``JourneyRepository.project``)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = insert(M)
    new = upsert.excluded
    newer = new.seq > M.c.seq
    set_: dict[str, Any] = {}
    for name in FIRST:
        earlier = or_(M.c[name].is_(None), new[name] < M.c[name])
        set_[name] = case((earlier, new[name]), else_=M.c[name])
    # As ``milestones.follow_up_applies``.
    follow_up = and_(
        new.follow_up_outcome.is_not(None),
        or_(M.c.follow_up_seq.is_(None), new.seq >= M.c.follow_up_seq),
    )
    for name in FOLLOW_UP:
        given = and_(follow_up, new[name].is_not(None))
        set_[name] = case((given, new[name]), else_=M.c[name])
    for name in LATEST:
        set_[name] = func.coalesce(new[name], M.c[name])
    for name in CURRENT:
        set_[name] = case((newer, new[name]), else_=M.c[name])
    set_["seq"] = case((newer, new.seq), else_=M.c.seq)
    milestone_upsert = upsert.on_conflict_do_update(index_elements=[M.c.journey_id], set_=set_)

    at = bindparam("at", type_=UTCDateTime())
    who = bindparam("who", type_=String())
    # A step entered before one already recorded (a late event) ends where that one begins.
    next_entry = (
        select(func.min(S.c.entered_at))
        .where(S.c.journey_id == who, S.c.entered_at > at)
        .scalar_subquery()
    )
    span = insert(S).values(
        journey_id=who,
        beneficiary_id=bindparam("person"),
        entered_at=at,
        step=bindparam("step"),
        entered_seq=bindparam("seq"),
        territory=bindparam("territory"),
        structure_id=bindparam("structure_id"),
        left_at=next_entry,
    )
    span_upsert = span.on_conflict_do_update(
        index_elements=[S.c.journey_id, S.c.entered_at],
        set_={
            "step": span.excluded.step,
            "entered_seq": span.excluded.entered_seq,
            "territory": span.excluded.territory,
            "structure_id": span.excluded.structure_id,
        },
        where=and_(S.c.entered_seq < span.excluded.entered_seq, S.c.step != span.excluded.step),
    )
    # The stay that covered this instant ends at it.
    span_close = (
        update(S)
        .where(
            S.c.journey_id == who,
            S.c.entered_at < at,
            or_(S.c.left_at.is_(None), S.c.left_at > at),
        )
        .values(left_at=at)
    )
    # A procedure's event is written once (a retried event changes nothing).
    procedure = insert(P).on_conflict_do_nothing(index_elements=[P.c.journey_id, P.c.seq])
    return _Projection(milestone_upsert, span_upsert, span_close, procedure)


# Where a transaction remembers the stays it wrote (``Session.info`` lives with the session;
# the memo is cleared when the transaction ends, see ``_forget_spans``).
_SPANS_WRITTEN = "indicators.spans_written"


@event.listens_for(Session, "after_transaction_end")
def _forget_spans(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_SPANS_WRITTEN, None)


async def project_indicators(session: AsyncSession, data: RecordJourneyEventInput) -> None:
    """Keep the journey's milestones and step spans up to date with one numbered event.

    Idempotent (a retried event changes nothing) and cheap: an event that marks no milestone
    and enters no step writes nothing here."""
    j, e = data.journey, data.event
    statements = _projection(session.get_bind().dialect.name)
    row = milestone_row(
        beneficiary_id=j.beneficiary_id,
        journey_id=j.id,
        seq=data.seq,
        kind=e.kind,
        occurred_at=e.occurred_at,
        step=(e.step or j.step).value,
        detail=e.detail,
        territory=j.territory,
        structure_id=j.structure_id,
        rsa_opened_on=j.rsa_opened_on,
    )
    if row is not None:
        await session.execute(statements.milestones, row)
    procedure = procedure_row(
        beneficiary_id=j.beneficiary_id,
        journey_id=j.id,
        seq=data.seq,
        kind=e.kind,
        occurred_at=e.occurred_at,
        detail=e.detail,
        territory=j.territory,
        structure_id=j.structure_id,
    )
    if procedure is not None:
        await session.execute(statements.procedure, procedure)
    # The event belongs to the transition that entered the journey's current step; the
    # transition's other events (same transaction) find the stay already written.
    written: set[tuple[str, datetime]] = session.info.setdefault(_SPANS_WRITTEN, set())
    if j.step_since == e.occurred_at and (j.id, j.step_since) not in written:
        written.add((j.id, j.step_since))
        await session.execute(
            statements.span_upsert,
            {
                "who": j.id,
                "person": j.beneficiary_id,
                "at": j.step_since,
                "step": j.step.value,
                "seq": data.seq,
                "territory": j.territory,
                "structure_id": j.structure_id,
            },
        )
        if data.seq > 1:  # a journey's first event has no stay before it to end
            await session.execute(statements.span_close, {"who": j.id, "at": j.step_since})


@dataclass(frozen=True)
class IndicatorScope:
    """Which journeys: a territory (and a structure), a period of whole months
    [``start``, ``end``), and the day the figures are computed (what is due by then)."""

    territory: str
    start: date
    end: date
    today: date
    structure_id: str | None = None


def _months_between(start: date, end: date) -> list[date]:
    """The first days of the months in [``start``, ``end``) (``start`` a first day)."""
    months = []
    while start < end:
        months.append(start)
        start = milestones.add_months(start, 1)
    return months


def _within(scope: IndicatorScope, months: list[date]) -> IndicatorScope:
    """The scope narrowed to ``months`` (following each other)."""
    return replace(scope, start=months[0], end=milestones.add_months(months[-1], 1))


def _settled_from(scope: IndicatorScope, days: int) -> date:
    """The first month not settled for a figure whose « due » is ``days`` after its day: a
    month is settled once its last day is ``days`` behind ``scope.today``."""
    return (scope.today - timedelta(days=days)).replace(day=1)


def _by_month(structure_id: Any) -> Any:
    """Set on the rows of a query grouped by month and by structure (``GROUPING SETS``):
    1 on the month's rows (the structure grouped away), 0 on the structure's."""
    return func.grouping(structure_id).label("by_month")


def _told_apart(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row of such a query says which figures it adds to (``counts_in``)."""
    for row in rows:
        row["counts_in"] = "months" if row.pop("by_month") else "structures"
    return rows


@dataclass(frozen=True)
class StepDelays:
    count: int
    median_days: float | None
    p90_days: float | None


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """``percentile_cont``: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# What the appointments' rows are grouped by.
GROUPED = ("month", "structure_id", "mode", "status")


def counted_percentile(counts: dict[int, int], fraction: float) -> float | None:
    """``percentile`` of the values each repeated as many times as ``counts`` says, without
    writing them out (a département's delays are a few dozen distinct days)."""
    size = sum(counts.values())
    if not size:
        return None
    position = fraction * (size - 1)
    low_rank = math.floor(position)
    high_rank = min(low_rank + 1, size - 1)
    low = high = None
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if low is None and low_rank < seen:
            low = value
        if high_rank < seen:
            high = value
            break
    assert low is not None and high is not None
    return low + (high - low) * (position - low_rank)


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


# The aggregates are built once per dialect and shape (a structure or not, the delays counted)
# with their scope as bound parameters: building one cost more Python than reading its rows
# (a third of a year's read, profiled on 100,000 journeys).
TERRITORY = bindparam("territory", type_=String())
START = bindparam("start", type_=Date())
END = bindparam("end", type_=Date())
STRUCTURE = bindparam("structure_id", type_=String())


def _scope_params(scope: IndicatorScope) -> dict[str, Any]:
    params: dict[str, Any] = {"territory": scope.territory, "start": scope.start, "end": scope.end}
    if scope.structure_id is not None:
        params["structure_id"] = scope.structure_id
    return params


def _month_of(dialect: str, column: Any) -> Any:
    """The month of a date column (``_rows`` makes it ``YYYY-MM``). On PostgreSQL a
    truncated timestamp, several times cheaper than formatting each row's date."""
    if dialect == "postgresql":
        return func.date_trunc("month", sql_cast(column, TIMESTAMP()))
    return func.strftime("%Y-%m", column)


def _plus_days_of(dialect: str, column: Any, days: int) -> Any:
    if dialect == "postgresql":
        return column + literal_column(str(int(days)), Date)
    return func.date(column, f"+{int(days)} days")


def _milestones_in(query: Select[Any], column: Any, structured: bool) -> Any:
    query = query.where(M.c.territory == TERRITORY, column >= START, column < END)
    if structured:
        query = query.where(M.c.structure_id == STRUCTURE)
    return query


@cache
def _cohort_query(dialect: str, structured: bool, orientation_days: tuple[int, ...]) -> Any:
    month = _month_of(dialect, M.c.reference_on).label("month")
    rsa = M.c.rsa_opened_on.is_not(None)
    # The 6-week clock runs from the RSA opening, or from the last transfer in.
    clock = func.coalesce(M.c.transferred_in_on, M.c.rsa_opened_on)
    columns: list[Any] = [
        month,
        M.c.structure_id,
        func.count().label("entered"),
        _count_if(rsa).label("rsa"),
        func.count(M.c.diagnosis_on).label("diagnosed"),
        func.count(M.c.oriented_on).label("oriented"),
        func.count(M.c.contract_signed_on).label("contract"),
        func.count(M.c.employment_on).label("employed"),
        func.count(M.c.follow_up_on).label("followed"),
        _count_if(M.c.follow_up_outcome == milestones.KEPT).label("kept"),
        _count_if(M.c.oriented_by == milestones.FRANCE_TRAVAIL).label("france_travail"),
    ]
    for days in orientation_days:
        within = and_(rsa, M.c.oriented_on <= _plus_days_of(dialect, clock, days))
        due = and_(rsa, clock <= bindparam(f"due_{days}", type_=Date()))
        columns.append(_count_if(within).label(f"within_{days}"))
        columns.append(_count_if(or_(within, due)).label(f"due_{days}"))
    query = _milestones_in(select(*columns), M.c.reference_on, structured)
    return query.group_by(month, M.c.structure_id)


@cache
def _contracts_query(dialect: str, structured: bool, within_days: int) -> Any:
    month = _month_of(dialect, M.c.oriented_on).label("month")
    within = M.c.contract_signed_on <= _plus_days_of(dialect, M.c.oriented_on, within_days)
    due = M.c.oriented_on <= bindparam("due", type_=Date())
    query = select(
        month,
        M.c.structure_id,
        func.count().label("oriented"),
        _count_if(within).label("within"),
        _count_if(or_(within, due)).label("due"),
    )
    query = _milestones_in(query, M.c.oriented_on, structured)
    return query.group_by(month, M.c.structure_id)


@cache
def _follow_ups_query(dialect: str, structured: bool) -> Any:
    month = _month_of(dialect, M.c.follow_up_on).label("month")
    settled = M.c.follow_up_outcome.in_([milestones.KEPT, milestones.LOST])
    query = select(
        month,
        M.c.structure_id,
        func.count().label("followed"),
        _count_if(M.c.follow_up_outcome == milestones.KEPT).label("kept"),
        _count_if(or_(settled, M.c.follow_up_on <= bindparam("kept_by", type_=Date()))).label(
            "due"
        ),
    )
    query = _milestones_in(query, M.c.follow_up_on, structured)
    return query.group_by(month, M.c.structure_id)


@cache
def _exits_query(dialect: str, structured: bool) -> Any:
    month = _month_of(dialect, M.c.closed_on).label("month")
    why = (M.c.exit_reason, M.c.exit_code)
    columns = [month, M.c.structure_id, *why, func.count().label("closed")]
    if dialect != "postgresql":
        query = _milestones_in(select(*columns), M.c.closed_on, structured)
        return query.group_by(month, M.c.structure_id, *why)
    # By month and by structure rather than by both (565 → 190 rows for a year).
    query = _milestones_in(select(*columns, _by_month(M.c.structure_id)), M.c.closed_on, structured)
    return query.group_by(func.grouping_sets(tuple_(month, *why), tuple_(M.c.structure_id, *why)))


@cache
def _first_appointments_query(structured: bool, within_days: tuple[int, ...]) -> Any:
    """PostgreSQL's: ``first_attended_at`` is kept by its triggers (migration 0027)."""
    people = _milestones_in(
        select(M.c.oriented_on, M.c.structure_id, M.c.first_attended_at.label("first_at")),
        M.c.oriented_on,
        structured,
    ).subquery("people")
    month = _month_of("postgresql", people.c.oriented_on).label("month")
    # A date minus a date is a number of days on PostgreSQL.
    delay = (
        sql_cast(func.timezone(milestones.PARIS.key, people.c.first_at), Date)
        - people.c.oriented_on
    ).label("delay")
    # Grouped twice, by month and by structure, rather than by both: a year of a large
    # département is a third as many rows to read (2,033 → 702 for 20,000 journeys).
    columns: list[Any] = [
        month,
        people.c.structure_id,
        delay,
        func.count().label("oriented"),
        _by_month(people.c.structure_id),
    ]
    for days in within_days:
        overdue = people.c.oriented_on <= bindparam(f"overdue_{days}", type_=Date())
        columns.append(_count_if(overdue).label(f"overdue_{days}"))
    return select(*columns).group_by(
        func.grouping_sets(tuple_(month, delay), tuple_(people.c.structure_id, delay))
    )


@cache
def _appointments_query(structured: bool) -> Any:
    """PostgreSQL's: each slot's month by where it falls among the months' first instants
    (``bounds``, French time, worked out once per read): a search in 12 bounds instead of a
    time-zone conversion per row (a third of the aggregate's time for a year)."""
    where = [
        Structure.territory == TERRITORY,
        Appointment.mode.in_(("invitation", "convocation")),
        Appointment.starts_at >= bindparam("from_at", type_=UTCDateTime()),
        Appointment.starts_at < bindparam("to_at", type_=UTCDateTime()),
    ]
    if structured:
        where.append(Appointment.structure_id == STRUCTURE)
    bucket = func.width_bucket(
        Appointment.starts_at, bindparam("bounds", type_=postgresql.ARRAY(UTCDateTime()))
    ).label("bucket")
    keys = [Appointment.structure_id, Appointment.mode, Appointment.status]
    # By month and by structure rather than by both (771 → 120 rows for a year).
    how = (Appointment.mode, Appointment.status)
    query = select(
        bucket, *keys, func.count().label("held"), _by_month(Appointment.structure_id)
    ).join(Structure, Structure.id == Appointment.structure_id)
    return query.where(*where).group_by(
        func.grouping_sets(tuple_(bucket, *how), tuple_(Appointment.structure_id, *how))
    )


# The steps whose stays are measured.
_MEASURED = [step.value for step in Step if step is not Step.CLOSED]


def _stays_ended_in(structured: bool) -> list[ColumnElement[bool]]:
    """The stays of the territory (and structure) that ended in [``from_at``, ``to_at``)."""
    where = [
        S.c.territory == TERRITORY,
        S.c.left_at >= bindparam("from_at", type_=UTCDateTime()),
        S.c.left_at < bindparam("to_at", type_=UTCDateTime()),
    ]
    if structured:
        where.append(S.c.structure_id == STRUCTURE)
    return where


@cache
def _stays_query(structured: bool) -> Any:
    """SQLite's: the stays themselves, their durations worked out here."""
    return select(S.c.step, S.c.entered_at, S.c.left_at).where(
        S.c.step.in_(_MEASURED), *_stays_ended_in(structured)
    )


@cache
def _step_delays_query(structured: bool) -> Any:
    """PostgreSQL's: read step by step along ``ix_journey_step_spans_territory_step_left``."""
    where = _stays_ended_in(structured)
    wanted = values(column("step", String), name="wanted").data([(s,) for s in _MEASURED])
    # Seconds, as floats: one sort per step for both fractions, and floats compare faster
    # than intervals (the Nord's year on the national bench: 67 → 58 ms).
    stay = func.date_part("epoch", S.c.left_at) - func.date_part("epoch", S.c.entered_at)
    fractions = func.percentile_cont(postgresql.array([0.5, 0.9])).within_group(stay)
    per_step = (
        select(
            func.count().label("count"),
            type_coerce(fractions, postgresql.ARRAY(Float())).label("fractions"),
        )
        .where(S.c.step == wanted.c.step, *where)
        .lateral("per_step")
    )
    return select(wanted.c.step, per_step.c.count, per_step.c.fractions).select_from(
        wanted.join(per_step, true())
    )


@cache
def _procedures_query(structured: bool) -> Any:
    query = select(
        P.c.kind, P.c.occurred_on, P.c.case_id, P.c.on_time, P.c.reason, P.c.structure_id
    ).where(P.c.territory == TERRITORY, P.c.occurred_on >= START, P.c.occurred_on < END)
    if structured:
        query = query.where(P.c.structure_id == STRUCTURE)
    return query


# Built once: every read of a journey shows its stays.
_SPANS_OF = (
    select(JourneyStepSpan)
    .where(JourneyStepSpan.journey_id == bindparam("journey_id"))
    .order_by(JourneyStepSpan.entered_at)
)


class IndicatorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def _dicts(
        self, query: Select[Any], params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The rows as dicts, the column names read once (a row's mapping asks for them
        again for each row: a large département's year is thousands of grouped rows)."""
        result = await self.session.execute(query, params)
        names = list(result.keys())
        return [dict(zip(names, row, strict=True)) for row in result.all()]

    async def _rows(
        self, query: Select[Any], params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        rows = await self._dicts(query, params)
        for row in rows:
            month = row["month"]
            if isinstance(month, datetime):
                row["month"] = f"{month.year:04d}-{month.month:02d}"
        return rows

    async def first_appointments(
        self, scope: IndicatorScope, within_days: Sequence[int]
    ) -> list[dict[str, Any]]:
        """People oriented in the period, by month of orientation, structure that follows them
        and ``delay``: the days (in French time) from the orientation to the first appointment
        they attended on that day or after it (None while they have attended none). Each row
        counts them (``oriented``) and, for each of ``within_days``, how many were oriented
        that many days before ``scope.today`` or earlier (``overdue_{days}``); ``counts_in``
        says which figures the row adds to: ``"all"`` (the period's, its month's and its
        structure's), ``"months"`` (the period's and its month's: ``structure_id`` is then not
        read) or ``"structures"`` (its structure's: ``month`` not read).

        On PostgreSQL one grouped query of the milestones, whose triggers keep the first
        attended appointment (reading one row per person took most of the indicators' time);
        SQLite, which knows no time zones, reads the people and their attended appointments and
        groups them here."""
        if self._dialect == "postgresql":
            return await closed_months.first_appointment_counts(
                self.session,
                scope.territory,
                _months_between(scope.start, scope.end),
                scope.structure_id,
                _settled_from(scope, max(within_days)),
                [f"overdue_{days}" for days in within_days],
                lambda months: self._first_appointments_grouped(
                    _within(scope, months), within_days
                ),
            )
        return await self.first_appointments_counted(scope, within_days)

    async def first_appointments_counted(
        self, scope: IndicatorScope, within_days: Sequence[int]
    ) -> list[dict[str, Any]]:
        """``first_appointments`` with every person of the period counted at each read
        (SQLite's way; on PostgreSQL what the kept months save, for the benchmark's anchor and
        the tests)."""
        if self._dialect == "postgresql":
            return await self._first_appointments_grouped(scope, within_days)
        structured = scope.structure_id is not None
        params = _scope_params(scope)
        month = _month_of(self._dialect, M.c.oriented_on).label("month")
        oriented = await self._rows(
            _milestones_in(
                select(month, M.c.beneficiary_id, M.c.structure_id, M.c.oriented_on),
                M.c.oriented_on,
                structured,
            ),
            params,
        )
        people = _milestones_in(select(M.c.beneficiary_id), M.c.oriented_on, structured)
        start = datetime.combine(scope.start, datetime.min.time(), milestones.PARIS)
        attended: dict[str, list[datetime]] = defaultdict(list)
        for beneficiary_id, starts_at in await self.session.execute(
            select(Appointment.beneficiary_id, Appointment.starts_at).where(
                Appointment.beneficiary_id.in_(people.scalar_subquery()),
                Appointment.status == "attended",
                Appointment.starts_at >= start,
            ),
            params,
        ):
            if starts_at is not None:
                attended[beneficiary_id].append(starts_at)
        groups: dict[tuple[str, str | None, int | None], dict[str, Any]] = {}
        for row in oriented:
            delay = milestones.first_attended_after(
                row["oriented_on"], attended.get(row["beneficiary_id"], [])
            )
            key = (row["month"], row["structure_id"], delay)
            group = groups.get(key)
            if group is None:
                group = groups[key] = {
                    "month": row["month"],
                    "structure_id": row["structure_id"],
                    "delay": delay,
                    "oriented": 0,
                    **{f"overdue_{days}": 0 for days in within_days},
                }
            group["oriented"] += 1
            for days in within_days:
                group[f"overdue_{days}"] += row["oriented_on"] <= scope.today - timedelta(days)
        return [{**group, "counts_in": "all"} for group in groups.values()]

    async def _first_appointments_grouped(
        self, scope: IndicatorScope, within_days: Sequence[int]
    ) -> list[dict[str, Any]]:
        query = _first_appointments_query(scope.structure_id is not None, tuple(within_days))
        params = _scope_params(scope)
        for days in within_days:
            params[f"overdue_{days}"] = scope.today - timedelta(days=days)
        return _told_apart(await self._rows(query, params))

    async def appointments(
        self, scope: IndicatorScope, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """Invitations and convocations of the département's structures whose slot falls in
        [``start``, ``end``), counted (``held``) by month of the slot in French time, structure
        that receives, how they were made (``mode``) and how they ended (``status``);
        ``counts_in`` as for ``first_appointments``.

        Grouped in SQL on PostgreSQL (a large département holds 150,000 in a year), the
        closed months kept (``closed_months``); SQLite, which knows no time zones, reads them
        and groups them here."""
        if self._dialect == "postgresql":
            return await closed_months.appointment_counts(
                self.session,
                scope.territory,
                _months_between(scope.start, scope.end),
                scope.structure_id,
                lambda months: self._appointments_grouped(scope, months),
            )
        return await self.appointments_counted(scope, start, end)

    async def _appointments_grouped(
        self, scope: IndicatorScope, months: list[date]
    ) -> list[dict[str, Any]]:
        """PostgreSQL's count of the slots of ``months`` (following each other)."""
        params = _scope_params(scope)
        params.update(
            from_at=closed_months.start_of(months[0]),
            to_at=closed_months.start_of(milestones.add_months(months[-1], 1)),
            bounds=[closed_months.start_of(m) for m in months],
        )
        grouped = await self._dicts(_appointments_query(scope.structure_id is not None), params)
        for group in grouped:
            at = group.pop("bucket")
            group["month"] = closed_months.month_key(months[at - 1]) if at is not None else None
        return _told_apart(grouped)

    async def appointments_counted(
        self, scope: IndicatorScope, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """``appointments`` with every slot of the period counted at each read (SQLite's way;
        on PostgreSQL what the kept months save, for the benchmark's anchor and the tests)."""
        if self._dialect == "postgresql":
            return await self._appointments_grouped(scope, _months_between(scope.start, scope.end))
        where = [
            Structure.territory == scope.territory,
            Appointment.mode.in_(("invitation", "convocation")),
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
        ]
        if scope.structure_id:
            where.append(Appointment.structure_id == scope.structure_id)
        on = Structure.id == Appointment.structure_id
        keys = [Appointment.structure_id, Appointment.mode, Appointment.status]
        groups: dict[tuple[Any, ...], dict[str, Any]] = {}
        found = await self.session.execute(
            select(Appointment.starts_at, *keys).join(Structure, on).where(*where)
        )
        for row in found.mappings():
            day = milestones.local_day(row["starts_at"])
            key = (
                f"{day.year:04d}-{day.month:02d}",
                row["structure_id"],
                row["mode"],
                row["status"],
            )
            group = groups.setdefault(
                key, {**dict(zip(GROUPED, key, strict=True)), "held": 0, "counts_in": "all"}
            )
            group["held"] += 1
        return list(groups.values())

    async def cohort(
        self, scope: IndicatorScope, orientation_days: Sequence[int]
    ) -> list[dict[str, Any]]:
        """Journeys by month of reference (RSA opening, else start) and structure: how many,
        how far they went (the funnel), and how many were oriented within each delay of the
        RSA opening — out of those whose delay is over or who were oriented within it."""
        query = _cohort_query(
            self._dialect, scope.structure_id is not None, tuple(orientation_days)
        )
        params = _scope_params(scope)
        for days in orientation_days:
            params[f"due_{days}"] = scope.today - timedelta(days=days)
        return await self._rows(query, params)

    async def contracts(self, scope: IndicatorScope, within_days: int) -> list[dict[str, Any]]:
        """Journeys by month of orientation and structure: how many signed their contract
        within ``within_days`` of the orientation, out of those whose delay is over or who
        signed within it."""
        if self._dialect == "postgresql":
            return await closed_months.contract_counts(
                self.session,
                scope.territory,
                _months_between(scope.start, scope.end),
                scope.structure_id,
                within_days,
                _settled_from(scope, within_days),
                lambda months: self.contracts_counted(_within(scope, months), within_days),
            )
        return await self.contracts_counted(scope, within_days)

    async def contracts_counted(
        self, scope: IndicatorScope, within_days: int
    ) -> list[dict[str, Any]]:
        """``contracts`` with every person of the period counted at each read (SQLite's way;
        on PostgreSQL what the kept months save, for the benchmark's anchor and the tests)."""
        query = _contracts_query(self._dialect, scope.structure_id is not None, within_days)
        params = {**_scope_params(scope), "due": scope.today - timedelta(days=within_days)}
        return await self._rows(query, params)

    async def follow_ups(self, scope: IndicatorScope, kept_by: date) -> list[dict[str, Any]]:
        """Follow-ups by month of entry and structure: how many were kept at month 6, out of
        those settled (kept or lost) or whose month 6 is past (``follow_up_on <= kept_by``)."""
        query = _follow_ups_query(self._dialect, scope.structure_id is not None)
        return await self._rows(query, {**_scope_params(scope), "kept_by": kept_by})

    async def exits(self, scope: IndicatorScope) -> list[dict[str, Any]]:
        """Closed journeys by month of closing, structure, exit reason and coded exit;
        ``counts_in`` as for ``first_appointments``."""
        if self._dialect == "postgresql":
            return await closed_months.exit_counts(
                self.session,
                scope.territory,
                _months_between(scope.start, scope.end),
                scope.structure_id,
                lambda months: self.exits_counted(_within(scope, months)),
            )
        return await self.exits_counted(scope)

    async def exits_counted(self, scope: IndicatorScope) -> list[dict[str, Any]]:
        """``exits`` with every journey of the period counted at each read (SQLite's way; on
        PostgreSQL what the kept months save, for the benchmark's anchor and the tests)."""
        rows = await self._rows(
            _exits_query(self._dialect, scope.structure_id is not None), _scope_params(scope)
        )
        if self._dialect != "postgresql":
            return [{**row, "counts_in": "all"} for row in rows]
        return _told_apart(rows)

    async def exit_lines(self, territory: str, start: date, end: date) -> list[dict[str, Any]]:
        """One row per journey of the département closed in [``start``, ``end``), with the
        person's birth date (for an age band, never exported as such)."""
        query = (
            select(
                M.c.journey_id,
                M.c.reference_on,
                M.c.closed_on,
                M.c.orientation,
                M.c.exit_reason,
                M.c.exit_code,
                M.c.structure_id,
                Beneficiary.birth_date,
            )
            .join(Beneficiary, Beneficiary.id == M.c.beneficiary_id)
            .where(M.c.territory == territory, M.c.closed_on >= start, M.c.closed_on < end)
            .order_by(M.c.closed_on, M.c.journey_id)
        )
        return await self._dicts(query)

    async def orientation_data(self, scope: IndicatorScope) -> list[dict[str, Any]]:
        """The journeys whose right opened or who were oriented in the period (the comités
        pour l'emploi's figures), with the kind of the structure that follows them."""
        query = (
            select(
                M.c.rsa_opened_on,
                M.c.transferred_in_on,
                M.c.subject_to_duties,
                M.c.oriented_on,
                M.c.orientation,
                M.c.oriented_by,
                Structure.kind.label("structure_kind"),
            )
            .outerjoin(Structure, Structure.id == M.c.structure_id)
            .where(
                M.c.territory == scope.territory,
                or_(
                    and_(M.c.rsa_opened_on >= scope.start, M.c.rsa_opened_on < scope.end),
                    and_(M.c.oriented_on >= scope.start, M.c.oriented_on < scope.end),
                ),
            )
        )
        if scope.structure_id:
            query = query.where(M.c.structure_id == scope.structure_id)
        return await self._dicts(query)

    async def procedures(self, scope: IndicatorScope) -> list[dict[str, Any]]:
        """The procedures' events of the period (``journey_procedure_events``)."""
        return await self._dicts(
            _procedures_query(scope.structure_id is not None), _scope_params(scope)
        )

    async def sanction_openings(self, case_ids: Sequence[str]) -> dict[str, date]:
        """When each of these sanction cases was opened (whatever the period)."""
        found: dict[str, date] = {}
        for i in range(0, len(case_ids), 500):
            rows = await self.session.execute(
                select(P.c.case_id, func.min(P.c.occurred_on))
                .where(P.c.kind == "sanction_opened", P.c.case_id.in_(case_ids[i : i + 500]))
                .group_by(P.c.case_id)
            )
            for case_id, opened_on in rows.all():
                found[case_id] = opened_on
        return found

    async def step_delays(self, scope: IndicatorScope) -> dict[str, StepDelays]:
        """Time spent in each step (days), over the stays that ended in the period.

        On PostgreSQL the closed months' durations are kept (``closed_months``): a year's read
        sorts the stays of its open months only, then the period's percentiles are worked out
        here over every stay, kept or counted (``percentile``, as ``percentile_cont``)."""
        if self._dialect != "postgresql":
            return await self.step_delays_counted(scope)
        found = await closed_months.durations(
            self.session,
            scope.territory,
            _months_between(scope.start, scope.end),
            scope.structure_id,
            _MEASURED,
        )
        delays = {}
        for step, seconds in found.items():
            # Sorted runs (a month, a structure each) merged in one pass; ``percentile``'s
            # own sort then finds them in order (a pass, not a sort).
            seconds.sort()
            median, p90 = percentile(seconds, 0.5), percentile(seconds, 0.9)
            delays[step] = StepDelays(len(seconds), _days(median), _days(p90))
        return delays

    async def step_delays_counted(self, scope: IndicatorScope) -> dict[str, StepDelays]:
        """``step_delays`` with every stay of the period counted at each read (SQLite's way;
        on PostgreSQL what the kept months save, for the benchmark's anchor and the tests).

        Read step by step along ``ix_journey_step_spans_territory_step_left``, which holds
        every column needed (no table access, no sort to group by step)."""
        start = datetime.combine(scope.start, datetime.min.time(), milestones.PARIS)
        end = datetime.combine(scope.end, datetime.min.time(), milestones.PARIS)
        params = {**_scope_params(scope), "from_at": start, "to_at": end}
        structured = scope.structure_id is not None
        if self._dialect == "postgresql":
            rows = await self.session.execute(_step_delays_query(structured), params)
            found = {}
            for step, count, fractions_found in rows.all():
                median, p90 = fractions_found or (None, None)
                found[step] = StepDelays(count, _days(median), _days(p90))
            return found
        spans = await self.session.execute(_stays_query(structured), params)
        durations: dict[str, list[float]] = defaultdict(list)
        for step, entered_at, left_at in spans.all():
            durations[step].append((left_at - entered_at).total_seconds() / 86400)
        return {
            step: StepDelays(len(values), percentile(values, 0.5), percentile(values, 0.9))
            for step, values in durations.items()
        }

    async def spans(self, journey_id: str) -> Sequence[JourneyStepSpan]:
        """A journey's stays in each step, in order."""
        rows = await self.session.scalars(_SPANS_OF, {"journey_id": journey_id})
        return rows.all()

    async def territories(self) -> list[str]:
        """The départements that have structures (an administrator's choice)."""
        rows = await self.session.scalars(
            select(Structure.territory).distinct().order_by(Structure.territory)
        )
        return list(rows.all())


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 86400


async def rebuild_indicators(session: AsyncSession, beneficiary_id: str, journey_id: str) -> None:
    """Recompute the milestones and step spans of the person's current journey from its
    events (when its timeline was corrected: events it never recorded removed)."""
    journey = await session.get(JourneyRecord, beneficiary_id)
    if journey is None or journey.journey_id != journey_id:
        return
    rsa_opened_on = await session.scalar(
        select(Beneficiary.rsa_opened_on).where(Beneficiary.id == beneficiary_id)
    )
    events = await session.execute(
        select(
            JourneyEventRecord.seq,
            JourneyEventRecord.kind,
            JourneyEventRecord.step,
            JourneyEventRecord.occurred_at,
            JourneyEventRecord.detail,
        )
        .where(JourneyEventRecord.journey_id == journey_id)
        .order_by(JourneyEventRecord.seq)
    )
    events_found = [dict(row._mapping) for row in events]
    milestones, spans = journey_rows(
        {
            "beneficiary_id": beneficiary_id,
            "journey_id": journey_id,
            "step": journey.step,
            "step_since": journey.step_since,
            "territory": journey.territory,
            "structure_id": journey.structure_id,
        },
        rsa_opened_on,
        events_found,
    )
    await session.execute(delete(M).where(M.c.journey_id == journey_id))
    await session.execute(delete(S).where(S.c.journey_id == journey_id))
    await session.execute(delete(P).where(P.c.journey_id == journey_id))
    procedures = [
        row
        for event in events_found
        if (
            row := procedure_row(
                beneficiary_id=beneficiary_id,
                journey_id=journey_id,
                seq=event["seq"],
                kind=event["kind"],
                occurred_at=event["occurred_at"],
                detail=event["detail"] or {},
                territory=journey.territory,
                structure_id=journey.structure_id,
            )
        )
        is not None
    ]
    if procedures:
        await session.execute(insert_rows(P), procedures)
    if milestones is not None:
        await session.execute(insert_rows(M), [milestones])
    if spans:
        await session.execute(insert_rows(S), spans)
