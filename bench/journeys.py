"""``make bench``: journeys through the whole platform against the bare Temporal workflow.

Both run on the same dev server in the same run, interleaved round by round (the order
alternating) so that noise — other processes, the server's database growing — falls on both:

- raw: ``bench.raw.BareJourney`` — start, one no-op activity, then six updates with
  validators, each running a no-op activity — driven by a Temporal client;
- platform: ``POST /api/v1/beneficiaries`` then the six actions that take a journey to its
  end, over real HTTP with API tokens, through the API, the ``Journey`` workflow and the SQL
  read model. The load comes from a lean kept-alive HTTP client (``bench.http``): on cores
  shared with the platform, the load generator's own CPU would otherwise count against it,
  while the bare workflow's driver (Temporal's client, Rust inside) costs little.

- raw-local: the same bare journey with local activities, the cheapest workflow of the same
  shape (the ``Journey`` writes its read model with ordinary activities, once the engine has
  recorded each transition); ``journey_ratio`` is against the faster of the two (both ratios
  printed).

Then latencies under ``--clients`` concurrent clients: reads of closed journeys while as many
other clients pause and resume journeys (``api_read_*``, ``api_read_per_s``); the pause /
resume pairs alone (``api_action_*``, one open journey per client); and their anchor, a bare
update with a no-op local activity (``raw_update_*``, ``action_latency_ratio``), then with a
no-op ordinary activity answered after it, as an action is answered once its write, made after
the engine recorded it, is done (``raw_update_recorded_*``, ``action_latency_ratio_recorded``).

Results go to stdout as ``key=value`` lines (medians over the rounds); progress to stderr, with
per round the CPU each process spent per journey (on a small machine the processes share the
cores: throughput follows CPU) and mean latencies from the workers' and the API's metrics.
``--price`` adds the bare journey with, one by one, what the ``Journey`` does besides (search
attributes, deadline timers, state-sized payloads); ``--variant`` runs a second platform with
another environment in the same run. Options: ``--help`` (or the ``BENCH_*`` variables);
``DATABASE_URL`` benches PostgreSQL instead of a fresh SQLite file (the benchmark adds its rows
to that database: point it at a scratch one); ``--postgres`` makes that scratch database itself
and prints its figures as ``postgres_…`` (``make bench`` runs both).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import random
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NoReturn

import asyncpg
import httpx
from sqlalchemy.engine import make_url
from temporalio.client import Client

from bench import management
from bench.http import KeepAliveClient
from bench.raw import STEPS, BareAdvance, BareCosts, BareInput, BareJourney
from bench.stack import RAW_TASK_QUEUE, Stack, Staff
from parcours.core.heap import freeze_startup_objects

# The bare journey with local activities, as the Journey's read-model writes are.
LOCAL = BareCosts(local_activities=True)

# ``--price``: the bare journey plus, cumulatively, what the Journey workflow does besides.
PRICED = {
    "raw+sa": BareCosts(search_attributes=True),
    "raw+sa+timers": BareCosts(search_attributes=True, deadline_timers=True),
    "raw+sa+timers+payloads": BareCosts(
        search_attributes=True, deadline_timers=True, payload_bytes=800
    ),
}


def actions_to_close(staff: Staff) -> list[tuple[str, dict[str, Any], str]]:
    """From intake to the close: six updates, as many as the bare journey's; each with the
    token of who may do it (the orientation is the chargée d'orientation's decision)."""
    today = date.today().isoformat()
    orientation = {
        "kind": "social",
        "structure_id": staff.structure_id,
        "referent_id": staff.referent_id,
    }
    referent, officer = staff.referent_token, staff.orientation_token
    return [
        ("begin-diagnosis", {}, referent),
        ("complete-diagnosis", {}, referent),
        ("decide-orientation", orientation, officer),
        ("sign-contract", {"signed_on": today}, referent),
        ("record-employment", {"started_on": today, "contract": "cdi"}, referent),
        ("set-follow-up-consent", {"consent": False}, referent),
    ]


@dataclass(frozen=True)
class Options:
    journeys: int
    concurrency: int
    rounds: int
    warmup: int
    clients: int
    reads: int
    action_pairs: int
    pause: float
    price: bool
    apis: int
    keep: bool
    postgres: bool
    variants: dict[str, dict[str, str]]


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, assignments = text.partition(":")
    env = dict(a.split("=", 1) for a in assignments.split(",") if a)
    if not name.isidentifier() or not env:
        raise argparse.ArgumentTypeError("expected NAME:KEY=VALUE[,KEY=VALUE…]")
    return name, env


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.journeys", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    arg = parser.add_argument
    arg("--journeys", type=int, default=_env_int("BENCH_JOURNEYS", 40), help="per run")
    arg(
        "--concurrency",
        type=int,
        default=_env_int("BENCH_CONCURRENCY", 20),
        help="journeys in flight, raw and platform alike",
    )
    arg("--rounds", type=int, default=_env_int("BENCH_ROUNDS", 4), help="raw + platform pairs")
    arg("--warmup", type=int, default=_env_int("BENCH_WARMUP", 10), help="journeys, not counted")
    arg(
        "--clients",
        type=int,
        default=_env_int("BENCH_CLIENTS", 20),
        help="for the latencies (0: none)",
    )
    arg("--reads", type=int, default=_env_int("BENCH_READS", 25), help="per latency client")
    arg(
        "--action-pairs",
        type=int,
        default=_env_int("BENCH_ACTION_PAIRS", 4),
        help="pause/resume pairs per latency client",
    )
    arg(
        "--pause",
        type=float,
        default=float(os.environ.get("BENCH_PAUSE", 2.0)),
        help="seconds between runs, for the server to finish the previous run's completions",
    )
    arg(
        "--price",
        action="store_true",
        help="also run the bare journey with, added one by one, what the Journey does "
        "besides: search attributes, deadline timers, state-sized payloads",
    )
    arg(
        "--apis",
        type=int,
        default=_env_int("BENCH_APIS", 2),
        help="API processes on one port (parcours api --shared-port), as the production "
        "compose file runs them (PARCOURS_API_PROCESSES) and make run-scaled",
    )
    arg("--keep", action="store_true", help="keep the databases and the logs (path on stderr)")
    arg(
        "--postgres",
        action="store_true",
        help=f"run on a fresh PostgreSQL database ({POSTGRES_DATABASE}, dropped and created "
        "again, on the server bench.management uses) and print each figure as postgres_…",
    )
    arg(
        "--variant",
        type=_variant,
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,…",
        help="also run a second platform (worker + API) with this environment, e.g. to "
        "compare a setting with its default in the same run",
    )
    args = vars(parser.parse_args(argv))
    args["variants"] = dict(args.pop("variant"))
    return Options(**args)


async def run_lanes(count: int, lanes: int, one: Callable[[int], Awaitable[Any]]) -> float:
    """Run ``one(i)`` for i < count with at most ``lanes`` in flight; the elapsed seconds."""
    numbers = itertools.count()

    async def lane() -> None:
        while (i := next(numbers)) < count:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(min(lanes, count))))
    return time.perf_counter() - started


class RawDriver:
    def __init__(self, client: Client, costs: BareCosts | None = None) -> None:
        self.client = client
        self.costs = costs or BareCosts()
        self.run_id = uuid.uuid4().hex[:8]

    async def journey(self, i: int) -> None:
        journey_id = f"bare-{self.run_id}-{i}"
        handle = await self.client.start_workflow(
            BareJourney.run,
            BareInput(journey_id=journey_id, costs=self.costs),
            id=journey_id,
            task_queue=RAW_TASK_QUEUE,
        )
        for step in range(1, STEPS + 1):
            await handle.execute_update(BareJourney.advance, BareAdvance(step=step))


class PlatformDriver:
    """Enrols and acts as the référent (the API's default token), over HTTP."""

    def __init__(self, http: KeepAliveClient, staff: Staff) -> None:
        self.http = http
        self.referent_token = staff.referent_token
        self.actions = actions_to_close(staff)
        assert len(self.actions) == STEPS
        self.closed: list[str] = []

    async def _post(self, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        status, result = await self.http.request(
            "POST", path, body, {"Authorization": f"Bearer {token}"}
        )
        if status >= 300:
            raise RuntimeError(f"POST {path}: {status} {str(result)[:500]}")
        assert isinstance(result, dict)
        return result

    async def enrol(self) -> str:
        tag = uuid.uuid4().hex[:6]
        enrolment = await self._post(
            "/api/v1/beneficiaries",
            {
                "first_name": f"Prenombanc{tag}",
                "last_name": f"Nombanc{tag}",
                "birth_date": "1988-04-12",
                "nir": "188047311512352",
                "caf_number": f"CAF{tag}",
                "email": f"personne.{tag}@exemple.fr",
                "phone": "0612345678",
                "address": f"{tag} rue du Banc",
                "postal_code": "73000",
                "city": "Chambéry",
                "territory": "73",
                "rsa_opened_on": date.today().isoformat(),
            },
            self.referent_token,
        )
        beneficiary_id: str = enrolment["beneficiary"]["id"]
        return beneficiary_id

    async def act(
        self, beneficiary_id: str, action: str, body: dict[str, Any], token: str = ""
    ) -> None:
        path = f"/api/v1/journeys/{beneficiary_id}/actions/{action}"
        await self._post(path, body, token or self.referent_token)

    async def journey(self, _: int) -> None:
        beneficiary_id = await self.enrol()
        for action, body, token in self.actions:
            await self.act(beneficiary_id, action, body, token)
        self.closed.append(beneficiary_id)

    async def read(self, beneficiary_id: str) -> None:
        status, result = await self.http.request("GET", f"/api/v1/journeys/{beneficiary_id}")
        if status != 200:
            raise RuntimeError(f"GET journey: {status} {str(result)[:500]}")


async def latencies(
    clients: int, per_client: int, call: Callable[[int, int], Awaitable[None]]
) -> list[float]:
    """``clients`` concurrent clients each making ``per_client`` calls; the calls' seconds."""
    seconds: list[float] = []

    async def client(c: int) -> None:
        for k in range(per_client):
            started = time.perf_counter()
            await call(c, k)
            seconds.append(time.perf_counter() - started)

    await asyncio.gather(*(client(c) for c in range(clients)))
    return seconds


def cpu_per_journey(
    before: dict[str, float], after: dict[str, float], journeys: int
) -> dict[str, float]:
    """Milliseconds of CPU each process spent per journey (the busy ones only)."""
    spent = {name: 1000 * (after[name] - before.get(name, 0.0)) / journeys for name in after}
    return {name: ms for name, ms in spent.items() if ms >= 0.5}


# What the round's diagnostic line shows: (label, process, metric, unit in ms).
DIAGNOSTICS = (
    ("activity", "worker", "temporal_activity_execution_latency", 1.0),
    ("workflow task", "worker", "temporal_workflow_task_execution_latency", 1.0),
    ("its wait", "worker", "temporal_workflow_task_schedule_to_start_latency", 1.0),
    ("enrol", "api", "enrol", 1000.0),
    ("action", "api", "action", 1000.0),
)


def diagnose(kind: str, before: dict[str, float], after: dict[str, float]) -> str:
    """Mean latencies over the round, from the workers' and the API's own metrics."""
    parts = []
    for label, process, metric, unit in DIAGNOSTICS:
        key = f"{process}{kind.removeprefix('platform')}:{metric}"
        if kind.startswith("raw"):
            key = f"raw-{process}:{metric}"
        count = after.get(f"{key}_count", 0.0) - before.get(f"{key}_count", 0.0)
        if count:
            total = after[f"{key}_sum"] - before.get(f"{key}_sum", 0.0)
            parts.append(f"{label} {unit * total / count:.1f}")
    return "mean ms: " + ", ".join(parts)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value at or above ``p`` percent of them."""
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Latencies:
    reads: list[float]  # of closed journeys, while other clients pause and resume
    reads_seconds: float  # how long the reads took, all clients together
    reads_alone: list[float]  # the same reads with no action running: their anchor
    reads_alone_seconds: float
    actions: list[float]  # pause / resume pairs, alone
    raw_updates: list[float]  # the bare ``touch`` update, alone
    raw_recorded_updates: list[float]  # ``touch_recorded``: the same, written after recording


async def measure_latencies(
    platform: PlatformDriver, client: Client, options: Options
) -> Latencies:
    """By ``options.clients`` clients each: reads of closed journeys while as many other
    clients pause and resume journeys; then the pause / resume pairs alone; then as many bare
    updates (one no-op local activity each), the actions' anchor."""
    open_journeys = await asyncio.gather(*(platform.enrol() for _ in range(options.clients)))
    await asyncio.sleep(options.pause)  # let their start activities run

    def pause_or_resume(c: int, k: int) -> Awaitable[None]:
        return platform.act(open_journeys[c], "pause" if k % 2 == 0 else "resume", {})

    rng = random.Random(73)
    progress(f"latency: {options.clients} clients reading journeys, nothing else running")
    started = time.perf_counter()
    reads_alone = await latencies(
        options.clients, options.reads, lambda c, k: platform.read(rng.choice(platform.closed))
    )
    reads_alone_seconds = time.perf_counter() - started
    await asyncio.sleep(options.pause)

    progress(f"latency: {options.clients} clients reading journeys while as many act")
    reading = asyncio.Event()
    reading.set()

    async def act_while_reading(c: int) -> None:
        k = 0
        while reading.is_set() or k % 2:  # always end resumed
            await pause_or_resume(c, k)
            k += 1

    actors = [asyncio.create_task(act_while_reading(c)) for c in range(options.clients)]
    started = time.perf_counter()
    try:
        reads = await latencies(
            options.clients,
            options.reads,
            lambda c, k: platform.read(rng.choice(platform.closed)),
        )
        reads_seconds = time.perf_counter() - started
    finally:
        reading.clear()
        await asyncio.gather(*actors)
    await asyncio.sleep(options.pause)

    progress(f"latency: {options.clients} clients pausing and resuming journeys")
    actions = await latencies(options.clients, 2 * options.action_pairs, pause_or_resume)
    await asyncio.sleep(options.pause)

    progress(f"latency: {options.clients} clients sending bare updates")
    run_id = uuid.uuid4().hex[:8]
    handles = await asyncio.gather(
        *(
            client.start_workflow(
                BareJourney.run,
                BareInput(journey_id=f"bare-touch-{run_id}-{c}", costs=LOCAL),
                id=f"bare-touch-{run_id}-{c}",
                task_queue=RAW_TASK_QUEUE,
            )
            for c in range(options.clients)
        )
    )
    await asyncio.sleep(options.pause)

    async def touch(c: int, k: int) -> None:
        await handles[c].execute_update(BareJourney.touch)

    raw_updates = await latencies(options.clients, 2 * options.action_pairs, touch)
    await asyncio.sleep(options.pause)

    progress(f"latency: {options.clients} clients sending bare updates written once recorded")

    async def touch_recorded(c: int, k: int) -> None:
        await handles[c].execute_update(BareJourney.touch_recorded)

    raw_recorded = await latencies(options.clients, 2 * options.action_pairs, touch_recorded)
    return Latencies(
        reads, reads_seconds, reads_alone, reads_alone_seconds, actions, raw_updates, raw_recorded
    )


async def bench(stack: Stack, options: Options) -> dict[str, float]:
    progress(f"starting the platform under {stack.workdir} …")
    variants = {f"platform@{name}": env for name, env in options.variants.items()}
    staff = await stack.start(variants, apis=options.apis)
    client = await stack.client()
    limits = httpx.Limits(max_connections=max(options.concurrency, options.clients) + 5)
    headers = {"Authorization": f"Bearer {staff.referent_token}"}
    connections = max(options.concurrency, options.clients) + 5
    # The load: a lean client (``bench.http``), as cheap per call as the bare workflow's driver.
    loads = {
        name: KeepAliveClient(url, connections, headers) for name, url in stack.api_urls.items()
    }
    async with httpx.AsyncClient(timeout=120, limits=limits, headers=headers) as http:
        platforms = {name: PlatformDriver(loads[name], staff) for name in stack.api_urls}
        drivers: dict[str, Callable[[int], Awaitable[None]]] = {
            "raw": RawDriver(client).journey,
            "raw-local": RawDriver(client, LOCAL).journey,
            **{name: platform.journey for name, platform in platforms.items()},
        }
        if options.price:
            for kind, costs in PRICED.items():
                drivers[kind] = RawDriver(client, costs).journey

        # The load generator's own heap (the platform's modules it imports) set aside from
        # the collector, as the API and the worker do: a full collection here stopped every
        # client for 120 ms, counted against the platform and the anchors alike.
        freeze_startup_objects()
        progress(f"warm-up: {options.warmup} journeys each")
        for journey in drivers.values():
            await run_lanes(options.warmup, options.concurrency, journey)
        rates: dict[str, list[float]] = {kind: [] for kind in drivers}
        cpu: dict[str, list[float]] = {kind: [] for kind in drivers}
        for r in range(options.rounds):
            # Alternate the order, so that none always follows another's leftovers.
            order = list(drivers) if r % 2 == 0 else list(reversed(drivers))
            for kind in order:
                await asyncio.sleep(options.pause)
                cpu_before, metrics_before = stack.cpu_seconds(), await stack.metrics(http)
                elapsed = await run_lanes(options.journeys, options.concurrency, drivers[kind])
                spent = cpu_per_journey(cpu_before, stack.cpu_seconds(), options.journeys)
                rates[kind].append(options.journeys / elapsed)
                cpu[kind].append(sum(spent.values()))
                progress(
                    f"round {r + 1}/{options.rounds} {kind}: {options.journeys / elapsed:.2f}"
                    f" journeys/s ({options.journeys} in {elapsed:.1f} s)\n"
                    f"    CPU ms per journey: {sum(spent.values()):.0f} = "
                    + " + ".join(f"{name} {ms:.0f}" for name, ms in spent.items())
                    + "\n    "
                    + diagnose(kind, metrics_before, await stack.metrics(http))
                )

        latency: dict[str, float] = {}
        if options.clients:
            await asyncio.sleep(options.pause)
            measured = await measure_latencies(platforms["platform"], client, options)
            action_p95 = percentile(measured.actions, 95)
            raw_update_p95 = percentile(measured.raw_updates, 95)
            raw_recorded_p95 = percentile(measured.raw_recorded_updates, 95)
            latency = {
                "api_read_p50_ms": 1000 * percentile(measured.reads, 50),
                "api_read_p95_ms": 1000 * percentile(measured.reads, 95),
                # The reads a lock parked: p95 hides them when they are few but long.
                "api_read_p99_ms": 1000 * percentile(measured.reads, 99),
                "api_read_max_ms": 1000 * max(measured.reads),
                "api_read_per_s": len(measured.reads) / measured.reads_seconds,
                # The same reads with no action beside them: what the actions add.
                "api_read_alone_p50_ms": 1000 * percentile(measured.reads_alone, 50),
                "api_read_alone_p95_ms": 1000 * percentile(measured.reads_alone, 95),
                "api_read_alone_per_s": len(measured.reads_alone) / measured.reads_alone_seconds,
                "api_action_p50_ms": 1000 * percentile(measured.actions, 50),
                "api_action_p95_ms": 1000 * action_p95,
                "raw_update_p50_ms": 1000 * percentile(measured.raw_updates, 50),
                "raw_update_p95_ms": 1000 * raw_update_p95,
                "action_latency_ratio": action_p95 / raw_update_p95,
                # Against the bare update with the Journey's guarantee (its write after the
                # engine recorded it): what the platform adds to what the guarantee costs.
                "raw_update_recorded_p50_ms": 1000 * percentile(measured.raw_recorded_updates, 50),
                "raw_update_recorded_p95_ms": 1000 * raw_recorded_p95,
                "action_latency_ratio_recorded": action_p95 / raw_recorded_p95,
            }

    platform = statistics.median(rates["platform"])
    raw, raw_local = statistics.median(rates["raw"]), statistics.median(rates["raw-local"])
    # The anchor is the faster bare journey: the cheapest workflow of the same semantics.
    anchor = "raw-local" if raw_local >= raw else "raw"
    best_anchor = max(max(rates["raw"]), max(rates["raw-local"]))
    figures = {
        "raw_journeys_per_s": raw,
        "raw_local_journeys_per_s": raw_local,
        "journeys_per_s": platform,
        "journey_ratio": platform / max(raw, raw_local),
        "journey_ratio_ordinary": platform / raw,
        "journey_ratio_local": platform / raw_local,
        "raw_journeys_per_s_best": max(rates["raw"]),
        "raw_local_journeys_per_s_best": max(rates["raw-local"]),
        "journeys_per_s_best": max(rates["platform"]),
        "journey_ratio_best": max(rates["platform"]) / best_anchor,
        **latency,
        "raw_cpu_ms_per_journey": statistics.median(cpu["raw"]),
        "raw_local_cpu_ms_per_journey": statistics.median(cpu["raw-local"]),
        "cpu_ms_per_journey": statistics.median(cpu["platform"]),
        # What journey_ratio tends to when the cores are the bottleneck; steadier than it
        # when other processes come and go (against the same anchor).
        "journey_cpu_ratio": statistics.median(cpu[anchor]) / statistics.median(cpu["platform"]),
    }
    for kind in drivers:
        if kind in ("raw", "raw-local", "platform"):
            continue
        prefix = kind.replace("platform@", "variant_").replace("+", "_")
        figures[f"{prefix}_journeys_per_s"] = statistics.median(rates[kind])
        figures[f"{prefix}_ratio"] = statistics.median(rates[kind]) / raw
        figures[f"{prefix}_cpu_ms_per_journey"] = statistics.median(cpu[kind])
    for load in loads.values():
        await load.aclose()
    progress(f"journey_ratio is against {anchor} (the faster bare journey)")
    return figures


# ``--postgres``: the scratch database the platform runs on.
POSTGRES_DATABASE = "parcours_bench_api"


async def fresh_postgres(database: str = POSTGRES_DATABASE) -> str | None:
    """A new empty ``database`` (by default ``POSTGRES_DATABASE``), its URL; None when no
    PostgreSQL answers."""
    server = management.server_url()
    try:
        admin = await asyncpg.connect(
            management.dsn(make_url(server).set(database="postgres").render_as_string(False)),
            timeout=5,
        )
    except (OSError, asyncpg.PostgresError) as error:
        progress(f"PostgreSQL unreachable at {server} ({error}): skipped")
        return None
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    return make_url(server).set(database=database).render_as_string(hide_password=False)


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # stopped like Ctrl-C: children go down too
    prefix = ""
    if options.postgres:
        url = asyncio.run(fresh_postgres())
        if url is None:
            return 0
        os.environ["DATABASE_URL"] = url  # the stack's platforms run on it
        prefix = "postgres_"
    stack = Stack()
    try:
        figures = asyncio.run(bench(stack, options))
    except KeyboardInterrupt:
        progress("interrupted")
        return 130
    finally:
        progress("stopping the platform …")
        stack.stop(keep=options.keep)
        if options.keep:
            progress(f"databases and logs kept in {stack.workdir}")
    print(
        f"# {options.rounds} rounds of {options.journeys} journeys, {options.concurrency} in "
        f"flight (medians; *_best: best round); latencies: {options.clients} clients; "
        f"{options.apis} API process(es) on the port"
        + ("; on PostgreSQL" if options.postgres else "")
    )
    for key, value in figures.items():
        print(f"{prefix}{key}={value:.3f}" if "ratio" in key else f"{prefix}{key}={value:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
