"""``make bench``: the managers' console on 100,000 journeys, on PostgreSQL.

Creates a dedicated database (``parcours_bench`` by default: dropped and created again; never
the tests' ``test`` database), migrates it, and bulk-loads (COPY) 100,000 journeys across 5
départements and 40 structures, in the order they started over two years: people,
read-model rows, timelines as the journey's rules write them (intake → diagnosis →
orientation → accompaniment → work → follow-up → closed, with delays, job losses, early
exits, passed deadlines), the appointments after each orientation, carnet reads and changes
in the access log, and the indicators' milestones and step spans derived from each timeline by
the same code as the migration's backfill. Then, under a few concurrent clients, times:

- the stalled list as the managers' console reads it (``StalledService.page``: a territory,
  the 50 most overdue with their causes and names);
- the indicators of a territory (``IndicatorService.read``: all the aggregates of the page),
  over the last 12 months, a shorter period, or one structure.

First each département's first read of its year, alone, one after the other
(``indicators_first_read_p50_ms``, ``…_max_ms``): on PostgreSQL it counts and keeps the closed
months (``parcours.indicators.closed_months``) that the reads timed next find kept, as a
console's reads do once its months have been read. Then each beside its anchor, timed in turns
with it: the same reads' SQL as the repositories run
it (the same statements, rows fetched), without the services that make the page of them — and,
for the indicators, with every row of the period counted (``step_delays_counted``,
``appointments_counted``, ``first_appointments_counted``, ``contracts_counted``,
``exits_counted``), not the closed months kept (``parcours.indicators.closed_months``).

Prints ``key=value`` lines: ``management_journeys``, ``management_seed_s``,
``stalled_list_p50_ms``, ``stalled_list_p95_ms``, ``indicators_p50_ms``,
``indicators_p95_ms`` (target: 100 ms each), their anchors ``stalled_list_sql_p50_ms``/``_p95_ms``
and ``indicators_sql_p50_ms``/``_p95_ms``, and ``stalled_list_sql_ratio`` /
``indicators_sql_ratio`` (each p95 over its anchor's). Without a reachable PostgreSQL it says so
and exits 0. Options: ``--journeys N``, ``--clients N``, ``--requests N``, ``--database NAME``;
the server is ``PARCOURS_BENCH_POSTGRES_URL``, else ``DATABASE_URL`` when it names PostgreSQL,
else ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.rules import Principal, Role
from parcours.core.db import create_engine, create_sessionmaker
from parcours.core.heap import freeze_startup_objects
from parcours.core.settings import ROOT, Settings
from parcours.indicators.rules import PARIS, journey_rows
from parcours.indicators.schemas import IndicatorFilter
from parcours.indicators.service import IndicatorService, month_key
from parcours.journey.messages import ExitReason, OrientationKind, Step
from parcours.journey.rules import add_months

TERRITORIES = ("73", "74", "38", "01", "69")
STRUCTURES_PER_TERRITORY = 8
REFERENTS_PER_STRUCTURE = 5
DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
FORBIDDEN_DATABASES = {"test", "postgres", "template0", "template1"}
FIRST_NAMES = ("Camille", "Dominique", "Alex", "Sacha", "Claude", "Lou", "Morgan", "Charlie")
LAST_NAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand")
DEADLINE_DAYS = {
    Step.INTAKE: 15,
    Step.DIAGNOSIS: 30,
    Step.EMPLOYMENT: 15,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def server_url() -> str:
    url = os.environ.get("PARCOURS_BENCH_POSTGRES_URL") or os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgresql") else DEFAULT_SERVER


def dsn(url: str) -> str:
    """asyncpg's DSN for a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# --- The data set ---


@dataclass
class Rows:
    structures: list[tuple[Any, ...]] = field(default_factory=list)
    users: list[tuple[Any, ...]] = field(default_factory=list)
    people: list[tuple[Any, ...]] = field(default_factory=list)
    journeys: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    access_log: list[tuple[Any, ...]] = field(default_factory=list)
    milestones: list[tuple[Any, ...]] = field(default_factory=list)
    spans: list[tuple[Any, ...]] = field(default_factory=list)
    appointments: list[tuple[Any, ...]] = field(default_factory=list)

    def clear_journeys(self) -> None:
        for name in JOURNEY_TABLES:
            getattr(self, name).clear()


