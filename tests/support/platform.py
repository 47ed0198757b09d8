"""The platform as production runs it, for fault tests: a Temporal dev server on its own SQLite
file, ``parcours worker`` and ``parcours api`` in processes of their own, each of which can be
killed (``kill -9``) and started again (the server on the same file and port), and what the
journeys' workflows and their read model say, compared."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from cli.temporal_server import dev_server_command
from parcours.core.settings import ROOT, Settings
from parcours.journey.messages import JourneyTimeline, journey_workflow_id
from parcours.journey.models import JourneyEventRecord, JourneyRecord
from tests.support.servers import free_port


@dataclass
class Platform:
    """Temporal, one worker and one API, all started by ``start``; stopped by ``stop``."""

    settings: Settings
    workdir: Path
    temporal_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    task_queue: str = field(default_factory=lambda: f"faults-{uuid.uuid4().hex[:8]}")
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    # Killed on purpose and not started again yet: waited for, not reported as a crash.
    killed: set[str] = field(default_factory=set)

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.settings.database_url,
            "PARCOURS_ENVIRONMENT": "test",
            "PARCOURS_SECRET_KEY": "test-secret-key",
            "PARCOURS_TEMPORAL_ADDRESS": self.temporal_address,
            "PARCOURS_TASK_QUEUE": self.task_queue,
            "PARCOURS_API_HOST": "127.0.0.1",
            "PARCOURS_API_PORT": str(self.api_port),
            "PARCOURS_WORKER_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
            "PARCOURS_PARTNERS_BASE_URL": self.settings.partners_base_url,
            "PARCOURS_PARTNER_CALLBACK_SECRET": self.settings.partner_callback_secret,
            "PARCOURS_WORKFLOW_SANDBOX_EVERYWHERE": "true",
            "PARCOURS_LOG_FORMAT": "console",
            **self.extra_env,
        }

    def _command(self, name: str) -> list[str]:
        if name == "temporal":
            server = dev_server_command(self.workdir / "temporal.db", self.temporal_port)
            # The UI's port is not needed: one less port to find free.
            return [*server, "--headless"]
        return [sys.executable, "-m", "cli.main", name]

    def launch(self, name: str) -> None:
        """Start ``temporal``, ``worker`` or ``api`` (again)."""
        self.killed.discard(name)
        with (self.workdir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                self._command(name),
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self, name: str) -> None:
        """``kill -9``: no graceful shutdown, nothing finished or reported."""
        process = self.processes[name]
        self.killed.add(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")[-4000:]

    async def start(self) -> None:
        # The dev server binds more ports than the one it is given (its services' own): one of
        # them may be taken by another process meanwhile, and it then stops at once. Started
        # again on another port, as many times as it takes (never once the test has begun).
        for attempt in range(1, 4):
            self.launch("temporal")
            try:
                await self.wait_for_temporal()
                break
            except AssertionError:
                if attempt == 3 or self.processes["temporal"].poll() is None:
                    raise
                self.temporal_port = free_port()
        self.launch("worker")
        self.launch("api")
        await self.wait_for_api()

    async def wait_for_temporal(self) -> None:
        await self.client()

    async def client(self) -> Client:
        async with asyncio.timeout(60):
            while True:
                try:
                    return await Client.connect(
                        self.temporal_address, data_converter=pydantic_data_converter
                    )
                except RuntimeError:
                    self._alive("temporal")
                    await asyncio.sleep(0.2)

    async def wait_for_api(self) -> None:
        async with httpx.AsyncClient(base_url=self.api_url) as http, asyncio.timeout(60):
            while True:
                self._alive("api")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)

    def _alive(self, name: str) -> None:
        """Fail at once when a process died on its own; one the test killed (another task
        looks meanwhile: the phantom watch) is waited for until it is started again."""
        process = self.processes[name]
        if process.poll() is not None and name not in self.killed:
            raise AssertionError(f"{name} stopped ({process.returncode}):\n{self.log(name)}")

    def stop(self) -> None:
        for name in ("api", "worker", "temporal"):
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


async def disagreements(
    client: Client, sessions: async_sessionmaker[AsyncSession], beneficiary_ids: list[str]
) -> list[str]:
    """Where a journey's read model says something its workflow did not record: the row's
    seq, step or paused flag differs, or an event differs, is missing, or is one the workflow
    does not have. Empty when they all agree."""
    found: list[str] = []
    for beneficiary_id in beneficiary_ids:
        handle = client.get_workflow_handle(journey_workflow_id(beneficiary_id))
        try:
            truth = await handle.query("timeline", result_type=JourneyTimeline)
        except RPCError as error:
            found.append(f"{beneficiary_id}: workflow not answering ({error})")
            continue
        async with sessions() as session:
            row = await session.get(JourneyRecord, beneficiary_id)
            events = (
                await session.execute(
                    select(
                        JourneyEventRecord.seq,
                        JourneyEventRecord.kind,
                        JourneyEventRecord.occurred_at,
                    ).where(JourneyEventRecord.beneficiary_id == beneficiary_id)
                )
            ).all()
        state = truth.state
        if row is None:
            found.append(f"{beneficiary_id}: no read model")
            continue
        seen = (row.seq, row.step, row.paused)
        held = (state.seq, state.step.value, state.paused)
        if seen != held:
            found.append(f"{beneficiary_id}: row (seq, step, paused) {seen} != workflow {held}")
        ours = {
            seq: (event.kind, event.occurred_at)
            for seq, event in enumerate(truth.events, start=truth.first_seq)
        }
        sql = {seq: (kind, at) for seq, kind, at in events}
        extra = sorted(seq for seq in sql if seq > state.seq)
        if extra:
            found.append(f"{beneficiary_id}: events the workflow never recorded {extra}")
        differing = sorted(s for s in ours if s in sql and sql[s] != ours[s])
        missing = sorted(s for s in ours if s not in sql)
        if differing or missing:
            found.append(f"{beneficiary_id}: events differ {differing}, missing {missing}")
    return found


async def until(check: Callable[[], Awaitable[Any]], *, timeout_s: float = 60) -> Any:
    """``check()``'s value once it is true (fails after ``timeout_s``)."""
    async with asyncio.timeout(timeout_s):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(0.2)


