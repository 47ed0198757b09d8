"""The platform as the benchmark runs it, all its own: a Temporal dev server on a fresh SQLite
file (WAL pragmas, search attributes: ``dev_server_command``), a migrated app database with a
structure, its référent and a chargée d'orientation (API tokens), the platform's worker and API
as production runs them (``parcours worker``, ``parcours api``), and the bare journey's worker.
Every process is stopped on the way out, whatever happened."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from alembic import command
from alembic.config import Config
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from api.metrics import MULTIPROCESS_DIR_ENV
from cli.temporal_server import dev_server_command
from parcours.access.models import Structure, User
from parcours.access.service import AccountService
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.settings import ROOT, Settings

RAW_TASK_QUEUE = "bench-raw"
PLATFORM_TASK_QUEUE = "bench-journeys"


# The API's routes, as ``Stack.metrics`` groups them.
ROUTE_KINDS = {
    'route="/api/v1/beneficiaries"': "enrol",
    "/actions/": "action",
    'route="/api/v1/journeys/{beneficiary_id}"': "read",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Staff:
    """Who the benchmark acts as: a référent of a structure, and the chargée d'orientation
    who decides orientations; each with an API token."""

    structure_id: str
    referent_id: str
    referent_token: str
    orientation_token: str


@dataclass
class Stack:
    """What ``start`` brought up; ``stop`` is synchronous so it also runs after Ctrl-C."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="parcours-bench-")))
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    database_url: str = ""
    temporal_address: str = ""
    api_urls: dict[str, str] = field(default_factory=dict)
    metrics_urls: dict[str, str] = field(default_factory=dict)
    commands: dict[str, tuple[list[str], Mapping[str, str]]] = field(default_factory=dict)
    apis: int = 1

    def _spawn(self, name: str, command: list[str], env: Mapping[str, str]) -> None:
        self.commands[name] = (command, env)
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 (the child owns it)
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            # Out of the terminal's process group: Ctrl-C reaches the benchmark only, which
            # stops its children in order (API and workers before the server they talk to).
            start_new_session=True,
        )
        log.close()
        self.processes.append((name, process))

    def _check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} stopped (code {process.returncode}):\n{tail}")

    async def start(
        self, variants: Mapping[str, Mapping[str, str]] | None = None, apis: int = 1
    ) -> Staff:
        """The server, the database, the bare worker and the platform; ``variants`` adds
        platforms (worker + API) named ``platform@…`` whose environment differs, to compare
        a change with the code as it is in the same run. ``apis``: API processes per
        platform, on one port (``parcours api --shared-port``) as ``make run-scaled`` runs
        them."""
        self.apis = apis
        self.database_url = os.environ.get("DATABASE_URL") or (
            f"sqlite+aiosqlite:///{self.workdir / 'parcours.db'}"
        )
        port = free_port()
        self.temporal_address = f"127.0.0.1:{port}"
        server = dev_server_command(self.workdir / "temporal.db", port, free_port())
        self._spawn("temporal", [*server, "--headless"], {})
        staff = await self._prepare_database()
        await self._wait_for_temporal()

        raw_metrics = f"127.0.0.1:{free_port()}"
        self.metrics_urls["raw-worker"] = f"http://{raw_metrics}/metrics"
        raw_worker = ["--task-queue", RAW_TASK_QUEUE, "--address", self.temporal_address]
        raw_worker += ["--metrics-address", raw_metrics]
        self._spawn("raw-worker", [sys.executable, "-m", "bench.raw", *raw_worker], {})
        for name, env in {"platform": {}, **(variants or {})}.items():
            self._start_platform(name, env)
        for url in self.api_urls.values():
            await self._wait_for_api(url)
        return staff

    def _start_platform(self, name: str, extra_env: Mapping[str, str]) -> None:
        """``parcours worker`` and ``parcours api`` on their own task queue and ports."""
        suffix = name.removeprefix("platform")
        worker_metrics = f"127.0.0.1:{free_port()}"
        api_port = free_port()
        self.api_urls[name] = f"http://127.0.0.1:{api_port}"
        self.metrics_urls[f"worker{suffix}"] = f"http://{worker_metrics}/metrics"
        self.metrics_urls[f"api{suffix}"] = f"{self.api_urls[name]}/metrics"
        env = {
            "DATABASE_URL": self.database_url,
            "PARCOURS_TEMPORAL_ADDRESS": self.temporal_address,
            "PARCOURS_TASK_QUEUE": f"{PLATFORM_TASK_QUEUE}{suffix}",
            "PARCOURS_LOG_FORMAT": "console",
            "PARCOURS_WORKER_METRICS_ADDRESS": worker_metrics,
            "PARCOURS_API_HOST": "127.0.0.1",
            "PARCOURS_API_PORT": str(api_port),
            **extra_env,
        }
        self._spawn(f"worker{suffix}", [sys.executable, "-m", "cli.main", "worker"], env)
        if self.apis == 1:
            self._spawn(f"api{suffix}", [sys.executable, "-m", "cli.main", "api"], env)
            return
        # Several processes on the port: their /metrics add up every one's counters.
        counters = self.workdir / f"api-metrics{suffix}"
        counters.mkdir()
        shared = [sys.executable, "-m", "cli.main", "api", "--shared-port"]
        for n in range(1, self.apis + 1):
            name = f"api{suffix}" if n == 1 else f"api{suffix}#{n}"
            self._spawn(name, shared, {**env, MULTIPROCESS_DIR_ENV: str(counters)})

    async def restart(self, name: str) -> None:
        """Stops the process ``name`` (SIGTERM, as production stops it) and starts it again,
        its memory empty; waits for an API to answer again."""
        (process,) = (p for n, p in self.processes if n == name)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        self.processes = [(n, p) for n, p in self.processes if p is not process]
        self._spawn(name, *self.commands[name])
        for api, url in self.api_urls.items():
            if name == f"api{api.removeprefix('platform')}":
                await self._wait_for_api(url)

    async def _prepare_database(self) -> Staff:
        config = Config(str(ROOT / "alembic.ini"))
        config.attributes["database_url"] = self.database_url
        await asyncio.to_thread(command.upgrade, config, "head")  # env.py runs its own loop
        engine = create_engine(self.database_url)
        suffix = uuid.uuid4().hex[:8]
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                structure = Structure(name=f"CCAS banc {suffix}", kind="ccas", territory="73")
                session.add(structure)
                await session.flush()
                referent, orientation = (
                    User(
                        email=f"{role}-{suffix}@bench.parcours.fr",
                        full_name=f"{role.title()} Banc",
                        role=role,
                        structure_id=structure.id,
                        territory="73",
                    )
                    for role in ("referent", "orientation")
                )
                session.add_all([referent, orientation])
                await session.flush()
                accounts = AccountService(session, Settings(database_url=self.database_url))
                tokens = [
                    await accounts.create_api_token(user, "benchmark")
                    for user in (referent, orientation)
                ]
        finally:
            await engine.dispose()
        return Staff(structure.id, referent.id, *tokens)

    async def _wait_for_temporal(self) -> None:
        async with asyncio.timeout(60):
            while True:
                self._check_alive()
                try:
                    client = await Client.connect(self.temporal_address)
                    await client.service_client.check_health()
                    return
                except (RuntimeError, RPCError):  # not listening yet, or not ready
                    await asyncio.sleep(0.2)

    async def _wait_for_api(self, url: str) -> None:
        async with asyncio.timeout(60), httpx.AsyncClient(base_url=url, timeout=5) as http:
            while True:
                self._check_alive()
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each process, this one included (Linux ``/proc``)."""
        tick = os.sysconf("SC_CLK_TCK")
        used = {"bench": sum(os.times()[:2])}
        for name, process in self.processes:
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # utime, stime, cutime, cstime: fields 14-17 of stat(5), here after the name.
            used[name] = sum(int(v) for v in fields[11:15]) / tick
        return used

    async def metrics(self, http: httpx.AsyncClient) -> dict[str, float]:
        """Prometheus sums and counts of the workers and the API, added over their labels
        (the API's routes grouped as enrol / action / read), keyed ``process:metric``."""
        totals: dict[str, float] = {}
        for name, url in self.metrics_urls.items():
            text = (await http.get(url)).text
            for line in text.splitlines():
                if line.startswith("#") or not line.endswith(tuple("0123456789.")):
                    continue
                series, _, value = line.rpartition(" ")
                metric, _, labels = series.partition("{")
                if not metric.endswith(("_sum", "_count")):
                    continue
                if metric.startswith("parcours_http_request_seconds"):
                    route = next((r for r in ROUTE_KINDS if r in labels), None)
                    if route is None:
                        continue
                    metric = f"{ROUTE_KINDS[route]}_{metric.rsplit('_', 1)[1]}"
                key = f"{name}:{metric}"
                totals[key] = totals.get(key, 0.0) + float(value)
        return totals

    async def client(self) -> Client:
        return await Client.connect(self.temporal_address, data_converter=pydantic_data_converter)

    def stop(self, keep: bool = False) -> None:
        """The API and the workers first, then the server they drain their work to; the
        working directory (databases and logs) goes too unless ``keep``."""
        clients = [p for name, p in self.processes if name != "temporal"]
        servers = [p for name, p in self.processes if name == "temporal"]
        for group in (clients, servers):
            for process in group:
                if process.poll() is None:
                    # SIGTERM, not SIGINT: a child of a background job inherits SIGINT ignored.
                    process.send_signal(signal.SIGTERM)
            for process in group:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
