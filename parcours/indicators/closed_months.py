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
  status (``indicator_appointment_counts``), added up by the database for the kept months;
- from the milestones (migration 0030): ``first_appointments``, the people oriented in the
  month per structure and delay to their first appointment attended, ``contracts``, the same
  per delay to their contract, and ``exits``, the journeys closed in the month per structure,
  reason and coded exit. Who is « due » for the first two depends on today: a month is kept
  for them only once **settled**, its last day as far behind today as their delay (30 days,
  the département's ``contract_days``).

The cohort (a month of RSA openings whose funnel moves on for months) and the follow-ups are
counted at each read.

What keeps them true is the database itself, not the code that writes: triggers (migrations
0029 and 0030) on ``journey_step_spans``, ``appointments`` and ``journey_milestones`` (for the
columns each figure counts) bump the **version** of each (figure,
département, month) whose rows a statement changes — old and new values, any writer, ``COPY``,
cascades and ``TRUNCATE`` included — when that month is over (``indicator_months``). What a
month keeps is used only while the version it was counted at is the current one
(``summarized = version``). The version is read before the month is counted: a change
committed after that read leaves the stored version behind, and the month is counted again at
the next read. Keeping is best effort, in the reader's transaction (a savepoint, committed with
the request, waiting at most ``KEEP_LOCK_TIMEOUT`` for a month a writer holds): when it fails,
the read has its figures anyway.

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
    Boolean,
    Column,
    Date,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
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
CONTRACTS = "contracts"
EXITS = "exits"

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
CONTRACT_COUNTS = Table(
    "indicator_contract_counts",
    METADATA,
    Column("territory", String(3), primary_key=True),
    # The month of orientation.
    Column("month", Date, primary_key=True),
    Column("structure_key", String(36), primary_key=True),
    Column("signed", Boolean, primary_key=True),
    # Days from the orientation to the contract (0 when not signed).
    Column("delay", Integer, primary_key=True),
    Column("oriented", Integer, nullable=False),
)
EXIT_COUNTS = Table(
    "indicator_exit_counts",
    METADATA,
    Column("territory", String(3), primary_key=True),
    # The month of closing.
    Column("month", Date, primary_key=True),
    Column("structure_key", String(36), primary_key=True),
    # '' for none.
    Column("exit_reason", String(30), primary_key=True),
    Column("exit_code", String(40), primary_key=True),
    Column("closed", Integer, nullable=False),
)

V = MONTHS.c
D = STAY_DURATIONS.c
C = APPOINTMENT_COUNTS.c
F = FIRST_APPOINTMENT_COUNTS.c
K = CONTRACT_COUNTS.c
X = EXIT_COUNTS.c
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


