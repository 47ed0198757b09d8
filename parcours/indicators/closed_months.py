"""Closed months' stays, kept (PostgreSQL): the time spent in each step over a year without
sorting the year's stays at each read.

The time per step (median and 90th percentile of the stays that ended in the period) was the
dearest of the indicators' aggregates: a year of a 20,000-journey département scans and sorts
≈ 42,000 stays. A month's stays no longer change once the month is over, except when a
journey's story is corrected (a late event, ``rebuild_indicators``, an import, a deletion). So
for each département and **closed month** (a day after its end, in Paris time), the durations
of the stays that ended in it are kept, sorted, per structure and step
(``indicator_stay_durations``); a read merges the kept months with the months still open,
counted as before. The percentiles are computed over every stay of the period as before: the
same figures, not an approximation (percentiles do not add up from month to month, so months
keep their durations, not their medians).

What keeps them true is the database itself, not the code that writes stays: triggers on
``journey_step_spans`` (migration 0029) bump the **version** of each (département, month) whose
stays a statement changes — old and new values, any writer, ``COPY`` and cascades included —
when that month is over. A month's durations are used only while the version they were computed
at is the current one (``indicator_stay_months.summarized = version``). The version is read
before the stays are counted: a change committed after that read leaves the stored version
behind, and the month is counted again at the next read. Storing is best effort, in the
reader's transaction (a savepoint): when it fails, the read has its figures anyway.

SQLite (one small département, the development default) counts every read as before.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Float,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from parcours.core.db import UTCDateTime
from parcours.indicators.models import JourneyStepSpan
from parcours.indicators.rules import PARIS, add_months

log = logging.getLogger(__name__)

# Not in the application's metadata: PostgreSQL only (arrays), made by migration 0029.
METADATA = MetaData()
STAY_MONTHS = Table(
    "indicator_stay_months",
    METADATA,
    Column("territory", String(3), primary_key=True),
    Column("month", Date, primary_key=True),
    # Bumped by the triggers at each change to the month's stays once the month is over.
    Column("version", BigInteger, nullable=False),
    # The version the month's kept durations were counted at (None: none kept).
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

V = STAY_MONTHS.c
D = STAY_DURATIONS.c
S = JourneyStepSpan.__table__.c

# What a stay's time is, and in which month (Paris) it ended: as the triggers see it.
PARIS_ZONE = "Europe/Paris"
MONTH_OF_LEFT = func.date_trunc("month", func.timezone(PARIS_ZONE, S.left_at)).cast(Date)
SECONDS = func.date_part("epoch", S.left_at - S.entered_at)


def first_open_month(now: datetime) -> date:
    """The first month not closed: a month is closed a day after its end, in Paris (a
    transition written at its last instant has long been committed)."""
    day = (now - timedelta(days=1)).astimezone(PARIS).date()
    return day.replace(day=1)


@cache
def _versions_query() -> Any:
    return select(V.month, V.version, V.summarized).where(
        V.territory == bindparam("territory"), V.month.in_(bindparam("months", expanding=True))
    )


@cache
def _kept_query(structured: bool) -> Any:
    query = select(D.step, D.seconds).where(
        D.territory == bindparam("territory"), D.month.in_(bindparam("months", expanding=True))
    )
    if structured:
        query = query.where(D.structure_key == bindparam("structure_key"))
    return query


@cache
def _counted_query() -> Any:
    """The stays of the territory that ended in the given months, every structure: their
    sorted durations per month, structure and step (read along the step index, as before)."""
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


def _start_of(month: date) -> datetime:
    return datetime.combine(month, datetime.min.time(), PARIS).astimezone(UTC)


async def durations(
    session: AsyncSession,
    territory: str,
    months: Sequence[date],
    structure_id: str | None,
    steps: Sequence[str],
    now: datetime | None = None,
) -> dict[str, list[float]]:
    """The durations (seconds) of the stays of ``territory`` (and of the structure) that
    ended in ``months``, per step: kept months read, the others counted (and kept when
    closed)."""
    closed = [m for m in months if m < first_open_month(now or datetime.now(UTC))]
    versions: dict[date, int] = {}
    kept: set[date] = set()
    if closed:
        rows = await session.execute(_versions_query(), {"territory": territory, "months": closed})
        for month, version, summarized in rows.all():
            versions[month] = version
            if summarized == version:
                kept.add(month)
    found: dict[str, list[float]] = defaultdict(list)
    if kept:
        params: dict[str, Any] = {"territory": territory, "months": sorted(kept)}
        if structure_id is not None:
            params["structure_key"] = structure_id
        for step, seconds in await session.execute(_kept_query(structure_id is not None), params):
            if step in steps:
                found[step].extend(seconds)
    counting = [m for m in months if m not in kept]
    if not counting:
        return found
    rows = await session.execute(
        _counted_query(),
        {
            "territory": territory,
            "steps": list(steps),
            "from_at": _start_of(min(counting)),
            "to_at": _start_of(add_months(max(counting), 1)),
            "months": counting,
        },
    )
    counted: dict[date, list[tuple[str, str, list[float]]]] = defaultdict(list)
    for month, structure_key, step, seconds in rows.all():
        counted[month].append((structure_key, step, seconds))
        if structure_id is None or structure_key == structure_id:
            found[step].extend(seconds)
    to_keep = {m: counted.get(m, []) for m in counting if m in closed}
    if to_keep:
        await _keep(session, territory, to_keep, versions)
    return found


async def _keep(
    session: AsyncSession,
    territory: str,
    months: dict[date, list[tuple[str, str, list[float]]]],
    versions: dict[date, int],
) -> None:
    """Stores the counted closed months, each only if its version is still the one read
    before counting it (else a change came in between: counted again next time). In the
    reader's transaction (kept when the request commits, as every request does), within a
    savepoint: a failure (a deadlock with a writer) loses the keeping, never the read. The
    months are claimed in order, as the triggers bump them."""
    try:
        async with session.begin_nested():
            connection = await session.connection()
            for month, rows in sorted(months.items()):
                if await _claim(connection, territory, month, versions.get(month)):
                    await _replace(connection, territory, month, rows)
    except DBAPIError:
        log.warning("closed month's stays not kept", exc_info=True)


async def _claim(
    connection: AsyncConnection, territory: str, month: date, version: int | None
) -> bool:
    """Marks the month as kept at ``version`` (locking its row) if that is still its version."""
    if version is None:  # never changed since the triggers exist: version 0
        claimed = await connection.execute(
            postgresql.insert(STAY_MONTHS)
            .values(territory=territory, month=month, version=0, summarized=0)
            .on_conflict_do_nothing()
            .returning(V.month)
        )
    else:
        claimed = await connection.execute(
            update(STAY_MONTHS)
            .where(V.territory == territory, V.month == month, V.version == version)
            .values(summarized=version)
            .returning(V.month)
        )
    return claimed.first() is not None


async def _replace(
    connection: AsyncConnection,
    territory: str,
    month: date,
    rows: Iterable[tuple[str, str, list[float]]],
) -> None:
    await connection.execute(
        delete(STAY_DURATIONS).where(D.territory == territory, D.month == month)
    )
    values = [
        {"territory": territory, "month": month, "structure_key": key, "step": step, "seconds": s}
        for key, step, s in rows
    ]
    if values:
        await connection.execute(insert(STAY_DURATIONS), values)
