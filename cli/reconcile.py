"""``parcours reconcile``: the read model made to agree with the journeys' workflows, on
demand (the worker does it at start and every few minutes); prints what it fixed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from parcours.core.db import create_engine, create_sessionmaker
from parcours.core.settings import Settings
from parcours.core.temporal import connect
from parcours.journey.reconciliation import JourneyReconciler


async def run_reconcile(
    settings: Settings, all_journeys: bool, journeys: list[str], minutes: int
) -> int:
    engine = create_engine(settings.database_url)
    try:
        reconciler = JourneyReconciler(
            create_sessionmaker(engine), await connect(settings), settings
        )
        if journeys:
            ids = journeys
        elif all_journeys:
            ids = await reconciler.all_journeys()
        else:
            ids = await reconciler.recently_written(datetime.now(UTC) - timedelta(minutes=minutes))
        report = await reconciler.reconcile(ids)
    finally:
        await engine.dispose()
    for line in report.lines():
        print(line)
    return 1 if report.unreachable else 0
