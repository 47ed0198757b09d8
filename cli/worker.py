"""The Temporal worker: journeys' workflows and the activities, with their dependencies."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.read_model import ReadModelActivities
from parcours.db import create_engine, create_sessionmaker
from parcours.settings import Settings
from parcours.temporal_client import connect
from workflows.journey import Journey

log = logging.getLogger(__name__)

WORKFLOWS = [Journey]


def build_worker(
    client: Client, sessions: async_sessionmaker[AsyncSession], task_queue: str
) -> Worker:
    read_model = ReadModelActivities(sessions)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[read_model.record_journey_event],
        max_concurrent_activities=50,
        # Activities in flight get this long to finish when the worker is asked to stop.
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


async def run_worker(settings: Settings) -> None:
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=settings.worker_metrics_address)
        )
    )
    client = await connect(settings, runtime)
    engine = create_engine(settings.database_url)
    worker = build_worker(client, create_sessionmaker(engine), settings.task_queue)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker started",
        extra={"task_queue": settings.task_queue, "metrics": settings.worker_metrics_address},
    )
    async with worker:
        await stop.wait()
        log.info("worker stopping: finishing tasks in flight")
    await engine.dispose()