# What each journey loads (the staff is loaded once); the appointments before the milestones,
# whose trigger looks up the first one attended (migration 0027).
JOURNEY_TABLES = (
    "people", "journeys", "events", "access_log", "appointments", "milestones", "spans",
)  # fmt: skip
COLUMNS = {
    "structures": ("id", "name", "kind", "territory", "created_at"),
    "users": ("id", "email", "full_name", "role", "structure_id", "territory", "active",
              "created_at"),
    "beneficiaries": ("id", "first_name", "last_name", "birth_date", "territory",
                      "rsa_opened_on", "created_at", "updated_at"),
    "journeys": ("beneficiary_id", "journey_id", "workflow_id", "step", "step_since",
                 "deadline", "stalled", "paused", "referent_id", "structure_id", "territory",
                 "orientation", "rsa_status", "follow_up_consent", "check_in_due",
                 "exit_reason", "seq", "started_at", "updated_at"),
    "journey_events": ("beneficiary_id", "journey_id", "seq", "kind", "step", "occurred_at",
                       "actor_id", "detail"),
    "access_log": ("at", "user_id", "beneficiary_id", "action", "what"),
    "journey_milestones": ("journey_id", "beneficiary_id", "territory", "structure_id",
                           "rsa_opened_on", "reference_on", "diagnosis_on", "oriented_on",
                           "contract_signed_on", "employment_on", "follow_up_on",
                           "follow_up_outcome", "follow_up_seq", "closed_on", "exit_reason",
                           "seq"),
    "journey_step_spans": ("journey_id", "beneficiary_id", "entered_at", "step", "entered_seq",
                           "left_at", "territory", "structure_id"),
    "appointments": ("id", "beneficiary_id", "starts_at", "status", "mode", "kind",
                     "structure_id", "seq", "with_letter"),
}  # fmt: skip
TABLE_OF = {
    "structures": "structures",
    "users": "users",
    "people": "beneficiaries",
    "journeys": "journeys",
    "events": "journey_events",
    "access_log": "access_log",
    "milestones": "journey_milestones",
    "spans": "journey_step_spans",
    "appointments": "appointments",
}


@dataclass
class Staff:
    structures: dict[str, list[str]]
    referents: dict[str, list[str]]  # by structure
    managers: dict[str, str]  # by territory


def staff_rows(rows: Rows, now: datetime, territories: Sequence[str]) -> Staff:
    structures: dict[str, list[str]] = {}
    referents: dict[str, list[str]] = {}
    managers: dict[str, str] = {}
    for territory in territories:
        structures[territory] = []
        for index in range(STRUCTURES_PER_TERRITORY):
            sid = str(uuid.uuid4())
            structures[territory].append(sid)
            rows.structures.append(
                (sid, f"Structure {territory}-{index + 1}", "association", territory, now)
            )
            referents[sid] = []
            for n in range(REFERENTS_PER_STRUCTURE):
                uid = str(uuid.uuid4())
                referents[sid].append(uid)
                rows.users.append(
                    (uid, f"ref-{territory}-{index}-{n}@bench.parcours.fr",
                     f"Référent {territory}-{index}-{n}", "referent", sid, territory, True, now)
                )  # fmt: skip
        uid = str(uuid.uuid4())
        managers[territory] = uid
        rows.users.append(
            (uid, f"manager-{territory}@bench.parcours.fr", f"Responsable {territory}",
             "manager", structures[territory][0], territory, True, now)
        )  # fmt: skip
    return Staff(structures, referents, managers)


