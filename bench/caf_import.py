"""``make bench`` (CAF part): a 10,000-line CAF feed imported through the real platform.

Self-contained: a Temporal dev server on a fresh SQLite file, a migrated app database (a fresh
SQLite file, or ``DATABASE_URL`` — point it at a scratch database), the platform's worker as
production runs it (``python -m cli.main worker``), then ``python -m cli.main import-caf FILE``
on a generated feed (``simulators.caf_feed.write_feed_file``, some lines deliberately broken).
Everything it started is stopped on the way out.

Its anchor, in the same run: the same feed's mix of starts and signals sent by a bare client
(``bench.raw.BareFeedJourney`` on its own worker, ``python -m bench.raw``): a start for each
line the import ``created``, a signal for each it ``signalled`` — in the file's order for each
person, as many people in flight as the platform's import (``caf_import_concurrency``).

Then the same bare feed again, its journeys recording each change with an ordinary activity,
run once the engine has recorded it, as the ``Journey`` writes its read model
(``caf_import_raw_recorded_lines_per_s``, ``caf_import_ratio_recorded``).

The bare client starts once the engine is quiet again (the platform's journeys may still be
asking France Travail after the import ends): its figure is the engine's, not what the
platform left running. ``--postgres`` runs the platform on a fresh PostgreSQL database
(``parcours_bench_caf``) and prints each figure as ``postgres_…`` (``make bench`` runs both).

Figures go to stdout as ``key=value`` lines (``caf_import_lines_per_s``: data lines over the
command's wall time, storing the file included; ``caf_import_raw_lines_per_s``: the same lines
over the bare client's time; ``caf_import_ratio``: the first over the second;
``caf_import_peak_rss_mib``: the worker's peak resident memory, where the import runs;
``caf_store_peak_mib``: what storing a file of as many lines allocates at most, and
``caf_store_peak_mib_x10`` for one ten times longer — read chunk by chunk, the same); progress
goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NoReturn

from alembic import command
from alembic.config import Config
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.journeys import fresh_postgres
from bench.raw import BareFeedInput, BareFeedJourney, BareRightsChanged
from cli.temporal_server import dev_server_command
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.settings import ROOT, Settings
from parcours.journey.models import JourneyRecord
from parcours.partners.caf_import import CafImportService
from parcours.partners.models import CafFeedFile, CafFeedLine
from simulators.caf_feed import write_feed_file

TASK_QUEUE = "bench-caf-import"
RAW_TASK_QUEUE = "bench-caf-raw"
POSTGRES_DATABASE = "parcours_bench_caf"
# The engine is quiet when its server uses less than this share of a core over a second.
QUIET_CPU = 0.1
QUIET_WAIT_S = 120
# Storing the file is measured for it and for a file this many times longer.
STORE_SCALE = 10


def progress(message: str) -> None:
    print(f"[bench caf] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user and system), from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def engine_quiet(pid: int) -> float:
    """Wait until the Temporal server is quiet (``QUIET_CPU``), at most ``QUIET_WAIT_S``; the
    seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < QUIET_WAIT_S:
        before = cpu_seconds(pid)
        await asyncio.sleep(1)
        if cpu_seconds(pid) - before < QUIET_CPU:
            break
    return time.perf_counter() - started


