"""``parcours worker``: one worker process (its metrics, its Temporal client and database
engine), assembled by ``worker.assembly``; it stops cleanly on SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from parcours.core.db import create_engine, create_sessionmaker
from parcours.core.heap import freeze_startup_objects
from parcours.core.settings import Settings
from parcours.core.temporal import connect
from worker.assembly import PartnerWorkerParts, build_worker
from worker.schedules import ensure_schedules, reconcile_now

log = logging.getLogger(__name__)


async def run_worker(settings: Settings) -> None:
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=settings.worker_metrics_address)
        )
    )
    client = await connect(settings, runtime)
    # SQLite takes one writer at a time: the activities queue for one connection here, in
    # order, rather than in SQLite's busy handler, which sleeps between retries.
    engine = create_engine(settings.database_url, pool_size=1 if settings.is_sqlite else None)
    sessions = create_sessionmaker(engine)
    partners = PartnerWorkerParts.build(client, sessions, settings)
    worker = build_worker(client, sessions, settings.task_queue, settings, partners=partners)
    await ensure_schedules(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker started",
        extra={"task_queue": settings.task_queue, "metrics": settings.worker_metrics_address},
    )
    async with worker:
        freeze_startup_objects()
        # A worker that starts may follow a crash: the read model is checked at once.
        await reconcile_now(client)
        await stop.wait()
        log.info("worker stopping: finishing tasks in flight")
    await partners.aclose()
    await engine.dispose()