class Timeline:
    """One synthetic journey, written the way the journey's rules write it."""

    def __init__(self, rng: random.Random, now: datetime, beneficiary_id: str) -> None:
        self.rng, self.now, self.id = rng, now, beneficiary_id
        self.events: list[dict[str, Any]] = []
        self.at = now
        self.step = Step.INTAKE
        self.step_since = now

    def later(self, mean_days: float) -> bool:
        """Move the clock on; False when that moment has not come yet."""
        moment = self.at + timedelta(days=self.rng.expovariate(1 / mean_days))
        if moment > self.now:
            return False
        self.at = moment
        return True

    def event(self, kind: str, actor: str | None, enter: Step | None = None, **detail: Any) -> None:
        if enter is not None:
            self.step, self.step_since = enter, self.at
        self.events.append(
            {
                "seq": len(self.events) + 1,
                "kind": kind,
                "step": self.step.value,
                "occurred_at": self.at,
                "actor_id": actor,
                "detail": detail,
            }
        )


def journey(
    rng: random.Random,
    now: datetime,
    staff: Staff,
    rows: Rows,
    index: int,
    total: int,
    cycle: Sequence[str] = TERRITORIES,
) -> None:
    bid = str(uuid.uuid4())
    territory = cycle[index % len(cycle)]
    structure = rng.choice(staff.structures[territory])
    referent: str | None = rng.choice(staff.referents[structure])
    if rng.random() < 0.04:
        referent = None  # waiting for a référent
    # Journeys start one after another over two years, as they are written in real life.
    started = now - timedelta(days=730 * (1 - index / total), hours=rng.uniform(0, 10))
    rsa = started.date() - timedelta(days=rng.randrange(0, 12)) if rng.random() < 0.85 else None
    t = Timeline(rng, now, bid)
    t.at = started
    t.event("journey_started", referent, Step.INTAKE, territory=territory, referent_id=referent)
    orientation: str | None = None
    contract_on: date | None = None
    consent: bool | None = None
    check_in_due: int | None = None
    exit_reason: str | None = None
    actor = referent or rng.choice(staff.referents[structure])

    def close(reason: ExitReason) -> None:
        nonlocal exit_reason
        exit_reason = reason.value
        t.event("closed", actor, Step.CLOSED, exit_reason=reason.value)

    def story() -> None:
        nonlocal structure, referent, actor, orientation, contract_on, consent, check_in_due
        if rng.random() < 0.03:
            if t.later(20):
                close(ExitReason.DECLINED)
            return
        if not t.later(8):
            return
        t.event("diagnosis_started", actor, Step.DIAGNOSIS, referent_id=referent)
        if not t.later(18):
            return
        t.event("diagnosis_completed", actor, Step.ORIENTATION)
        if not t.later(14):
            return
        if rng.random() < 0.6:
            structure = rng.choice(staff.structures[territory])
        referent = actor = rng.choice(staff.referents[structure])
        orientation = rng.choice(list(OrientationKind)).value
        t.event(
            "orientation_decided",
            actor,
            Step.ACCOMPANIMENT,
            orientation=orientation,
            structure_id=structure,
            referent_id=referent,
        )
        appointments(rng, now, rows, bid, t.at, structure)
        if rng.random() < 0.1:
            if t.later(90):
                close(rng.choice([ExitReason.RIGHTS_CLOSED, ExitReason.MOVED_AWAY]))
            return
        if not t.later(28):
            return
        contract_on = t.at.date()
        t.event("contract_signed", actor, signed_on=contract_on.isoformat(), ends_on=None)
        if rng.random() < 0.25:
            if t.later(200):
                close(rng.choice([ExitReason.DECLINED, ExitReason.OTHER, ExitReason.MOVED_AWAY]))
            return
        if not t.later(150):
            return
        t.event("employment_recorded", actor, Step.EMPLOYMENT, started_on=t.at.date().isoformat())
        consent = rng.random() < 0.7
        t.event("follow_up_consent", actor, consent=consent)
        if not consent:
            close(ExitReason.EMPLOYMENT)
            return
        t.step, t.step_since = Step.FOLLOW_UP, t.at
        since = t.at
        for month in (1, 3, 6):
            due = add_months(since, month)
            if due > now:
                return
            t.at = due
            check_in_due = month
            t.event("check_in_due", None, month=month)
            if not t.later(4):
                return
            check_in_due = None
            still = rng.random() > 0.1
            t.event("check_in_recorded", actor, month=month, still_employed=still)
            if not still:
                t.step, t.step_since = Step.ACCOMPANIMENT, t.at
                contract_on = None
                return
        close(ExitReason.SUSTAINED_EMPLOYMENT)

    story()
    step = t.step
    deadline: datetime | None = None
    if step in DEADLINE_DAYS:
        deadline = t.step_since + timedelta(days=DEADLINE_DAYS[step])
    elif step is Step.ORIENTATION:
        opened = datetime.combine(rsa, datetime.min.time(), UTC) if rsa else t.step_since
        deadline = opened + timedelta(weeks=6)
    elif step is Step.ACCOMPANIMENT:
        deadline = (
            t.step_since + timedelta(days=30)
            if contract_on is None
            else datetime.combine(contract_on, datetime.min.time(), UTC) + timedelta(days=180)
        )
    elif step is Step.FOLLOW_UP:
        deadline = t.at + timedelta(days=45)
    stalled = deadline is not None and deadline < now
    if stalled and deadline is not None:
        t.at = max(deadline, t.at)
        t.event("deadline_passed", None, step=step.value, deadline=deadline.isoformat())
    last = t.events[-1]["occurred_at"]
    rows.people.append(
        (
            bid,
            rng.choice(FIRST_NAMES),
            rng.choice(LAST_NAMES),
            date(1965, 1, 1) + timedelta(days=rng.randrange(0, 14000)),
            territory,
            rsa,
            started,
            last,
        )
    )
    rows.journeys.append(
        (
            bid, bid, f"journey-{bid}", step.value, t.step_since, deadline, stalled, False,
            referent, structure, territory, orientation, "open", consent, check_in_due, exit_reason,
            len(t.events), started, last,
        )
    )  # fmt: skip
    for e in t.events:
        rows.events.append(
            (bid, bid, e["seq"], e["kind"], e["step"], e["occurred_at"], e["actor_id"],
             json.dumps(e["detail"]))
        )  # fmt: skip
    # The access log: every read of the carnet is logged, a few changes too.
    reader = referent or actor
    for _ in range(rng.randrange(2, 9)):
        moment = started + (now - started) * rng.random()
        rows.access_log.append((moment, reader, bid, "read", "carnet"))
    if rng.random() < 0.5:
        moment = started + (now - started) * rng.random()
        rows.access_log.append((moment, reader, bid, "update", "carnet.note"))
    milestones, spans = journey_rows(
        {
            "beneficiary_id": bid,
            "journey_id": bid,
            "step": step.value,
            "step_since": t.step_since,
            "territory": territory,
            "structure_id": structure,
        },
        rsa,
        t.events,
    )
    if milestones is not None:
        rows.milestones.append(tuple(milestones[c] for c in COLUMNS["journey_milestones"]))
    rows.spans.extend(tuple(s[c] for c in COLUMNS["journey_step_spans"]) for s in spans)