async def write_pending(client: Client, workflow_ids: list[str]) -> bool:
    """Whether one of these workflows has a change the engine recorded and SQL has not: its
    write to the read model (a ``record_…`` activity) is pending."""
    for workflow_id in workflow_ids:
        described = await client.get_workflow_handle(workflow_id).describe()
        pending = described.raw_description.pending_activities
        if any(a.activity_type.name.startswith("record_") for a in pending):
            return True
    return False


async def agreement(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    beneficiary_ids: list[str],
    *,
    timeout_s: float = 180,
) -> float:
    """Seconds until every journey's read model agrees with its workflow (fails with what
    still differs after ``timeout_s``)."""
    began = time.monotonic()
    last: list[str] = []
    while time.monotonic() - began < timeout_s:
        last = await disagreements(client, sessions, beneficiary_ids)
        if not last:
            return time.monotonic() - began
        await asyncio.sleep(0.5)
    raise AssertionError("read model and workflows still disagree:\n" + "\n".join(last))


@dataclass
class Clients:
    """People acting on journeys through the API while faults happen: each pauses and resumes
    its journey over and over, sending an action again under the same Idempotency-Key when
    its answer is lost, as a careful client does."""

    api_url: str
    headers: dict[str, str]
    journeys: list[str]
    answers: dict[int, int] = field(default_factory=dict)
    running: bool = True

    async def act(self, http: httpx.AsyncClient, beneficiary_id: str, action: str) -> None:
        key = uuid.uuid4().hex
        for _ in range(60):
            try:
                response = await http.post(
                    f"/api/v1/journeys/{beneficiary_id}/actions/{action}",
                    json={},
                    headers={**self.headers, "Idempotency-Key": key},
                    timeout=30,
                )
            except httpx.TransportError:
                response = None
            status = response.status_code if response is not None else 0
            self.answers[status] = self.answers.get(status, 0) + 1
            if status in (200, 409):
                return
            await asyncio.sleep(0.5)

    async def loop(self, beneficiary_id: str) -> None:
        async with httpx.AsyncClient(base_url=self.api_url) as http:
            while self.running:
                await self.act(http, beneficiary_id, "pause")
                await self.act(http, beneficiary_id, "resume")

    async def during(self, fault: Callable[[], Awaitable[Any]]) -> Any:
        """Run the clients, let ``fault`` happen while they act, then stop them."""
        tasks = [asyncio.create_task(self.loop(j)) for j in self.journeys]
        try:
            await asyncio.sleep(1.5)
            result = await fault()
            await asyncio.sleep(3)
        finally:
            self.running = False
            await asyncio.gather(*tasks, return_exceptions=True)
        return result