# How long a reader waits for a month's row before giving up keeping it: a writer bumping
# it (or another reader keeping it) holds it until it commits. A reader holds the months it
# kept until its own request commits, and reads its figures in its own order: were it to wait
# as long as it takes, a writer bumping the same months in another order would deadlock with
# it. It has its figures anyway; the month is kept by a later read.
KEEP_LOCK_TIMEOUT = "50ms"


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
    reader's transaction, within a savepoint and waiting at most ``KEEP_LOCK_TIMEOUT`` for a
    month's row: a failure (a writer holding the month) loses the keeping, never the read.
    Months are claimed in order, as the triggers bump them."""
    try:
        async with session.begin_nested():
            connection = await session.connection()
            previous = await connection.scalar(select(func.current_setting("lock_timeout")))
            await connection.execute(
                select(func.set_config("lock_timeout", KEEP_LOCK_TIMEOUT, True))
            )
            for month in sorted(counted):
                if await _claim(connection, figure, territory, month, versions.get(month)):
                    await _replace(connection, table, territory, month, counted[month])
            await connection.execute(select(func.set_config("lock_timeout", previous, True)))
    except DBAPIError as error:
        # The savepoint rolled back, and the lock timeout with it.
        if _sqlstate(error) == LOCK_NOT_AVAILABLE:
            log.info("closed month not kept: held by a writer", extra={"figure": figure})
        else:
            log.warning("closed month not kept", extra={"figure": figure}, exc_info=True)


LOCK_NOT_AVAILABLE = "55P03"


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)


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


# --- Counts kept by month (every figure but the time per step) ---

Row = dict[str, Any]
CountOpen = Callable[[list[date]], Awaitable[list[Row]]]


async def _counts(
    session: AsyncSession,
    figure: str,
    table: Table,
    territory: str,
    months: Sequence[date],
    *,
    read_kept: Callable[[list[date]], Awaitable[list[Row]]],
    count: Callable[[list[date]], Awaitable[Mapping[date, list[Row]]]],
    shown: Callable[[date, Row], Row | None],
    count_open: CountOpen,
    settled_from: date | None = None,
    now: datetime | None = None,
) -> list[Row]:
    """A figure's rows for ``months``: the kept months' (``read_kept``); the closed months to
    keep counted (``count``: their rows to keep, month by month), kept, and given as
    ``shown`` makes them (None: not the structure read); the open months' (``count_open``:
    the months it is given, the last of ``months``, following each other)."""
    plan = _Months(months, now, settled_from)
    await plan.read(session, figure, territory)
    found: list[Row] = []
    if plan.kept:
        found += await read_kept(plan.kept)
    stale = plan.stale
    if stale:
        counted = await count(stale)
        for month in stale:
            for row in counted.get(month, []):
                seen = shown(month, row)
                if seen is not None:
                    found.append({**seen, "counts_in": "all"})
        to_keep = {m: counted.get(m, []) for m in stale}
        await _keep(session, figure, territory, to_keep, plan.versions, table)
    if plan.open:
        found += await count_open(plan.open)
    return found


async def _kept_rows(session: AsyncSession, query: Any, params: Mapping[str, Any]) -> list[Row]:
    """A kept months' query's rows, months as ``YYYY-MM``; grouped by month and by structure
    (``by_month`` 1 on a month's rows, 0 on a structure's), with their ``counts_in``."""
    result = await session.execute(query, params)
    names = list(result.keys())
    rows = []
    for values in result.all():
        row = dict(zip(names, values, strict=True))
        row["month"] = month_key(row["month"]) if row["month"] else None
        if "by_month" in row:
            row["counts_in"] = "months" if row.pop("by_month") else "structures"
        rows.append(row)
    return rows


async def _counted_by_month(
    session: AsyncSession, query: Any, params: Mapping[str, Any], months: Sequence[date]
) -> dict[date, list[Row]]:
    """A count query's rows (``month`` first) by month, ``months`` only (a range's query may
    bring the kept months between two stale ones)."""
    result = await session.execute(query, params)
    names = list(result.keys())
    wanted = set(months)
    counted: dict[date, list[Row]] = defaultdict(list)
    for values in result.all():
        row = dict(zip(names, values, strict=True))
        month = row.pop("month")
        if month in wanted:
            counted[month].append(row)
    return counted


# --- The invitations and convocations ---


@cache
def _kept_counts_query(structured: bool) -> Any:
    """The kept months' counts added up by month and by structure (as the open months'
    query groups them)."""
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
    count_open: CountOpen,
    now: datetime | None = None,
) -> list[Row]:
    """The invitations and convocations of ``months`` (the territory's, or the structure's)
    as rows of ``month`` (``YYYY-MM``), ``structure_id``, ``mode``, ``status``, ``held`` and
    ``counts_in`` (see ``IndicatorRepository.appointments``)."""

    async def read_kept(kept: list[date]) -> list[Row]:
        params: dict[str, Any] = {"territory": territory, "months": kept}
        if structure_id is not None:
            params["structure_id"] = structure_id
        return await _kept_rows(session, _kept_counts_query(structure_id is not None), params)

    async def count(stale: list[date]) -> Mapping[date, list[Row]]:
        params = {
            "territory": territory,
            "from_at": start_of(stale[0]),
            "to_at": start_of(add_months(stale[-1], 1)),
            "months": stale,
        }
        return await _counted_by_month(session, _counted_counts_query(), params, stale)

    def shown(month: date, row: Row) -> Row | None:
        if structure_id is not None and row["structure_id"] != structure_id:
            return None
        return {**row, "month": month_key(month)}

    return await _counts(
        session,
        APPOINTMENTS,
        APPOINTMENT_COUNTS,
        territory,
        months,
        read_kept=read_kept,
        count=count,
        shown=shown,
        count_open=count_open,
        now=now,
    )


# --- The milestones: first appointment, contract, exit ---


def _days_in(query: Any, day: Any) -> Any:
    """The territory's milestones whose ``day`` falls in [``start``, ``end``)."""
    return query.where(
        M.territory == bindparam("territory"),
        day >= bindparam("start", type_=Date()),
        day < bindparam("end", type_=Date()),
    )


def _month_of_day(day: Any) -> Any:
    return func.date_trunc("month", day.cast(postgresql.TIMESTAMP())).cast(Date)