# How the appointments after an orientation end (those in the future are still to come).
APPOINTMENT_ENDS = (("attended", 70), ("absent_unexcused", 15), ("absent_excused", 10),
                    ("cancelled", 5))  # fmt: skip
APPOINTMENT_MODES = (("invitation", 50), ("convocation", 40), ("noted", 10))


def appointments(
    rng: random.Random,
    now: datetime,
    rows: Rows,
    beneficiary_id: str,
    oriented_at: datetime,
    structure: str | None,
) -> None:
    """One to three appointments in the weeks after the orientation, as the appointments'
    indicators read them (the first one attended, no-shows, self-booking)."""
    for rank in range(rng.randrange(1, 4)):
        starts_at = oriented_at + timedelta(
            days=5 + 14 * rank + rng.randrange(0, 12), hours=rng.randrange(-2, 6)
        )
        (mode,) = rng.choices([m for m, _ in APPOINTMENT_MODES], [w for _, w in APPOINTMENT_MODES])
        if starts_at > now:
            status = {"invitation": "booked", "convocation": "convoked"}.get(mode, "booked")
        else:
            (status,) = rng.choices(
                [e for e, _ in APPOINTMENT_ENDS], [w for _, w in APPOINTMENT_ENDS]
            )
        rows.appointments.append(
            (
                str(uuid.uuid4()), beneficiary_id, starts_at, status, mode, "accompagnement",
                None if mode == "noted" else structure, 0, False,
            )
        )  # fmt: skip


