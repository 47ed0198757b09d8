"""Closed months kept (PostgreSQL): a year of indicators without reading a year of rows.

Two of the indicators' aggregates were the dearest of a year's read: the time per step (the
median and 90th percentile of the stays that ended in the period: a year of a 20,000-journey
département sorts ≈ 42,000 stays) and the invitations and convocations (≈ 30,000 slots counted
by month, structure, mode and status). Neither depends on today, and a month's rows no longer
change once the month is over, except when something is corrected afterwards (a late event,
``rebuild_indicators``, an import, an attendance noted late, a deletion). So for each
département and **closed month** (a day after its end, in Paris time) a read keeps what it
counted:

- ``stays``: the sorted durations of the stays that ended in the month, per structure and step
  (``indicator_stay_durations``); a read merges them with the stays of the months still open
  and works the percentiles out over every stay, as before — the same figures, not an
  approximation (percentiles do not add up from month to month: months keep their durations,
  not their medians);
- ``appointments``: the month's invitations and convocations counted per structure, mode and
  status (``indicator_appointment_counts``), added up by the database for the kept months.

What keeps them true is the database itself, not the code that writes: triggers (migration
0029) on ``journey_step_spans`` and ``appointments`` bump the **version** of each (figure,
département, month) whose rows a statement changes — old and new values, any writer, ``COPY``,
cascades and ``TRUNCATE`` included — when that month is over (``indicator_months``). What a
month keeps is used only while the version it was counted at is the current one
(``summarized = version``). The version is read before the month is counted: a change
committed after that read leaves the stored version behind, and the month is counted again at
the next read. Keeping is best effort, in the reader's transaction (a savepoint, committed with
the request): when it fails, the read has its figures anyway.

SQLite (one small département, the development default) counts every read, as before.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from parcours.access.models import Structure
from parcours.appointments.models import Appointment
from parcours.core.db import UTCDateTime
from parcours.indicators.models import JourneyMilestones, JourneyStepSpan
from parcours.indicators.rules import PARIS, add_months

log = logging.getLogger(__name__)

STAYS = "stays"
APPOINTMENTS = "appointments"
FIRST_APPOINTMENTS = "first_appointments"

# Not in the application's metadata: PostgreSQL only (arrays), made by migration 0029.
METADATA = MetaData()
MONTHS = Table(
    "indicator_months",
    METADATA,
    Column("figure", String(20), primary_key=True),
    Column("territory", String(3), primary_key=True),
    Column("month", Date, primary_key=True),
    # Bumped by the triggers at each change to the month's rows once the month is over.
    Column("version", BigInteger, nullable=False),
    # The version the month was kept at (None: not kept).
    Column("summarized", BigInteger),
)
STAY_DURATIONS = Table(
    "indicator_stay_durations",
    METADATA,
    Column("territory", String(3), primary_key=True),
    Column("month", Date, primary_key=True),
    # The structure's id, '' for the stays of no structure.
    Column("structure_key", String(36), primary_key=True),
    Column("step", String(20), primary_key=True),
    # Seconds, sorted.
    Column("seconds", postgresql.ARRAY(Float), nullable=False),
)
APPOINTMENT_COUNTS = Table(
    "indicator_appointment_counts",
    METADATA,
    Column("territory", String(3), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("structure_id", String(36), primary_key=True),
    Column("mode", String(20), primary_key=True),
    Column("status", String(20), primary_key=True),
    Column("held", Integer, nullable=False),
)

# Made by migration 0030.
FIRST_APPOINTMENT_COUNTS = Table(
    "indicator_first_appointment_counts",
    METADATA,
    Column("territory", String(3), primary_key=True),
    # The month of orientation.
    Column("month", Date, primary_key=True),
    Column("structure_key", String(36), primary_key=True),
    # Days from the orientation to the first appointment attended (NO_DELAY: none yet).
    Column("delay", Integer, primary_key=True),
    Column("oriented", Integer, nullable=False),
)
NO_DELAY = -1

V = MONTHS.c
D = STAY_DURATIONS.c
C = APPOINTMENT_COUNTS.c
F = FIRST_APPOINTMENT_COUNTS.c
S = JourneyStepSpan.__table__.c
A = Appointment.__table__.c
M = JourneyMilestones.__table__.c

PARIS_ZONE = "Europe/Paris"
# The appointments' indicators count invitations and convocations (not appointments noted).
COUNTED_MODES = ("invitation", "convocation")


def month_in_paris(column: Any) -> Any:
    """The month (its first day) of an instant in Paris: as the triggers see it."""
    return func.date_trunc("month", func.timezone(PARIS_ZONE, column)).cast(Date)


MONTH_OF_LEFT = month_in_paris(S.left_at)
MONTH_OF_SLOT = month_in_paris(A.starts_at)
SECONDS = func.date_part("epoch", S.left_at - S.entered_at)


def first_open_month(now: datetime) -> date:
    """The first month not closed: a month is closed a day after its end, in Paris (a
    transition written at its last instant has long been committed)."""
    day = (now - timedelta(days=1)).astimezone(PARIS).date()
    return day.replace(day=1)


def start_of(month: date) -> datetime:
    return datetime.combine(month, datetime.min.time(), PARIS).astimezone(UTC)


def month_key(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


# --- Which months are kept ---


@cache
def _versions_query() -> Any:
    return select(V.month, V.version, V.summarized).where(
        V.figure == bindparam("figure"),
        V.territory == bindparam("territory"),
        V.month.in_(bindparam("months", expanding=True)),
    )


class _Months:
    """A read's months for one figure: those kept (at their current version), those closed
    but to count (and keep), those still open."""

    def __init__(
        self, months: Sequence[date], now: datetime | None, settled_from: date | None = None
    ) -> None:
        first_open = first_open_month(now or datetime.now(UTC))
        if settled_from is not None:  # a figure whose months settle later than they close
            first_open = min(first_open, settled_from)
        self.closed = [m for m in months if m < first_open]
        self.open = [m for m in months if m >= first_open]
        self.versions: dict[date, int] = {}
        self.kept: list[date] = []

    async def read(self, session: AsyncSession, figure: str, territory: str) -> None:
        if not self.closed:
            return
        params = {"figure": figure, "territory": territory, "months": self.closed}
        for month, version, summarized in await session.execute(_versions_query(), params):
            self.versions[month] = version
            if summarized == version:
                self.kept.append(month)
        self.kept.sort()

    @property
    def stale(self) -> list[date]:
        """Closed months whose kept rows are missing or out of date."""
        kept = set(self.kept)
        return [m for m in self.closed if m not in kept]


async def _keep(
    session: AsyncSession,
    figure: str,
    territory: str,
    counted: Mapping[date, Sequence[Mapping[str, Any]]],
    versions: Mapping[date, int],
    table: Table,
) -> None:
    """Keeps the counted closed months, each only if its version is still the one read
    before counting it (else a change came in between: counted again next time). In the
    reader's transaction, within a savepoint: a failure (a deadlock with a writer) loses the
    keeping, never the read. Months are claimed in order, as the triggers bump them."""
    try:
        async with session.begin_nested():
            connection = await session.connection()
            for month in sorted(counted):
                if await _claim(connection, figure, territory, month, versions.get(month)):
                    await _replace(connection, table, territory, month, counted[month])
    except DBAPIError:
        log.warning("closed month not kept", extra={"figure": figure}, exc_info=True)


async def _claim(
    connection: AsyncConnection, figure: str, territory: str, month: date, version: int | None
) -> bool:
    """Marks the month as kept at ``version`` (locking its row) if that is still its version."""
    if version is None:  # never changed since the triggers exist: version 0
        claimed = await connection.execute(
            postgresql.insert(MONTHS)
            .values(figure=figure, territory=territory, month=month, version=0, summarized=0)
            .on_conflict_do_nothing()
            .returning(V.month)
        )
    else:
        claimed = await connection.execute(
            update(MONTHS)
            .where(
                V.figure == figure,
                V.territory == territory,
                V.month == month,
                V.version == version,
            )
            .values(summarized=version)
            .returning(V.month)
        )
    return claimed.first() is not None


async def _replace(
    connection: AsyncConnection,
    table: Table,
    territory: str,
    month: date,
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """The month's kept rows (``table``: durations or counts) replaced by ``rows``."""
    await connection.execute(
        delete(table).where(table.c.territory == territory, table.c.month == month)
    )
    if rows:
        await connection.execute(
            insert(table), [{"territory": territory, "month": month, **r} for r in rows]
        )


