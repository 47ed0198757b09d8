"""``make bench``: searching the resource base of 50,000 services.

Seeds 50,000 data·inclusion services through the real import (a fresh SQLite file in a
temporary folder; and, when ``DATABASE_URL`` names PostgreSQL, that database too — the
services are upserted under the source ``bench``: point it at a scratch database), then runs
200 varied searches as the API runs them (filters, free text with accents and capitals,
distance from a commune with or without a radius, later pages), each in its own transaction.
On PostgreSQL the tables are vacuumed after the seed, as autovacuum would.

Prints ``key=value`` lines: ``resource_seed_s``, ``resource_search_p50_ms``,
``resource_search_p95_ms`` (SQLite), and the same prefixed ``resource_pg_`` for PostgreSQL.
Options: ``--services N``, ``--searches N``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from demo.resources import bench_services
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.settings import ROOT
from parcours.resources import geo
from parcours.resources.schemas import SortOrder
from parcours.resources.search import Distance, ServiceQuery
from parcours.resources.service import ResourceBaseService
from parcours.resources.vocabulary import (
    CATEGORIE_LABELS,
    FRAIS_LABELS,
    PUBLIC_LABELS,
    THEMATIQUE_LABELS,
    TYPE_LABELS,
)

TEXTS = [
    "permis",
    "Permis de conduire",
    "ÉPICERIE solidaire",
    "francais",
    "français langue",
    "atelier cv",
    "logement",
    "crèche",
    "Santé mentale",
    "numérique",
    "ordinateur",
    "emploi",
    "chantier insertion",
    "budget",
    "garage",
    "vélo",
    "parentalité",
    "immersion",
    "mobilite",
    "accompagnement",
]
BATCH = 5000
RESOURCE_TABLES = (
    "resource_services",
    "resource_service_search",
    "resource_service_tags",
    "resource_service_words",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def migrate(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    await asyncio.to_thread(command.upgrade, config, "head")


async def seed(
    sessions: async_sessionmaker[AsyncSession], places: geo.Gazetteer, count: int
) -> float:
    started = time.perf_counter()
    services = list(bench_services(places, count))
    for start in range(0, count, BATCH):
        chunk = json.dumps(services[start : start + BATCH], ensure_ascii=False).encode()
        async with transaction(sessions) as session:
            report = await ResourceBaseService(session).import_files(
                [(f"services-bench-{start}.json", chunk)]
            )
        rejected = report.files[0].rejected
        if rejected or report.files[0].error:
            raise SystemExit(f"bench data rejected: {report.files[0].error or rejected[:3]}")
        log(f"  {min(start + BATCH, count):,} services imported")
    return time.perf_counter() - started


async def vacuum(engine: AsyncEngine) -> None:
    """What autovacuum does in production: re-imports leave dead rows behind (each service's
    search rows are rewritten), and a test server may run without autovacuum."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text(f"VACUUM (ANALYZE) {', '.join(RESOURCE_TABLES)}"))


def queries(places: geo.Gazetteer, n: int, seed: int = 7) -> list[ServiceQuery]:
    """Varied searches, as référents make them: mostly one or two filters, often a place
    (a commune of the Savoie, where the services are)."""
    rng = random.Random(seed)
    communes = places.in_departement("73")
    found: list[ServiceQuery] = []
    for _ in range(n):
        place = rng.choice(communes[:60]) if rng.random() < 0.7 else None
        radius = rng.choice([None, 5.0, 10.0, 20.0, 40.0]) if place else None
        sort = SortOrder.DISTANCE if place and rng.random() < 0.6 else SortOrder.RELEVANCE
        thematique = (
            rng.choice(list(CATEGORIE_LABELS) + list(THEMATIQUE_LABELS))
            if rng.random() < 0.5
            else None
        )
        found.append(
            ServiceQuery(
                text=rng.choice(TEXTS) if rng.random() < 0.5 else None,
                thematiques=(thematique,) if thematique else (),
                types=(rng.choice(list(TYPE_LABELS)),) if rng.random() < 0.2 else (),
                publics=(rng.choice(list(PUBLIC_LABELS)),) if rng.random() < 0.2 else (),
                frais=(rng.choice(list(FRAIS_LABELS)),) if rng.random() < 0.2 else (),
                zone=(place.code if place and rng.random() < 0.3 else None),
                distance=Distance(geo.Point(place.lat, place.lon), radius) if place else None,
                sort=sort,
                page=rng.choice([1, 1, 1, 2, 3]),
                size=20,
            )
        )
    return found


async def measure(
    sessions: async_sessionmaker[AsyncSession], searches: Sequence[ServiceQuery]
) -> list[float]:
    timings: list[float] = []
    for warm in searches[:10]:  # connections opened, statements compiled
        async with transaction(sessions) as session:
            await ResourceBaseService(session).search_services(warm, None)
    for query in searches:
        started = time.perf_counter()
        async with transaction(sessions) as session:
            await ResourceBaseService(session).search_services(query, None)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def bench(url: str, prefix: str, count: int, searches: int) -> None:
    log(f"{prefix}: {url.split('@')[-1]}")
    await migrate(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session:
            places = await geo.gazetteer(session)
        seeded = await seed(sessions, places, count)
        if engine.dialect.name == "postgresql":
            await vacuum(engine)
        timings = await measure(sessions, queries(places, searches))
    finally:
        await engine.dispose()
    print(f"{prefix}_seed_s={seeded:.1f}")
    print(f"{prefix}_search_p50_ms={statistics.median(timings):.1f}")
    print(f"{prefix}_search_p95_ms={percentile(timings, 95):.1f}")
    print(f"{prefix}_search_max_ms={max(timings):.1f}", flush=True)


async def run(count: int, searches: int) -> None:
    with tempfile.TemporaryDirectory(prefix="parcours-resources-") as folder:
        sqlite_url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await bench(sqlite_url, "resource", count, searches)
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        await bench(url, "resource_pg", count, searches)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--services", type=int, default=50_000)
    parser.add_argument("--searches", type=int, default=200)
    args = parser.parse_args(argv)
    asyncio.run(run(args.services, args.searches))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