async def copy(connection: asyncpg.Connection, rows: Rows, names: Sequence[str]) -> None:
    for name in names:
        table = TABLE_OF[name]
        records = getattr(rows, name)
        if records:
            await connection.copy_records_to_table(
                table, records=records, columns=list(COLUMNS[table])
            )


async def check_columns(connection: asyncpg.Connection) -> None:
    """Every required column of the tables loaded is given (later migrations may add some)."""
    for table, given in COLUMNS.items():
        required = await connection.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $1 "
            "AND is_nullable = 'NO' AND column_default IS NULL",
            table,
        )
        missing = {r["column_name"] for r in required} - set(given)
        if missing:
            raise SystemExit(f"bench.management: {table} needs {sorted(missing)}: update COLUMNS")


async def seed(url: str, journeys: int, now: datetime, cycle: Sequence[str] = TERRITORIES) -> Staff:
    """Loads ``journeys`` journeys; the n-th is in the territory ``cycle[n % len(cycle)]`` (a
    territory listed k times holds k shares of the journeys)."""
    rng = random.Random(100_000)
    rows = Rows()
    staff = staff_rows(rows, now, sorted(set(cycle)))
    connection = await asyncpg.connect(dsn(url))
    try:
        await check_columns(connection)
        await copy(connection, rows, ["structures", "users"])
        batch = 10_000
        for start in range(0, journeys, batch):
            for index in range(start, min(start + batch, journeys)):
                journey(rng, now, staff, rows, index, journeys, cycle)
            async with connection.transaction():
                await copy(connection, rows, JOURNEY_TABLES)
            rows.clear_journeys()
            log(f"  {min(start + batch, journeys)} journeys loaded")
        # What autovacuum would do after such a load.
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return staff


async def seeded_staff(url: str, journeys: int) -> Staff | None:
    """The staff of a database this bench seeded with ``journeys`` journeys, or None (another
    count, or no such tables): what the probes need to run again without seeding again."""
    connection = await asyncpg.connect(dsn(url))
    try:
        count = await connection.fetchval("SELECT count(*) FROM journeys")
        if count != journeys:
            return None
        staff = Staff({}, {}, {})
        for row in await connection.fetch(
            "SELECT id, territory FROM structures ORDER BY territory, name"
        ):
            staff.structures.setdefault(row["territory"], []).append(row["id"])
        for row in await connection.fetch("SELECT id, role, structure_id, territory FROM users"):
            if row["role"] == "manager":
                staff.managers[row["territory"]] = row["id"]
            else:
                staff.referents.setdefault(row["structure_id"], []).append(row["id"])
        return staff
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await connection.close()


# --- Timing ---


async def timed(
    sessions: async_sessionmaker[AsyncSession],
    clients: int,
    requests: int,
    call: Callable[[AsyncSession, int], Awaitable[Any]],
) -> list[float]:
    """``requests`` calls spread over ``clients`` concurrent clients, each in its own
    transaction, committed; the durations in milliseconds."""
    durations: list[float] = []
    counter = iter(range(requests))

    async def client() -> None:
        for n in counter:
            began = time.perf_counter()
            async with sessions() as session:
                await call(session, n)
                await session.commit()  # as the API's request does
            durations.append((time.perf_counter() - began) * 1000)

    await asyncio.gather(*(client() for _ in range(clients)))
    return durations


# The figures and their anchors are timed in this many turns each, one after the other.
TURNS = 4


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def stalled_list(
    settings: Settings, cycle: Sequence[str] = TERRITORIES
) -> Callable[[AsyncSession, int], Awaitable[Any]]:
    """The managers' console's stalled list (another part of the console: imported late, so
    this benchmark says clearly when it is missing)."""
    from parcours.management.schemas import StalledFilter
    from parcours.management.service import StalledService

    async def call(session: AsyncSession, n: int) -> Any:
        territory = cycle[n % len(cycle)]
        return await StalledService(session, settings).page(
            StalledFilter(territory=territory), limit=50
        )

    return call


