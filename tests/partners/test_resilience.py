"""A worker killed (``kill -9``) in the middle of partner work, as production runs it
(``python -m cli.main worker`` in its own process): another worker takes over and the work is
done once — nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.carnet.models import Beneficiary
from parcours.core.db import transaction
from parcours.core.settings import ROOT, Settings
from parcours.partners.caf_import import CafImportService
from parcours.partners.messages import CafImportProgress, caf_import_workflow_id
from parcours.partners.models import CafFeedLine
from tests.support.caf_feed import feed_file, journeys_reach, people_with
from tests.support.partners import PartnerStack, add_person, orientation
from tests.support.servers import free_port

pytestmark = pytest.mark.resilience


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
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "worker"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

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


@asynccontextmanager
async def worker_process(
    partners: PartnerStack, tmp_path: Path
) -> AsyncIterator[tuple[WorkerProcess, Settings]]:
    queue = f"resilience-{uuid.uuid4().hex[:8]}"
    process = WorkerProcess(partners.settings, queue, tmp_path / "worker.log")
    try:
        yield process, partners.settings.model_copy(update={"task_queue": queue})
    finally:
        process.stop()


async def until(check: Callable[[], Any], what: str, process: WorkerProcess) -> Any:
    async with asyncio.timeout(60):
        while True:
            if not process.alive():
                raise AssertionError(
                    f"worker stopped before {what}:\n{process.log.read_text()[-3000:]}"
                )
            value = await check()
            if value:
                return value
            await asyncio.sleep(0.05)


async def test_a_worker_killed_during_a_partner_call_sends_it_once(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    person_id = await add_person(sessions, consents=("france_travail",))
    # France Travail records the orientation, then holds its answer for 15 s.
    await partners.switches("france-travail", timeout_next=1, hold_ms=15_000)
    async with worker_process(partners, tmp_path) as (worker, worker_settings):
        worker.start()
        handle = await partners.probe(
            "notify_france_travail_orientation",
            orientation(person_id),
            "orientation-1",
            activity_task_queue=worker_settings.task_queue,
        )

        async def received() -> list[Any]:
            return list((await partners.state("france-travail"))["orientations"])

        (first,) = await until(received, "France Travail received the orientation", worker)
        worker.kill()
        worker.start()  # another worker, as after a crash
        receipt = await asyncio.wait_for(handle.result(), timeout=60)

    state = await partners.state("france-travail")
    assert receipt == {"reference": first["reference"], "replayed": True}
    assert [o["reference"] for o in state["orientations"]] == [first["reference"]]
    assert state["orientations_by_key"][f"{handle.id}:orientation-1"]["attempts"] == 2


async def test_a_worker_killed_during_a_caf_import_leaves_nothing_lost_nothing_doubled(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path, expected = feed_file(tmp_path, 200, malformed=10)
    async with worker_process(partners, tmp_path) as (worker, worker_settings):
        async with transaction(sessions) as session:
            service = CafImportService(session, partners.client, worker_settings)
            file_id, _ = await service.store(path.name, path.read_bytes())
        worker.start()
        async with transaction(sessions) as session:
            await CafImportService(session, partners.client, worker_settings).start(file_id)

        async def applied() -> int:
            async with sessions() as session:
                done = await session.scalar(
                    select(func.count())
                    .select_from(CafFeedLine)
                    .where(CafFeedLine.file_id == file_id, CafFeedLine.outcome.is_not(None))
                )
                return int(done or 0) if (done or 0) >= 30 else 0

        halfway = await until(applied, "30 lines were applied", worker)
        worker.kill()
        assert halfway < 200
        worker.start()
        handle = partners.client.get_workflow_handle(
            caf_import_workflow_id(file_id), result_type=CafImportProgress
        )
        result = await asyncio.wait_for(handle.result(), timeout=120)

        assert result.counts.processed == 200
        assert (result.counts.created, result.counts.signalled, result.counts.rejected) == (
            expected.count("created"),
            expected.count("signalled"),
            expected.count("rejected"),
        )
        people = await people_with(sessions, list(expected.final_status))
        assert {caf: len(found) for caf, found in people.items() if len(found) != 1} == {}
        assert await journeys_reach(sessions, expected.final_status) == {
            caf: status.value for caf, status in expected.final_status.items()
        }
    async with sessions() as session:
        enrolled = await session.scalar(
            select(func.count())
            .select_from(Beneficiary)
            .where(Beneficiary.caf_number.in_(list(expected.final_status)))
        )
    assert enrolled == expected.count("created")
    # Nor a second journey: every journey started on that queue belongs to someone.
    query = f"WorkflowType = 'Journey' AND TaskQueue = '{worker_settings.task_queue}'"
    for _ in range(50):  # visibility lags a little behind
        journeys = [execution.id async for execution in partners.client.list_workflows(query)]
        if len(journeys) >= enrolled:
            break
        await asyncio.sleep(0.2)
    async with sessions() as session:
        orphans = [
            workflow_id
            for workflow_id in journeys
            if await session.get(Beneficiary, workflow_id.removeprefix("journey-")) is None
        ]
    # A journey started by an attempt the kill interrupted is adopted by the retry.
    assert orphans == []
    assert len(journeys) == enrolled