def _counted_milestones(day: Any, keys: Mapping[str, Any], counted: str) -> Any:
    """The territory's milestones whose ``day`` falls in the given months, counted
    (``counted``) per month, structure and ``keys`` (to keep)."""
    month = _month_of_day(day)
    query = select(
        month.label("month"),
        STRUCTURE_KEY.label("structure_key"),
        *(value.label(name) for name, value in keys.items()),
        func.count().label(counted),
    )
    return _days_in(query, day).group_by(month, STRUCTURE_KEY, *keys.values())


STRUCTURE_KEY = func.coalesce(M.structure_id, "")


def _milestone_params(territory: str, stale: list[date]) -> dict[str, Any]:
    return {"territory": territory, "start": stale[0], "end": add_months(stale[-1], 1)}


def _kept_params(territory: str, kept: list[date], structure_id: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"territory": territory, "months": kept}
    if structure_id is not None:
        params["structure_key"] = structure_id
    return params


async def _milestone_counts(
    session: AsyncSession,
    figure: str,
    table: Table,
    territory: str,
    months: Sequence[date],
    structure_id: str | None,
    *,
    kept_query: Any,
    counted_query: Any,
    from_kept: Callable[[Row], Row],
    from_counted: Callable[[Row], Row],
    count_open: CountOpen,
    kept_params: Mapping[str, Any] | None = None,
    settled_from: date | None = None,
) -> list[Row]:
    """``_counts`` for a figure of the milestones: its kept months read by ``kept_query`` (its
    rows made by ``from_kept``), its stale months counted by ``counted_query`` (each row made by
    ``from_counted``, with ``month`` and ``structure_id``)."""

    async def read_kept(kept: list[date]) -> list[Row]:
        params = {**_kept_params(territory, kept, structure_id), **(kept_params or {})}
        return [from_kept(row) for row in await _kept_rows(session, kept_query, params)]

    async def count(stale: list[date]) -> Mapping[date, list[Row]]:
        params = _milestone_params(territory, stale)
        return await _counted_by_month(session, counted_query, params, stale)

    def shown(month: date, row: Row) -> Row | None:
        if structure_id is not None and row["structure_key"] != structure_id:
            return None
        kept = {k: v for k, v in row.items() if k != "structure_key"}
        return from_counted(
            {**kept, "month": month_key(month), "structure_id": row["structure_key"]}
        )

    return await _counts(
        session,
        figure,
        table,
        territory,
        months,
        read_kept=read_kept,
        count=count,
        shown=shown,
        count_open=count_open,
        settled_from=settled_from,
    )