# --- The time per step ---


@cache
def _kept_durations_query(structured: bool) -> Any:
    query = select(D.step, D.seconds).where(
        D.territory == bindparam("territory"), D.month.in_(bindparam("months", expanding=True))
    )
    if structured:
        query = query.where(D.structure_key == bindparam("structure_key"))
    return query


@cache
def _counted_durations_query() -> Any:
    """The stays of the territory that ended in the given months, every structure: their
    sorted durations per month, structure and step (read along the step index)."""
    structure_key = func.coalesce(S.structure_id, "")
    return (
        select(
            MONTH_OF_LEFT.label("month"),
            structure_key.label("structure_key"),
            S.step,
            func.array_agg(postgresql.aggregate_order_by(SECONDS, SECONDS)).label("seconds"),
        )
        .where(
            S.territory == bindparam("territory"),
            S.step.in_(bindparam("steps", expanding=True)),
            S.left_at >= bindparam("from_at", type_=UTCDateTime()),
            S.left_at < bindparam("to_at", type_=UTCDateTime()),
            MONTH_OF_LEFT.in_(bindparam("months", expanding=True)),
        )
        .group_by(MONTH_OF_LEFT, structure_key, S.step)
    )


async def durations(
    session: AsyncSession,
    territory: str,
    months: Sequence[date],
    structure_id: str | None,
    steps: Sequence[str],
    now: datetime | None = None,
) -> dict[str, list[float]]:
    """The durations (seconds) of the stays of ``territory`` (and of the structure) that
    ended in ``months``, per step, in sorted runs (a month and structure each): kept months
    read, the others counted (and kept when closed)."""
    plan = _Months(months, now)
    await plan.read(session, STAYS, territory)
    found: dict[str, list[float]] = defaultdict(list)
    if plan.kept:
        params: dict[str, Any] = {"territory": territory, "months": plan.kept}
        if structure_id is not None:
            params["structure_key"] = structure_id
        query = _kept_durations_query(structure_id is not None)
        for step, seconds in await session.execute(query, params):
            if step in steps:
                found[step].extend(seconds)
    counting = plan.stale + plan.open
    if not counting:
        return found
    rows = await session.execute(
        _counted_durations_query(),
        {
            "territory": territory,
            "steps": list(steps),
            "from_at": start_of(min(counting)),
            "to_at": start_of(add_months(max(counting), 1)),
            "months": counting,
        },
    )
    counted: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for month, structure_key, step, seconds in rows.all():
        counted[month].append({"structure_key": structure_key, "step": step, "seconds": seconds})
        if structure_id is None or structure_key == structure_id:
            found[step].extend(seconds)
    if plan.stale:
        to_keep = {m: counted.get(m, []) for m in plan.stale}
        await _keep(session, STAYS, territory, to_keep, plan.versions, STAY_DURATIONS)
    return found