def indicator_reads(
    settings: Settings, staff: Staff, now: datetime, cycle: Sequence[str] = TERRITORIES
) -> Callable[[AsyncSession, int], tuple[IndicatorService, IndicatorFilter]]:
    """The n-th read of the mix: a territory's manager, over the last 12 months, a shorter
    period, or one structure."""
    this_month = month_key(now.date())
    three_months_ago = month_key(add_months(now, -2).date())

    def read(session: AsyncSession, n: int) -> tuple[IndicatorService, IndicatorFilter]:
        territory = cycle[n % len(cycle)]
        manager = Principal(
            id=staff.managers[territory], role=Role.MANAGER, full_name="", territory=territory
        )
        f = [
            IndicatorFilter(),
            IndicatorFilter(from_month=three_months_ago, to_month=this_month),
            IndicatorFilter(structure_id=staff.structures[territory][n % 8]),
        ][n % 3]
        return IndicatorService(session, settings, manager), f

    return read


async def first_reads(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
    cycle: Sequence[str] = TERRITORIES,
) -> list[float]:
    """Each département's indicators over the last 12 months, read once by its manager, one
    after the other, each committed (what it counted of its closed months kept); the durations
    in milliseconds."""
    durations = []
    for territory in dict.fromkeys(cycle):
        manager = Principal(
            id=staff.managers[territory], role=Role.MANAGER, full_name="", territory=territory
        )
        began = time.perf_counter()
        async with sessions() as session:
            await IndicatorService(session, settings, manager).read(IndicatorFilter())
            await session.commit()
        durations.append((time.perf_counter() - began) * 1000)
    return durations


def indicators(
    settings: Settings, staff: Staff, now: datetime, cycle: Sequence[str] = TERRITORIES
) -> Callable[..., Awaitable[Any]]:
    reads = indicator_reads(settings, staff, now, cycle)

    async def call(session: AsyncSession, n: int) -> Any:
        service, f = reads(session, n)
        return await service.read(f)

    return call


def indicators_sql(
    settings: Settings, staff: Staff, now: datetime, cycle: Sequence[str] = TERRITORIES
) -> Callable[..., Awaitable[Any]]:
    """The indicators' anchor: the same reads' aggregates, as the repository returns them
    (the same statements, rows fetched), without the service adding them up into the page
    and without the closed months kept (every row of the period counted)."""
    from parcours.indicators.service import FIRST_APPOINTMENT_DAYS

    reads = indicator_reads(settings, staff, now, cycle)

    async def call(session: AsyncSession, n: int) -> Any:
        service, f = reads(session, n)
        scope, *_ = await service.scope(f)
        t, repo = service.thresholds(scope.today), service.repo
        start = datetime.combine(scope.start, datetime.min.time(), PARIS).astimezone(UTC)
        end = datetime.combine(scope.end, datetime.min.time(), PARIS).astimezone(UTC)
        return (
            await repo.cohort(scope, t.orientation_days),
            await repo.contracts_counted(scope, t.contract_days),
            await repo.follow_ups(scope, t.kept_by),
            await repo.exits_counted(scope),
            await repo.step_delays_counted(scope),
            await repo.first_appointments_counted(scope, FIRST_APPOINTMENT_DAYS),
            await repo.appointments_counted(scope, start, end),
            await repo.procedures(scope),
        )

    return call


def stalled_list_sql(
    settings: Settings, cycle: Sequence[str] = TERRITORIES
) -> Callable[[AsyncSession, int], Awaitable[Any]]:
    """The stalled list's anchor: its page of rows, its total and its counts as the repository
    reads them, without the names and causes the service adds."""
    from parcours.management.schemas import StalledFilter
    from parcours.management.service import StalledService

    async def call(session: AsyncSession, n: int) -> Any:
        territory = cycle[n % len(cycle)]
        return await StalledService(session, settings).stalled.page(
            StalledFilter(territory=territory),
            now=datetime.now(UTC),
            inactive_days=settings.stalled_inactive_days,
            limit=50,
            offset=0,
        )

    return call