class WritesHeld:
    """Every write to the app's database waits while this is held (a reader goes on): a
    transition the engine recorded stays unwritten, as when its write is in flight."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._release: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> WritesHeld:
        held = asyncio.Event()
        self._release = asyncio.Event()
        self._task = asyncio.create_task(self._hold(held, self._release))
        await held.wait()
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._release is not None and self._task is not None
        self._release.set()
        await self._task

    async def _hold(self, held: asyncio.Event, release: asyncio.Event) -> None:
        if self.database_url.startswith("sqlite"):
            import sqlite3

            path = self.database_url.split("///", 1)[1]
            connection = sqlite3.connect(path, timeout=30, isolation_level=None)
            connection.execute("BEGIN IMMEDIATE")  # SQLite's one writer: this one
            held.set()
            await release.wait()
            connection.execute("ROLLBACK")
            connection.close()
            return
        import asyncpg

        url = self.database_url.replace("postgresql+asyncpg", "postgresql")
        connection = await asyncpg.connect(url)
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute(
            "LOCK TABLE journeys, journey_events, training_requests IN EXCLUSIVE MODE"
        )
        held.set()
        await release.wait()
        await transaction.rollback()
        await connection.close()


@dataclass
class PhantomWatch:
    """Looks, over and over while faults happen, for what the pages must never show: an event
    in the read model that the journey's workflow did not record (a row or an event ahead of
    the workflow, or different from its event at that number). A read model behind the
    workflow is allowed: it catches up."""

    client_of: Callable[[], Awaitable[Client]]
    sessions: async_sessionmaker[AsyncSession]
    journeys: list[str]
    seen: list[str] = field(default_factory=list)
    looks: int = 0
    _running: bool = True

    async def run(self) -> None:
        client: Client | None = None
        while self._running:
            try:
                client = client or await self.client_of()
                for beneficiary_id in self.journeys:
                    await self._look(client, beneficiary_id)
                self.looks += 1
            except (RPCError, RuntimeError, TimeoutError):
                client = None  # the engine is down: look again once it is back
            await asyncio.sleep(0.05)

    async def _look(self, client: Client, beneficiary_id: str) -> None:
        # SQL first, then the workflow: the workflow only moves forward meanwhile, so what
        # SQL holds beyond it was never recorded.
        async with self.sessions() as session:
            row = await session.get(JourneyRecord, beneficiary_id)
            events = (
                await session.execute(
                    select(
                        JourneyEventRecord.seq,
                        JourneyEventRecord.kind,
                        JourneyEventRecord.occurred_at,
                    ).where(JourneyEventRecord.beneficiary_id == beneficiary_id)
                )
            ).all()
        handle = client.get_workflow_handle(journey_workflow_id(beneficiary_id))
        async with asyncio.timeout(5):
            truth = await handle.query("timeline", result_type=JourneyTimeline)
        ours = {
            seq: (event.kind, event.occurred_at)
            for seq, event in enumerate(truth.events, start=truth.first_seq)
        }
        if row is not None and row.seq > truth.state.seq:
            self.seen.append(
                f"{beneficiary_id}: row at seq {row.seq}, workflow at {truth.state.seq}"
            )
        for seq, kind, at in events:
            if seq > truth.state.seq or (seq in ours and ours[seq] != (kind, at)):
                self.seen.append(f"{beneficiary_id}: event {seq} {kind} never recorded")

    async def looked(self, times: int) -> None:
        """Until the watch has looked at every journey ``times`` more times."""
        target = self.looks + times
        async with asyncio.timeout(60):
            while self.looks < target:
                await asyncio.sleep(0.05)

    async def __aenter__(self) -> PhantomWatch:
        self._task = asyncio.create_task(self.run())
        return self

    async def __aexit__(self, *_: object) -> None:
        self._running = False
        await self._task