# --- The invitations and convocations ---


@cache
def _kept_counts_query(structured: bool) -> Any:
    """The kept months' counts added up by month and by structure (as the open months'
    query groups them: ``by_month`` 1 on a month's rows, 0 on a structure's)."""
    query = select(
        C.month,
        C.structure_id,
        C.mode,
        C.status,
        func.sum(C.held).label("held"),
        func.grouping(C.structure_id).label("by_month"),
    ).where(C.territory == bindparam("territory"), C.month.in_(bindparam("months", expanding=True)))
    if structured:
        query = query.where(C.structure_id == bindparam("structure_id"))
    return query.group_by(
        func.grouping_sets(
            tuple_(C.month, C.mode, C.status), tuple_(C.structure_id, C.mode, C.status)
        )
    )


@cache
def _counted_counts_query() -> Any:
    """The territory's invitations and convocations of the given months, counted per month,
    structure, mode and status (to keep)."""
    return (
        select(
            MONTH_OF_SLOT.label("month"),
            A.structure_id,
            A.mode,
            A.status,
            func.count().label("held"),
        )
        .join_from(Appointment.__table__, Structure, Structure.id == A.structure_id)
        .where(
            Structure.territory == bindparam("territory"),
            A.mode.in_(COUNTED_MODES),
            A.starts_at >= bindparam("from_at", type_=UTCDateTime()),
            A.starts_at < bindparam("to_at", type_=UTCDateTime()),
            MONTH_OF_SLOT.in_(bindparam("months", expanding=True)),
        )
        .group_by(MONTH_OF_SLOT, A.structure_id, A.mode, A.status)
    )


