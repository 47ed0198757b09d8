"""The person's booking page at scale (issue 14): what ``/rdv/{token}`` reads — the
invitation, its structure, and the free slots of the coming weeks — for a structure with
10,000 future slots (a fifth of them taken), beside the same page for a structure with 100
(the anchor, measured in the same run), and their ratio. SQLite, then PostgreSQL when
``DATABASE_URL`` names one.

    python -m bench.appointments [--slots 10000] [--reads 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import Structure
from parcours.appointments.models import Appointment, Place, Seat, Slot
from parcours.appointments.service import BookingService
from parcours.carnet.models import Beneficiary
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.security import token_hash
from parcours.core.settings import ROOT, Settings

PER_DAY = 50


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def migrate(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    await asyncio.to_thread(command.upgrade, config, "head")


async def structure_with(sessions: async_sessionmaker[AsyncSession], slots: int) -> str:
    """A structure with ``slots`` one-off slots from tomorrow on (50 a day, 10 minutes
    apart), one in five taken, and an invitation to book one; the link's token."""
    token = uuid.uuid4().hex
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    async with transaction(sessions) as session:
        structure = Structure(name=f"Pôle {slots}", kind="departement", territory="73")
        person = Beneficiary(
            first_name="Camille",
            last_name="Banc",
            birth_date=tomorrow.replace(year=1990),
            territory="73",
        )
        session.add_all([structure, person])
        await session.flush()
        place = Place(structure_id=structure.id, name="Accueil", address="1 rue de la Gare")
        session.add(place)
        await session.flush()
        rows = []
        for i in range(slots):
            day, n = divmod(i, PER_DAY)
            rows.append(
                Slot(
                    id=str(uuid.uuid4()),
                    structure_id=structure.id,
                    place_id=place.id,
                    kind="orientation",
                    start_time=clock(8 + n // 6, (n % 6) * 10),
                    duration_minutes=10,
                    capacity=1,
                    on_date=tomorrow + timedelta(days=day),
                )
            )
        session.add_all(rows)
        await session.flush()
        invitation = Appointment(
            beneficiary_id=person.id,
            mode="invitation",
            kind="orientation",
            status="invited",
            structure_id=structure.id,
            token_hash=token_hash(token),
            expires_at=datetime.now(UTC) + timedelta(days=7),
        )
        session.add(invitation)
        await session.flush()
        for i, slot in enumerate(rows):
            if i % 5 == 0:
                taker = Appointment(
                    beneficiary_id=person.id,
                    mode="invitation",
                    kind="orientation",
                    status="booked",
                    structure_id=structure.id,
                )
                session.add(taker)
                await session.flush()
                assert slot.on_date is not None
                starts = datetime.combine(slot.on_date, slot.start_time).replace(tzinfo=UTC)
                session.add(
                    Seat(slot_id=slot.id, starts_at=starts, seat=1, appointment_id=taker.id)
                )
    return token


async def page_times(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, token: str, reads: int
) -> list[float]:
    timings = []
    for _ in range(reads):
        started = time.perf_counter()
        async with sessions() as session:
            page = await BookingService(session, cast(Any, None), settings).page(token)
        timings.append((time.perf_counter() - started) * 1000)
        assert page.can_book and page.offers, "the page offers no slot"
    return timings


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def bench(url: str, prefix: str, slots: int, reads: int) -> None:
    await migrate(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    settings = Settings(environment="test", secret_key="bench", database_url=url)
    try:
        if url.startswith("postgresql"):
            async with engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
        log(f"{prefix}: seeding {slots:,} slots and the anchor's 100")
        big = await structure_with(sessions, slots)
        small = await structure_with(sessions, 100)
        await page_times(sessions, settings, big, 5)  # warm
        await page_times(sessions, settings, small, 5)
        measured = await page_times(sessions, settings, big, reads)
        anchor = await page_times(sessions, settings, small, reads)
    finally:
        await engine.dispose()
    print(f"{prefix}_p50_ms={statistics.median(measured):.1f}")
    print(f"{prefix}_p95_ms={p95(measured):.1f}")
    print(f"{prefix}_anchor_100_slots_p95_ms={p95(anchor):.1f}")
    print(f"{prefix}_ratio={p95(measured) / p95(anchor):.2f}", flush=True)


async def run(slots: int, reads: int) -> None:
    with tempfile.TemporaryDirectory(prefix="parcours-appointments-") as folder:
        await bench(
            f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", "booking_page", slots, reads
        )
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        await bench(url, "booking_page_pg", slots, reads)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--slots", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args(argv)
    asyncio.run(run(args.slots, args.reads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