async def maintenance_connection(bench: str, server: str, name: str) -> asyncpg.Connection | None:
    """The server's maintenance database, to drop and create the bench's own ``name`` (never
    one of ``FORBIDDEN_DATABASES``); None, said on stderr, when PostgreSQL is unreachable."""
    if name in FORBIDDEN_DATABASES:
        raise SystemExit(f"{bench}: refuses to drop the database {name!r}")
    try:
        return await asyncpg.connect(
            dsn(make_url(server).set(database="postgres").render_as_string(False)), timeout=5
        )
    except (OSError, asyncpg.PostgresError) as error:
        log(f"{bench}: PostgreSQL unreachable at {server} ({error}): skipped")
        return None


async def run(options: argparse.Namespace, cycle: Sequence[str] = TERRITORIES) -> dict[str, str]:
    """Seeds the bench's database and times the console; ``cycle``: the territories, each as
    many times as its share of the journeys (the probes read them in the same proportions)."""
    name = options.database
    server = server_url()
    admin = await maintenance_connection("bench.management", server, name)
    if admin is None:
        return {}
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    now = datetime.now(UTC)
    staff = None
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and getattr(options, "reuse", False):
            staff = await seeded_staff(url, options.journeys)
        if staff is None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    seed_s: float | None = None
    if staff is None:
        config = Config(str(ROOT / "alembic.ini"))
        config.attributes["database_url"] = url
        await asyncio.to_thread(command.upgrade, config, "head")
        log(f"seeding {options.journeys} journeys into {name}")
        began = time.perf_counter()
        staff = await seed(url, options.journeys, now, cycle)
        seed_s = time.perf_counter() - began
    else:
        log(f"{name} holds {options.journeys} journeys already: reused, not seeded again")
    settings = Settings(database_url=url, log_format="console")
    engine = create_engine(url, pool_size=options.clients)
    sessions = create_sessionmaker(engine)
    # As the API does once started: what the bench made so far is set aside from the
    # collector (a full collection would otherwise walk it, 100 ms, in the figures' tail).
    freeze_startup_objects()
    figures = {
        "management_journeys": str(options.journeys),
        "management_seed_s": "reused" if seed_s is None else f"{seed_s:.1f}",
    }
    try:
        # Each figure beside its anchor, timed in turns (a noisy machine weighs on both alike).
        probes = {
            "indicators": indicators(settings, staff, now, cycle),
            "indicators_sql": indicators_sql(settings, staff, now, cycle),
        }
        try:
            probes["stalled_list"] = stalled_list(settings, cycle)
            probes["stalled_list_sql"] = stalled_list_sql(settings, cycle)
        except ImportError as error:
            log(f"bench.management: no stalled list to time ({error})")
        durations: dict[str, list[float]] = {key: [] for key in probes}
        # Each département's first read of its year keeps its closed months (PostgreSQL), as a
        # manager's first read after the migration does: timed apart, one after the other.
        first = await first_reads(sessions, settings, staff, cycle)
        figures["indicators_first_read_p50_ms"] = f"{statistics.median(first):.1f}"
        figures["indicators_first_read_max_ms"] = f"{max(first):.1f}"
        for call in probes.values():
            await timed(sessions, options.clients, options.clients * 3, call)  # warm up
        for turn in range(TURNS):
            for key, call in probes.items():
                count = options.requests // TURNS + (turn < options.requests % TURNS)
                durations[key] += await timed(sessions, options.clients, count, call)
        for key, found in durations.items():
            figures[f"{key}_p50_ms"] = f"{statistics.median(found):.1f}"
            figures[f"{key}_p95_ms"] = f"{p95(found):.1f}"
        for key in ("indicators", "stalled_list"):
            if durations.get(key) and durations.get(f"{key}_sql"):
                ratio = p95(durations[key]) / p95(durations[f"{key}_sql"])
                figures[f"{key}_sql_ratio"] = f"{ratio:.2f}"
    finally:
        await engine.dispose()
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--journeys", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database", default="parcours_bench")
    parser.add_argument(
        "--reuse", action="store_true", help="time again a database seeded with as many journeys"
    )
    options = parser.parse_args(argv)
    figures = asyncio.run(run(options))
    for key in sorted(figures):
        print(f"{key}={figures[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
