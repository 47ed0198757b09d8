"""``parcours worker`` in a process of its own, as production runs it (``python -m cli.main
worker``), for the tests that kill it (``kill -9``) in the middle of its work and start another:
``WorkerProcess``, and ``worker_on_its_queue``, which puts one next to the partner stack on a
task queue of its own, with the app starting its workflows on that queue."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from api.app import create_app
from parcours.core.settings import ROOT, Settings
from tests.support.accounts import Staff
from tests.support.api import served
from tests.support.clients import ApiClients, api_clients
from tests.support.partners import PartnerStack
from tests.support.servers import free_port

T = TypeVar("T")


class WorkerProcess:
    """``parcours worker`` in a process of its own, on its own task queue."""

    def __init__(self, settings: Settings, task_queue: str, log: Path) -> None:
        self.log = log
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "PARCOURS_ENVIRONMENT": "test",
            "PARCOURS_SECRET_KEY": "test-secret-key",
            "PARCOURS_TEMPORAL_ADDRESS": settings.temporal_address,
            "PARCOURS_TASK_QUEUE": task_queue,
            "PARCOURS_PARTNERS_BASE_URL": settings.partners_base_url,
            # Longer than the partner holds its answer: the call is in flight when killed.
            "PARCOURS_PARTNER_TIMEOUT_S": "60",
            "PARCOURS_PARTNER_CALLBACK_SECRET": settings.partner_callback_secret,
            "PARCOURS_CAF_IMPORT_BATCH_LINES": "20",
            "PARCOURS_LOG_FORMAT": "console",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**self.env, "PARCOURS_WORKER_METRICS_ADDRESS": f"127.0.0.1:{free_port()}"}
        self.process = spawn_parcours("worker", env, self.log)

    def kill(self) -> None:
        """``kill -9``: no graceful shutdown, no chance to finish or report anything."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def until(self, check: Callable[[], Awaitable[T | None]], what: str) -> T:
        """``check()``'s value once it is true; fails at once if the worker died meanwhile."""
        async with asyncio.timeout(60):
            while True:
                if not self.alive():
                    raise AssertionError(
                        f"worker stopped before {what}:\n{self.log.read_text()[-3000:]}"
                    )
                value = await check()
                if value:
                    return value
                await asyncio.sleep(0.05)

    async def kill_once(self, check: Callable[[], Awaitable[T | None]], what: str) -> T:
        """Once ``check()`` holds (a partner has received the request the worker is making),
        ``kill -9`` the worker and start another, as after a crash. Returns ``check()``'s value."""
        value = await self.until(check, what)
        self.kill()
        self.start()
        return value


@dataclass
class WorkerOnItsQueue:
    """A ``WorkerProcess`` (started) on a task queue of its own next to the partner stack:
    ``settings`` start workflows on that queue (the journeys, and so their requests and
    orientations), and ``api`` is the app that does, as each member of the staff."""

    process: WorkerProcess
    settings: Settings
    api: ApiClients


@asynccontextmanager
async def worker_on_its_queue(
    partners: PartnerStack, staff: Staff, tmp_path: Path
) -> AsyncIterator[WorkerOnItsQueue]:
    queue = f"resilience-{uuid.uuid4().hex[:8]}"
    process = WorkerProcess(partners.settings, queue, tmp_path / "worker.log")
    settings = partners.settings.model_copy(update={"task_queue": queue})
    try:
        process.start()
        async with (
            served(create_app(settings, temporal=partners.client)) as http,
            api_clients(str(http.base_url), staff) as api,
        ):
            yield WorkerOnItsQueue(process, settings, api)
    finally:
        process.stop()


def spawn_parcours(command: str, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``parcours <command>`` in a session of its own (a test kills it, not the test run), its
    output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", command],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