async def appointment_counts(
    session: AsyncSession,
    territory: str,
    months: Sequence[date],
    structure_id: str | None,
    count_open: Callable[[list[date]], Awaitable[list[dict[str, Any]]]],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The invitations and convocations of ``months`` (the territory's, or the structure's)
    as rows of ``month`` (``YYYY-MM``), ``structure_id``, ``mode``, ``status``, ``held`` and
    ``counts_in`` (see ``IndicatorRepository.appointments``): kept months added up by the
    database, closed months to keep counted and kept, open months by ``count_open`` (the
    months it is given, in order and following each other)."""
    plan = _Months(months, now)
    await plan.read(session, APPOINTMENTS, territory)
    found: list[dict[str, Any]] = []
    if plan.kept:
        params: dict[str, Any] = {"territory": territory, "months": plan.kept}
        if structure_id is not None:
            params["structure_id"] = structure_id
        result = await session.execute(_kept_counts_query(structure_id is not None), params)
        names = list(result.keys())
        for values in result.all():
            row = dict(zip(names, values, strict=True))
            row["month"] = month_key(row["month"]) if row["month"] else None
            row["counts_in"] = "months" if row.pop("by_month") else "structures"
            found.append(row)
    stale = plan.stale
    if stale:
        result = await session.execute(
            _counted_counts_query(),
            {
                "territory": territory,
                "from_at": start_of(stale[0]),
                "to_at": start_of(add_months(stale[-1], 1)),
                "months": stale,
            },
        )
        counted: dict[date, list[dict[str, Any]]] = defaultdict(list)
        for month, structure, mode, status, held in result.all():
            counted[month].append(
                {"structure_id": structure, "mode": mode, "status": status, "held": held}
            )
            if structure_id is None or structure == structure_id:
                found.append(
                    {
                        "month": month_key(month),
                        "structure_id": structure,
                        "mode": mode,
                        "status": status,
                        "held": held,
                        "counts_in": "all",
                    }
                )
        to_keep = {m: counted.get(m, []) for m in stale}
        await _keep(session, APPOINTMENTS, territory, to_keep, plan.versions, APPOINTMENT_COUNTS)
    if plan.open:
        found += await count_open(plan.open)
    return found


# --- The first appointment after the orientation ---


@cache
def _kept_firsts_query(structured: bool) -> Any:
    """The kept months' people added up by month and delay, and by structure and delay."""
    query = select(
        F.month,
        F.structure_key,
        F.delay,
        func.sum(F.oriented).label("oriented"),
        func.grouping(F.structure_key).label("by_month"),
    ).where(F.territory == bindparam("territory"), F.month.in_(bindparam("months", expanding=True)))
    if structured:
        query = query.where(F.structure_key == bindparam("structure_key"))
    return query.group_by(
        func.grouping_sets(tuple_(F.month, F.delay), tuple_(F.structure_key, F.delay))
    )


@cache
def _counted_firsts_query() -> Any:
    """The territory's people oriented in the given months, counted per month, structure and
    delay (to keep): the delay in French days, as ``IndicatorRepository`` reads it."""
    month = func.date_trunc("month", M.oriented_on.cast(postgresql.TIMESTAMP())).cast(Date)
    first_day = func.timezone(PARIS_ZONE, M.first_attended_at).cast(Date)
    delay = func.coalesce(first_day - M.oriented_on, NO_DELAY)
    structure_key = func.coalesce(M.structure_id, "")
    return (
        select(
            month.label("month"),
            structure_key.label("structure_key"),
            delay.label("delay"),
            func.count().label("oriented"),
        )
        .where(
            M.territory == bindparam("territory"),
            M.oriented_on >= bindparam("start", type_=Date()),
            M.oriented_on < bindparam("end", type_=Date()),
        )
        .group_by(month, structure_key, delay)
    )


def _first_row(
    month: date | None, structure_key: str | None, delay: int, oriented: int, overdue: Sequence[str]
) -> dict[str, Any]:
    """A row as ``IndicatorRepository.first_appointments`` gives them, for a settled month:
    everyone oriented in it is past every delay (``overdue_*`` are all of them)."""
    return {
        "month": month_key(month) if month else None,
        "structure_id": structure_key or None,
        "delay": None if delay == NO_DELAY else delay,
        "oriented": oriented,
        **dict.fromkeys(overdue, oriented),
    }


async def first_appointment_counts(
    session: AsyncSession,
    territory: str,
    months: Sequence[date],
    structure_id: str | None,
    settled_from: date,
    overdue: Sequence[str],
    count_unsettled: Callable[[list[date]], Awaitable[list[dict[str, Any]]]],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The people oriented in ``months`` (the territory's, or the structure's) as the rows of
    ``IndicatorRepository.first_appointments``: ``month``, ``structure_id``, ``delay``,
    ``oriented``, the ``overdue`` counts and ``counts_in``. Who is due depends on today, so a
    month is kept only when settled: before ``settled_from`` (its last day as many days behind
    today as the longest delay), as well as closed. Kept months added up by the database, settled
    months to keep counted and kept, the others by ``count_unsettled`` (the months it is given,
    the last ones of ``months``, following each other)."""
    plan = _Months(months, now, settled_from)
    await plan.read(session, FIRST_APPOINTMENTS, territory)
    found: list[dict[str, Any]] = []
    if plan.kept:
        params: dict[str, Any] = {"territory": territory, "months": plan.kept}
        if structure_id is not None:
            params["structure_key"] = structure_id
        result = await session.execute(_kept_firsts_query(structure_id is not None), params)
        for month, structure_key, delay, oriented, by_month in result.all():
            row = _first_row(month, structure_key, delay, int(oriented), overdue)
            row["counts_in"] = "months" if by_month else "structures"
            found.append(row)
    stale = plan.stale
    if stale:
        result = await session.execute(
            _counted_firsts_query(),
            {"territory": territory, "start": stale[0], "end": add_months(stale[-1], 1)},
        )
        counted: dict[date, list[dict[str, Any]]] = defaultdict(list)
        wanted = set(stale)
        for month, structure_key, delay, oriented in result.all():
            if month not in wanted:  # a kept month between two stale ones
                continue
            counted[month].append(
                {"structure_key": structure_key, "delay": delay, "oriented": oriented}
            )
            if structure_id is None or structure_key == structure_id:
                row = _first_row(month, structure_key, delay, oriented, overdue)
                found.append({**row, "counts_in": "all"})
        to_keep = {m: counted.get(m, []) for m in stale}
        await _keep(
            session, FIRST_APPOINTMENTS, territory, to_keep, plan.versions, FIRST_APPOINTMENT_COUNTS
        )
    if plan.open:
        found += await count_unsettled(plan.open)
    return found