def peak_rss_mib(pid: int) -> float | None:
    """The process's peak resident set size so far (Linux ``VmHWM``)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Platform:
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="parcours-caf-")))
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    database_url: str = ""
    temporal_address: str = ""
    partners_url: str = ""

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the bench, which stops them in order
            )
        self.processes.append((name, process))
        return process

    def tail(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]

    def check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None and name != "import":
                raise RuntimeError(
                    f"{name} stopped (code {process.returncode}):\n{self.tail(name)}"
                )

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "PARCOURS_TEMPORAL_ADDRESS": self.temporal_address,
            "PARCOURS_TASK_QUEUE": TASK_QUEUE,
            "PARCOURS_LOG_FORMAT": "console",
            "PARCOURS_LOG_LEVEL": "WARNING",
            "PARCOURS_WORKER_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
            # The partners the journeys call (a right opened over 6 weeks ago goes to France
            # Travail at once): without them each call would retry for the whole run.
            "PARCOURS_PARTNERS_BASE_URL": self.partners_url,
        }

    async def start(self) -> None:
        self.database_url = os.environ.get("DATABASE_URL") or (
            f"sqlite+aiosqlite:///{self.workdir / 'parcours.db'}"
        )
        port = free_port()
        self.temporal_address = f"127.0.0.1:{port}"
        server = dev_server_command(self.workdir / "temporal.db", port, free_port())
        self.spawn("temporal", [*server, "--headless"], dict(os.environ))
        config = Config(str(ROOT / "alembic.ini"))
        config.attributes["database_url"] = self.database_url
        await asyncio.to_thread(command.upgrade, config, "head")  # env.py runs its own loop
        async with asyncio.timeout(60):
            while True:
                self.check_alive()
                try:
                    client = await Client.connect(self.temporal_address)
                    await client.service_client.check_health()
                    break
                except RuntimeError:
                    await asyncio.sleep(0.2)
        simulators_port = free_port()
        self.partners_url = f"http://127.0.0.1:{simulators_port}"
        simulators = {
            **self.env(),
            "PARCOURS_SIMULATORS_PORT": str(simulators_port),
            "PARCOURS_MAILBOX_SMTP_PORT": str(free_port()),
            "PARCOURS_MAILBOX_DIR": str(self.workdir / "mail"),
        }
        self.spawn("simulators", [sys.executable, "-m", "cli.main", "simulators"], simulators)
        self.spawn("worker", [sys.executable, "-m", "cli.main", "worker"], self.env())
        raw_worker = ["--address", self.temporal_address, "--task-queue", RAW_TASK_QUEUE]
        raw_worker += ["--metrics-address", f"127.0.0.1:{free_port()}"]
        self.spawn("raw-worker", [sys.executable, "-m", "bench.raw", *raw_worker], self.env())

    def stop(self, keep: bool = False) -> None:
        """Clients first, then the server they drain their work to."""
        for group in (
            [p for name, p in self.processes if name != "temporal"],
            [p for name, p in self.processes if name == "temporal"],
        ):
            for process in group:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in group:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


async def bench(platform: Platform, options: argparse.Namespace) -> dict[str, float]:
    progress("starting Temporal, the database and the worker …")
    await platform.start()
    feed = platform.workdir / "flux-rsa.csv"
    written = write_feed_file(
        feed, options.lines, seed=options.seed, malformed=options.malformed, today=date.today()
    )
    progress(f"{written.lines} lines written ({len(written.malformed)} malformed); importing …")
    worker = next(p for name, p in platform.processes if name == "worker")
    started = time.perf_counter()
    importer = platform.spawn(
        "import", [sys.executable, "-m", "cli.main", "import-caf", str(feed)], platform.env()
    )
    importer_peak = worker_peak = 0.0
    while importer.poll() is None:
        platform.check_alive()
        importer_peak = max(importer_peak, peak_rss_mib(importer.pid) or 0.0)
        worker_peak = max(worker_peak, peak_rss_mib(worker.pid) or 0.0)
        await asyncio.sleep(0.25)
    elapsed = time.perf_counter() - started
    if importer.returncode != 0:
        raise RuntimeError(f"import-caf failed:\n{platform.tail('import')}")
    progress(platform.tail("import").strip().splitlines()[-1])

    engine = create_engine(platform.database_url)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session:
            outcomes = dict(
                (
                    await session.execute(
                        select(CafFeedLine.outcome, func.count()).group_by(CafFeedLine.outcome)
                    )
                ).all()
            )
            stored = await session.scalar(select(func.count()).select_from(CafFeedFile))
            applied = (
                await session.execute(
                    select(CafFeedLine.outcome, CafFeedLine.beneficiary_id)
                    .where(CafFeedLine.outcome.in_(("created", "signalled")))
                    .order_by(CafFeedLine.number)
                )
            ).all()
        assert stored == 1 and sum(outcomes.values()) == options.lines, outcomes
        # The journeys the import started go on writing their read model: until every one has.
        progress(f"imported in {elapsed:.1f} s; waiting for the journeys to settle …")
        async with asyncio.timeout(600):
            while True:
                async with sessions() as session:
                    pending = await session.scalar(
                        select(func.count())
                        .select_from(JourneyRecord)
                        .where(JourneyRecord.seq == 0)
                    )
                if not pending:
                    break
                worker_peak = max(worker_peak, peak_rss_mib(worker.pid) or 0.0)
                await asyncio.sleep(0.5)
        settled = time.perf_counter() - started
    finally:
        await engine.dispose()

    per_person: dict[str, list[str]] = {}
    for outcome, beneficiary_id in applied:
        per_person.setdefault(beneficiary_id or "", []).append(outcome or "")
    concurrency = Settings(database_url=platform.database_url).caf_import_concurrency
    temporal = next(p for name, p in platform.processes if name == "temporal")
    waited = await engine_quiet(temporal.pid)
    progress(f"the engine is quiet after {waited:.1f} s")
    progress(
        f"the bare client: {len(applied)} starts and signals for {len(per_person)} people, "
        f"{concurrency} in flight …"
    )
    raw_elapsed = await send_bare_feed(platform, per_person, concurrency)
    raw_rate = options.lines / raw_elapsed
    waited = await engine_quiet(temporal.pid)
    progress(
        f"the engine is quiet after {waited:.1f} s; the bare client again, each change "
        "recorded by an ordinary activity …"
    )
    recorded_elapsed = await send_bare_feed(platform, per_person, concurrency, recorded=True)
    recorded_rate = options.lines / recorded_elapsed
    stores = {}
    for scale in (1, STORE_SCALE):
        lines = scale * options.lines
        progress(f"storing a file of {lines} lines, its memory traced …")
        stores[scale] = await store_peak_mib(platform, lines, options.seed + scale)
    return {
        "caf_import_lines": options.lines,
        "caf_import_seconds": elapsed,
        "caf_import_lines_per_s": options.lines / elapsed,
        "caf_import_raw_seconds": raw_elapsed,
        "caf_import_raw_lines_per_s": raw_rate,
        "caf_import_ratio": (options.lines / elapsed) / raw_rate,
        # Against the bare feed with the Journey's guarantee (each change written by an
        # activity once the engine has recorded it): what the platform adds to what it costs.
        "caf_import_raw_recorded_lines_per_s": recorded_rate,
        "caf_import_ratio_recorded": (options.lines / elapsed) / recorded_rate,
        "caf_import_created": outcomes.get("created", 0),
        "caf_import_signalled": outcomes.get("signalled", 0),
        "caf_import_unchanged": outcomes.get("unchanged", 0),
        "caf_import_rejected": outcomes.get("rejected", 0),
        "caf_import_journeys_settled_s": settled,
        "caf_import_peak_rss_mib": worker_peak,
        "caf_import_cli_peak_rss_mib": importer_peak,
        # What storing the file allocates at most, for the file and for one STORE_SCALE times
        # longer: read chunk by chunk, it should not grow with the file (growth near 1).
        "caf_store_peak_mib": stores[1],
        f"caf_store_peak_mib_x{STORE_SCALE}": stores[STORE_SCALE],
        "caf_store_peak_growth": stores[STORE_SCALE] / stores[1],
    }


async def store_peak_mib(platform: Platform, lines: int, seed: int) -> float:
    """Store a fresh feed file of ``lines`` lines as ``parcours import-caf`` does (not imported);
    the most memory Python allocated meanwhile, in MiB."""
    path = platform.workdir / f"flux-{lines}.csv"
    write_feed_file(path, lines, seed=seed, today=date.today())
    engine = create_engine(platform.database_url)
    settings = Settings(database_url=platform.database_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            service = CafImportService(
                session, await Client.connect(platform.temporal_address), settings
            )
            with path.open("rb") as source:
                tracemalloc.start()
                try:
                    await service.store(path.name, source)
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
    finally:
        await engine.dispose()
        path.unlink()
    return peak / (1024 * 1024)


async def send_bare_feed(
    platform: Platform, per_person: dict[str, list[str]], concurrency: int, recorded: bool = False
) -> float:
    """What the import asked of the engine, asked by a bare client: for each person in turn
    (``concurrency`` at once) a start per ``created`` line, a signal per ``signalled`` one.
    ``recorded``: the bare journeys record each change with an ordinary activity. The seconds
    it took."""
    client = await Client.connect(platform.temporal_address, data_converter=pydantic_data_converter)
    run_id = uuid.uuid4().hex[:8]
    people = iter(enumerate(per_person.values()))

    async def lane() -> None:
        for p, outcomes in people:
            handle = None
            for n, outcome in enumerate(outcomes):
                if outcome == "created" or handle is None:
                    workflow_id = f"bare-feed-{run_id}-{p}-{n}"
                    handle = await client.start_workflow(
                        BareFeedJourney.run,
                        BareFeedInput(person_id=workflow_id, recorded=recorded),
                        id=workflow_id,
                        task_queue=RAW_TASK_QUEUE,
                    )
                else:
                    await handle.signal(
                        BareFeedJourney.rsa_rights_changed, BareRightsChanged(status="suspendu")
                    )

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - started


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.caf_import", description=__doc__)
    parser.add_argument("--lines", type=int, default=int(os.environ.get("BENCH_CAF_LINES", 10_000)))
    parser.add_argument(
        "--malformed", type=int, default=int(os.environ.get("BENCH_CAF_MALFORMED", 20))
    )
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=f"run on a fresh PostgreSQL database ({POSTGRES_DATABASE}, dropped and created "
        "again) and print each figure as postgres_…",
    )
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    prefix = ""
    if options.postgres:
        url = asyncio.run(fresh_postgres(POSTGRES_DATABASE))
        if url is None:
            return 0
        os.environ["DATABASE_URL"] = url  # the platform runs on it
        prefix = "postgres_"
    platform = Platform()
    try:
        figures = asyncio.run(bench(platform, options))
    except KeyboardInterrupt:
        progress("interrupted")
        return 130
    finally:
        progress("stopping the platform …")
        platform.stop(keep=options.keep)
        if options.keep:
            progress(f"databases and logs kept in {platform.workdir}")
    for key, value in figures.items():
        if not isinstance(value, float):
            print(f"{prefix}{key}={value}")
        else:
            print(f"{prefix}{key}={value:.3f}" if "ratio" in key else f"{prefix}{key}={value:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