@cache
def _kept_firsts_query(structured: bool) -> Any:
    """The kept months' people added up by month and delay, and by structure and delay."""
    query = select(
        F.month,
        F.structure_key.label("structure_id"),
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
    first_day = func.timezone(PARIS_ZONE, M.first_attended_at).cast(Date)
    delay = func.coalesce(first_day - M.oriented_on, NO_DELAY)
    return _counted_milestones(M.oriented_on, {"delay": delay}, "oriented")


async def first_appointment_counts(
    session: AsyncSession,
    territory: str,
    months: Sequence[date],
    structure_id: str | None,
    settled_from: date,
    overdue: Sequence[str],
    count_unsettled: CountOpen,
) -> list[Row]:
    """The people oriented in ``months`` (the territory's, or the structure's) as the rows of
    ``IndicatorRepository.first_appointments``: ``month``, ``structure_id``, ``delay``,
    ``oriented``, the ``overdue`` counts and ``counts_in``. Who is due depends on today, so a
    month is kept only when settled: before ``settled_from`` (its last day as many days behind
    today as the longest delay), as well as closed; everyone oriented in it is then past every
    delay (``overdue_*`` are all of them)."""

    def row_of(row: Row) -> Row:
        delay, oriented = row["delay"], int(row["oriented"])
        row["delay"] = None if delay == NO_DELAY else delay
        row["oriented"] = oriented
        row["structure_id"] = row["structure_id"] or None
        row.update(dict.fromkeys(overdue, oriented))
        return row

    return await _milestone_counts(
        session,
        FIRST_APPOINTMENTS,
        FIRST_APPOINTMENT_COUNTS,
        territory,
        months,
        structure_id,
        kept_query=_kept_firsts_query(structure_id is not None),
        counted_query=_counted_firsts_query(),
        from_kept=row_of,
        from_counted=row_of,
        count_open=count_unsettled,
        settled_from=settled_from,
    )


@cache
def _kept_contracts_query(structured: bool) -> Any:
    """The kept months' people oriented, and signed within ``within`` days, by month and
    structure."""
    within = and_(K.signed, K.delay <= bindparam("within", type_=Integer()))
    query = select(
        K.month,
        K.structure_key.label("structure_id"),
        func.sum(K.oriented).label("oriented"),
        func.coalesce(func.sum(K.oriented).filter(within), 0).label("within"),
    ).where(K.territory == bindparam("territory"), K.month.in_(bindparam("months", expanding=True)))
    if structured:
        query = query.where(K.structure_key == bindparam("structure_key"))
    return query.group_by(K.month, K.structure_key)


@cache
def _counted_contracts_query() -> Any:
    """The territory's people oriented in the given months, counted per month, structure and
    delay to their contract (to keep)."""
    signed = M.contract_signed_on.is_not(None)
    delay = func.coalesce(M.contract_signed_on - M.oriented_on, 0)
    return _counted_milestones(M.oriented_on, {"signed": signed, "delay": delay}, "oriented")


async def contract_counts(
    session: AsyncSession,
    territory: str,
    months: Sequence[date],
    structure_id: str | None,
    within_days: int,
    settled_from: date,
    count_unsettled: CountOpen,
) -> list[Row]:
    """The people oriented in ``months`` as the rows of ``IndicatorRepository.contracts``:
    ``month``, ``structure_id``, ``oriented``, ``within`` (signed within ``within_days``) and
    ``due``. A month is kept only when settled (before ``settled_from``: its last day
    ``within_days`` behind today), when everyone oriented in it is due. Kept per delay, any
    ``within_days`` of the département reads the same kept rows."""

    def from_kept(row: Row) -> Row:
        oriented = int(row["oriented"])
        return {
            "month": row["month"],
            "structure_id": row["structure_id"] or None,
            "oriented": oriented,
            "within": int(row["within"]),
            "due": oriented,
        }

    def from_counted(row: Row) -> Row:
        within = row["signed"] and row["delay"] <= within_days
        return from_kept({**row, "within": row["oriented"] if within else 0})

    return await _milestone_counts(
        session,
        CONTRACTS,
        CONTRACT_COUNTS,
        territory,
        months,
        structure_id,
        kept_query=_kept_contracts_query(structure_id is not None),
        counted_query=_counted_contracts_query(),
        from_kept=from_kept,
        from_counted=from_counted,
        count_open=count_unsettled,
        kept_params={"within": within_days},
        settled_from=settled_from,
    )


@cache
def _kept_exits_query(structured: bool) -> Any:
    """The kept months' exits added up by month and by structure, each by reason and code."""
    why = (X.exit_reason, X.exit_code)
    query = select(
        X.month,
        X.structure_key.label("structure_id"),
        *why,
        func.sum(X.closed).label("closed"),
        func.grouping(X.structure_key).label("by_month"),
    ).where(X.territory == bindparam("territory"), X.month.in_(bindparam("months", expanding=True)))
    if structured:
        query = query.where(X.structure_key == bindparam("structure_key"))
    return query.group_by(func.grouping_sets(tuple_(X.month, *why), tuple_(X.structure_key, *why)))


@cache
def _counted_exits_query() -> Any:
    """The territory's journeys closed in the given months, counted per month, structure,
    reason and code (to keep)."""
    why = {
        "exit_reason": func.coalesce(M.exit_reason, ""),
        "exit_code": func.coalesce(M.exit_code, ""),
    }
    return _counted_milestones(M.closed_on, why, "closed")


async def exit_counts(
    session: AsyncSession,
    territory: str,
    months: Sequence[date],
    structure_id: str | None,
    count_open: CountOpen,
) -> list[Row]:
    """The journeys closed in ``months`` as the rows of ``IndicatorRepository.exits``:
    ``month``, ``structure_id``, ``exit_reason``, ``exit_code``, ``closed``, ``counts_in``."""

    def row_of(row: Row) -> Row:
        row["structure_id"] = row["structure_id"] or None
        row["exit_reason"] = row["exit_reason"] or None
        row["exit_code"] = row["exit_code"] or None
        row["closed"] = int(row["closed"])
        return row

    return await _milestone_counts(
        session,
        EXITS,
        EXIT_COUNTS,
        territory,
        months,
        structure_id,
        kept_query=_kept_exits_query(structure_id is not None),
        counted_query=_counted_exits_query(),
        from_kept=row_of,
        from_counted=row_of,
        count_open=count_open,
    )
