"""``make bench``: what the closed months' triggers cost the read model's writes (PostgreSQL).

The indicators keep their closed months (``parcours.indicators.closed_months``); what keeps
them true is statement triggers on ``journey_step_spans``, ``appointments`` (migration 0029)
and ``journey_milestones`` (0030), which run in the worker's read-model activity at every
transition. This times that
activity (``ReadModelActivities.record_journey_event``, one transaction per event, as Temporal
runs it) writing journeys from intake to the close — seven transitions, each a milestone and a
stay — against its anchor: the same writes with those triggers disabled, in turns with them
(the order alternating round by round) on the same scratch database.

Two cases: transitions written now (``projection_write_*``: the triggers find no closed month,
the common case) and transitions of a month already over (``projection_late_write_*``: a late
event, an import, a rebuilt history; the triggers bump that month's version).

Prints ``key=value`` lines: ``projection_write_p50_ms`` / ``_p95_ms`` and their anchor
``projection_write_untriggered_p50_ms`` / ``_p95_ms``, ``projection_trigger_ratio`` (p50 over
the anchor's p50); the same for ``projection_late_write_*``, ``projection_late_trigger_ratio``.
Without a reachable PostgreSQL it says so and exits 0. Options: ``--journeys N`` (per round and
case), ``--rounds N``, ``--database NAME`` (dropped and created again; never ``test``); the
server as for ``bench.management``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from activities.journey import ReadModelActivities
from bench.management import dsn, log, maintenance_connection, p95, server_url
from parcours.carnet.models import Beneficiary
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.settings import ROOT, Settings
from parcours.journey.messages import JourneyEvent, JourneyState, RecordJourneyEventInput, Step

TERRITORY = "73"
# From intake to the close: each transition enters a step (a stay ended, one begun) and marks
# a milestone, as the Journey's do.
TRANSITIONS: list[tuple[str, Step, dict[str, object]]] = [
    ("journey_started", Step.INTAKE, {}),
    ("diagnosis_started", Step.DIAGNOSIS, {}),
    ("orientation_decided", Step.ORIENTATION, {"orientation": "social"}),
    ("contract_signed", Step.ACCOMPANIMENT, {}),
    ("employment_recorded", Step.EMPLOYMENT, {}),
    ("follow_up_consent", Step.FOLLOW_UP, {"consent": True}),
    ("closed", Step.CLOSED, {"exit_reason": "employment"}),
]
TRIGGERED_TABLES = ("journey_step_spans", "appointments", "journey_milestones")


def inputs(beneficiary_id: str, start: datetime) -> list[RecordJourneyEventInput]:
    """A journey's transitions, a minute apart from ``start``."""
    found = []
    for seq, (kind, step, detail) in enumerate(TRANSITIONS, start=1):
        at = start + timedelta(minutes=seq)
        journey = JourneyState(
            beneficiary_id=beneficiary_id,
            territory=TERRITORY,
            step=step,
            step_since=at,
            deadline=at + timedelta(days=30),
            referent_id="bench-referent",
            rsa_opened_on=start.date(),
            seq=seq,
        )
        event = JourneyEvent(kind=kind, occurred_at=at, actor_id="bench-referent", detail=detail)
        found.append(RecordJourneyEventInput(journey=journey, seq=seq, event=event))
    return found


async def set_triggers(connection: asyncpg.Connection, enabled: bool) -> None:
    """The closed months' triggers (``indicator_*``) on or off."""
    verb = "ENABLE" if enabled else "DISABLE"
    for table in TRIGGERED_TABLES:
        names = await connection.fetch(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname LIKE $2",
            table,
            "indicator\\_%",
        )
        for (name,) in names:
            await connection.execute(f'ALTER TABLE {table} {verb} TRIGGER "{name}"')


async def write_journeys(
    activities: ReadModelActivities, count: int, start: datetime
) -> list[float]:
    """Writes ``count`` new journeys' transitions; the milliseconds of each write."""
    people = [str(uuid.uuid4()) for _ in range(count)]
    async with transaction(activities.sessions) as session:
        session.add_all(
            Beneficiary(
                id=person,
                first_name="Camille",
                last_name="Banc",
                birth_date=date(1990, 5, 17),
                territory=TERRITORY,
            )
            for person in people
        )
    durations = []
    for person in people:
        for data in inputs(person, start):
            began = time.perf_counter()
            await activities.record_journey_event(data)
            durations.append((time.perf_counter() - began) * 1000)
    return durations


async def run(options: argparse.Namespace) -> dict[str, str]:
    name = options.database
    server = server_url()
    admin = await maintenance_connection("bench.projection", server, name)
    if admin is None:
        return {}
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    await asyncio.to_thread(command.upgrade, config, "head")

    settings = Settings(database_url=url, log_format="console")
    engine = create_engine(url)
    activities = ReadModelActivities(create_sessionmaker(engine), settings)
    connection = await asyncpg.connect(dsn(url))
    now = datetime.now(UTC)
    # A month already over: the 15th three months back.
    late = (now.replace(day=15) - timedelta(days=90)).replace(hour=9)
    cases = {"write": now - timedelta(hours=1), "late_write": late}
    durations: dict[str, list[float]] = {}
    try:
        await write_journeys(activities, options.journeys, now)  # warm up
        for turn in range(options.rounds):
            for enabled in (True, False) if turn % 2 == 0 else (False, True):
                await set_triggers(connection, enabled)
                for case, start in cases.items():
                    key = case if enabled else f"{case}_untriggered"
                    durations.setdefault(key, []).extend(
                        await write_journeys(activities, options.journeys, start)
                    )
            log(f"round {turn + 1}/{options.rounds}")
        await set_triggers(connection, True)
        versions = await connection.fetchval(
            "SELECT coalesce(sum(version), 0) FROM indicator_months"
        )
    finally:
        await connection.close()
        await engine.dispose()
    log(f"closed months' versions bumped by the late writes: {versions}")
    figures: dict[str, str] = {}
    for key, found in durations.items():
        figures[f"projection_{key}_p50_ms"] = f"{statistics.median(found):.2f}"
        figures[f"projection_{key}_p95_ms"] = f"{p95(found):.2f}"
    for case, label in (("write", "trigger"), ("late_write", "late_trigger")):
        ratio = statistics.median(durations[case]) / statistics.median(
            durations[f"{case}_untriggered"]
        )
        figures[f"projection_{label}_ratio"] = f"{ratio:.3f}"
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--journeys", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--database", default="parcours_bench_projection")
    options = parser.parse_args(argv)
    figures = asyncio.run(run(options))
    for key in sorted(figures):
        print(f"{key}={figures[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
