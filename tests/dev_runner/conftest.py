"""``parcours dev`` as a developer runs it (``python -m cli.main dev --no-seed``, its own process
group), all its own: a temporary var directory and free ports for every part (Temporal and its
UI, the simulators, the worker's metrics, the API), so the real ``var/`` and the default ports
are never touched. Helpers find its components as a developer would (``ps``: the supervisor's
children and their command lines), ``kill -9`` them and wait — with a generous deadline, never
a timing assertion — for what comes back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from parcours.core.settings import ROOT
from tests.conftest import free_port

T = TypeVar("T")

# The command line that tells each component apart among the supervisor's children.
COMPONENTS = {
    "temporal": "server start-dev",
    "simulators": "cli.main simulators",
    "worker": "cli.main worker",
    "api": "cli.main api",
}
# Long enough for a loaded machine (two cores, other test runs): only a failure waits it out.
PATIENCE_S = 180.0
READY = "Parcours est prêt"


async def until(check: Callable[[], Awaitable[T | None]], what: str, run: DevRun) -> T:
    """The first truthy value of ``check``; fails with the run's output if the supervisor
    stopped or ``what`` did not happen within ``PATIENCE_S``."""
    try:
        async with asyncio.timeout(PATIENCE_S):
            while True:
                if run.process.poll() is not None:
                    raise AssertionError(f"parcours dev stopped before {what}:\n{run.tail()}")
                value = await check()
                if value:
                    return value
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"{what}: not within {PATIENCE_S:.0f} s\n{run.tail()}") from None


async def answers(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


def children_of(pid: int) -> list[int]:
    """The process's children (``/proc``, as ``ps`` shows them)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


@dataclass
class DevRun:
    """A running ``parcours dev``: its process, its terminal's output, its settings."""

    process: subprocess.Popen[bytes]
    output: Path
    env: dict[str, str]

    def setting(self, name: str) -> str:
        return self.env[name]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['PARCOURS_API_PORT']}"

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    def port(self, component: str) -> int:
        return {
            "temporal": int(self.env["PARCOURS_TEMPORAL_ADDRESS"].rpartition(":")[2]),
            "simulators": int(self.env["PARCOURS_SIMULATORS_PORT"]),
            "worker": int(self.env["PARCOURS_WORKER_METRICS_ADDRESS"].rpartition(":")[2]),
            "api": int(self.env["PARCOURS_API_PORT"]),
        }[component]

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def tail(self) -> str:
        return self.text()[-5000:]

    def children(self) -> dict[str, int]:
        """The supervisor's children by component (``/proc``, as ``ps`` shows them)."""
        return {name: pids[-1] for name, pids in self.processes().items()}

    def processes(self) -> dict[str, list[int]]:
        """Every process of each component (``parcours dev --workers 2`` has two workers)."""
        found: dict[str, list[int]] = {}
        for pid in children_of(self.process.pid):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            for name, mark in COMPONENTS.items():
                if mark.encode() in command:
                    found.setdefault(name, []).append(pid)
        return found

    def kill(self, component: str) -> int:
        """``kill -9`` the component; its pid."""
        pid = self.children()[component]
        os.kill(pid, signal.SIGKILL)
        return pid

    async def back(self, component: str, killed: int) -> int:
        """Wait until another process runs ``component`` and its port answers; its pid."""

        async def restarted() -> int | None:
            pid = self.children().get(component)
            if pid is None or pid == killed:
                return None
            return pid if await answers("127.0.0.1", self.port(component)) else None

        return await until(restarted, f"the {component} back on its port", self)

    async def healthy(self) -> None:
        """The API's ``/healthz`` answers 200 (its database and Temporal answer it)."""

        async def ok() -> bool:
            try:
                async with httpx.AsyncClient(timeout=10) as http:
                    return (await http.get(f"{self.api_url}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await until(ok, "/healthz answering 200", self)

    def terminate(self, timeout: float = 90) -> int:
        """SIGTERM, as a supervisor (or Ctrl-C) would; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            left = self.children().values()
            self.process.kill()
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            self.process.wait()
            raise


def dev_env(workdir: Path) -> dict[str, str]:
    """Settings that put every file in ``workdir`` and every part on a free port."""
    api_port, simulators_port = free_port(), free_port()
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PARCOURS_VAR_DIR": str(workdir / "var"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'var' / 'parcours.db'}",
        "PARCOURS_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "PARCOURS_TEMPORAL_UI_URL": f"http://127.0.0.1:{free_port()}",
        "PARCOURS_API_HOST": "127.0.0.1",
        "PARCOURS_API_PORT": str(api_port),
        "PARCOURS_PUBLIC_API_URL": f"http://127.0.0.1:{api_port}",
        "PARCOURS_PUBLIC_APP_URL": f"http://127.0.0.1:{api_port}",
        "PARCOURS_SIMULATORS_HOST": "127.0.0.1",
        "PARCOURS_SIMULATORS_PORT": str(simulators_port),
        "PARCOURS_MAILBOX_SMTP_PORT": str(free_port()),
        "PARCOURS_PARTNERS_BASE_URL": f"http://127.0.0.1:{simulators_port}",
        "PARCOURS_WORKER_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
        "PARCOURS_LOG_FORMAT": "console",
    }


def launch(workdir: Path, *args: str, **env: str) -> DevRun:
    """``parcours dev --no-seed`` (and ``args``) started in ``workdir``, its own process
    group."""
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir / "terminal.log"
    environment = {**dev_env(workdir), **env}
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "dev", "--no-seed", *args],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return DevRun(process, output, environment)


@asynccontextmanager
async def dev_run(
    workdir: Path, *args: str, wait_ready: bool = True, **env: str
) -> AsyncIterator[DevRun]:
    """``parcours dev --no-seed`` (and ``args``) in ``workdir``, ready (unless told not to
    wait); stopped on the way out, whatever happened."""
    run = launch(workdir, *args, **env)
    try:
        if wait_ready:

            async def ready() -> bool:
                return READY in run.text()

            await until(ready, "the platform ready", run)
        yield run
    finally:
        await asyncio.to_thread(run.terminate)


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevRun]:
    async with dev_run(tmp_path_factory.mktemp("dev-run")) as run:
        yield run
