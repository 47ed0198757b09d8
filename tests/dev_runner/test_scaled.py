"""``make run-scaled`` loses nothing when a replica dies (``resilience``, PostgreSQL only).

``parcours dev --workers 2 --apis 2`` runs on a PostgreSQL database of its own, the two API
processes on one port. A few clients act on journeys through that port and read them back —
half of the people are oriented to France Travail, whose notice is a partner call — while one
worker and one API process are killed (``kill -9``). Then:

- nothing lost: every action a client was told was done (200) is in the workflow and in the
  read model, at the number it was answered with, and no other pause or resume is;
- no double partner call: France Travail holds one notice per person oriented, under one
  idempotency key each (it counts the calls per key);
- journeys and read model agree (``tests.support.platform.agreement``), and the reconciler
  (``parcours reconcile``) finds nothing to repair;
- the supervisor started the killed worker and API process again, and the API's ``/metrics``
  counts the requests of both API processes (the killed one's included).

A client whose connection dies with the API process sends the same action again under the
same Idempotency-Key, as a careful client does: the other process answers it, once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from cli.supervisor import listens
from parcours.access.models import Structure
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.settings import ROOT, Settings
from parcours.core.temporal import connect
from parcours.journey.models import JourneyEventRecord
from parcours.orientations.messages import france_travail_notice_workflow_id
from tests.dev_runner.conftest import DevRun, dev_run, until
from tests.support.accounts import Account, create_account
from tests.support.partners import consent
from tests.support.people import person_payload
from tests.support.platform import agreement

POSTGRES_URL = os.environ.get("DATABASE_URL", "")

pytestmark = [
    pytest.mark.resilience,
    pytest.mark.skipif(
        not POSTGRES_URL.startswith("postgresql"),
        reason="replicas share PostgreSQL (DATABASE_URL=postgresql+asyncpg://…)",
    ),
]

PEOPLE = 8
Json = dict[str, Any]


@asynccontextmanager
async def own_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database on ``DATABASE_URL``'s server (dropped afterwards): the run's
    own, apart from the test session's schema."""
    url = make_url(POSTGRES_URL)
    name = f"scaled_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:  # a failed run's database too
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@dataclass
class Acknowledged:
    """An action a client was told was done: on whose journey, which, the number it got."""

    beneficiary_id: str
    action: str
    seq: int


@dataclass
class Load:
    """Clients acting on their journeys and reading them back, over and over, through the one
    API port; an answer lost (connection reset, 503) is asked again under the same key."""

    api_url: str
    referent: Account
    orientation: Account
    structure_id: str
    acknowledged: list[Acknowledged] = field(default_factory=list)
    answers: dict[int, int] = field(default_factory=dict)
    reads: dict[int, int] = field(default_factory=dict)
    # Why an answer was lost (status 0 above): the connection refused, reset, timed out…
    lost: dict[str, int] = field(default_factory=dict)
    running: bool = True

    def count(self, into: dict[int, int], status: int) -> None:
        into[status] = into.get(status, 0) + 1

    async def act(
        self, http: httpx.AsyncClient, who: Account, beneficiary_id: str, action: str, **body: Any
    ) -> Json:
        key = uuid.uuid4().hex
        async with asyncio.timeout(180):
            while True:
                try:
                    response = await http.post(
                        f"/api/v1/journeys/{beneficiary_id}/actions/{action}",
                        json=body,
                        headers={**who.headers, "Idempotency-Key": key},
                    )
                except httpx.TransportError as error:
                    self.count(self.answers, 0)
                    self.lost[type(error).__name__] = self.lost.get(type(error).__name__, 0) + 1
                    await asyncio.sleep(0.3)
                    continue
                self.count(self.answers, response.status_code)
                if response.status_code == 503:  # the engine's task is on the killed worker
                    await asyncio.sleep(0.3)
                    continue
                assert response.status_code == 200, f"{action}: {response.text}"
                journey: Json = response.json()
                self.acknowledged.append(Acknowledged(beneficiary_id, action, journey["seq"]))
                return journey

    async def read(self, http: httpx.AsyncClient, beneficiary_id: str) -> None:
        try:
            response = await http.get(
                f"/api/v1/journeys/{beneficiary_id}", headers=self.referent.headers
            )
        except httpx.TransportError:
            self.count(self.reads, 0)
            return
        self.count(self.reads, response.status_code)

    async def client(self, beneficiary_id: str, oriented: bool) -> None:
        async with httpx.AsyncClient(base_url=self.api_url, timeout=60) as http:
            if oriented:  # France Travail is told: a partner call, perhaps mid-kill
                for action in ("begin-diagnosis", "complete-diagnosis"):
                    await self.act(http, self.referent, beneficiary_id, action)
                await self.act(
                    http,
                    self.orientation,
                    beneficiary_id,
                    "decide-orientation",
                    kind="professional",
                    structure_id=self.structure_id,
                    referent_id=self.referent.id,
                )
            while self.running:
                for action in ("pause", "resume"):
                    await self.act(http, self.referent, beneficiary_id, action)
                    await self.read(http, beneficiary_id)


async def enrol(api_url: str, referent: Account) -> str:
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as http:
        response = await http.post(
            "/api/v1/beneficiaries",
            json=person_payload(referent_id=referent.id),
            headers=referent.headers,
        )
    assert response.status_code == 201, response.text
    beneficiary_id: str = response.json()["beneficiary"]["id"]
    return beneficiary_id


async def journey_reads_counted(api_url: str) -> float:
    """The journey reads answered 200, as the API's ``/metrics`` counts them."""
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        exposed = (await http.get("/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposed)
        for sample in family.samples
        if sample.name == "parcours_http_requests_total"
        and sample.labels
        == {"method": "GET", "route": "/api/v1/journeys/{beneficiary_id}", "status": "200"}
    )


def serving(run: DevRun, component: str) -> list[int]:
    """The component's processes that serve: every worker, the API processes that listen on
    the API port (one still starting does not yet)."""
    pids = run.processes().get(component, [])
    if component == "api":
        return [pid for pid in pids if listens(pid, run.port("api"))]
    return pids


async def kill_one(run: DevRun, component: str) -> int:
    """``kill -9`` one of the component's processes once both serve; its pid."""

    async def both() -> list[int] | None:
        pids = serving(run, component)
        return pids if len(pids) == 2 else None

    pids = await until(both, f"two {component} processes", run)
    os.kill(pids[0], 9)
    return pids[0]


async def restarted(run: DevRun, component: str, killed: int) -> None:
    async def two_again() -> bool:
        pids = serving(run, component)
        return len(pids) == 2 and killed not in pids

    await until(two_again, f"the killed {component} started again", run)


async def test_a_worker_and_an_api_killed_under_load_lose_nothing_and_double_nothing(
    tmp_path: Path,
) -> None:
    async with (
        own_database() as database_url,
        dev_run(tmp_path, "--workers", "2", "--apis", "2", DATABASE_URL=database_url) as run,
    ):
        settings = Settings(
            database_url=database_url, temporal_address=run.env["PARCOURS_TEMPORAL_ADDRESS"]
        )
        engine = create_engine(database_url)
        sessions = create_sessionmaker(engine)
        try:
            await under_load(run, settings, sessions)
        finally:
            await engine.dispose()


async def under_load(
    run: DevRun, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with transaction(sessions) as session:
        structure = Structure(name=f"CCAS {uuid.uuid4().hex[:6]}", kind="ccas", territory="73")
        session.add(structure)
        await session.flush()
        structure_id = structure.id
    referent = await create_account(sessions, settings, "referent", structure_id=structure_id)
    orientation = await create_account(sessions, settings, "orientation", structure_id=structure_id)
    ids = [await enrol(run.api_url, referent) for _ in range(PEOPLE)]
    oriented = ids[: PEOPLE // 2]
    for person in oriented:
        await consent(sessions, person, "france_travail")
    simulators = f"http://127.0.0.1:{run.setting('PARCOURS_SIMULATORS_PORT')}"
    async with httpx.AsyncClient(base_url=simulators, timeout=30) as sim:
        # France Travail answers slowly: its calls are in flight when the worker dies.
        switched = await sim.put("/_switches/france-travail", json={"latency_ms": 1500})
        switched.raise_for_status()

        load = Load(run.api_url, referent, orientation, structure_id)
        clients = [asyncio.create_task(load.client(i, i in oriented)) for i in ids]
        try:
            await asyncio.sleep(2)
            worker = await kill_one(run, "worker")
            await asyncio.sleep(1)
            api = await kill_one(run, "api")
            await restarted(run, "worker", worker)
            await restarted(run, "api", api)
            await asyncio.sleep(3)  # both back, under load
        finally:
            load.running = False
            await asyncio.gather(*clients)

    print(
        f"\nscaled run: {len(load.acknowledged)} actions acknowledged, answers "
        f"{dict(sorted(load.answers.items()))}, reads {dict(sorted(load.reads.items()))}, "
        f"lost {load.lost}\n"
        + "\n".join(line for line in run.text().splitlines() if "redémarrage" in line)
    )
    client = await connect(settings)
    # France Travail's notices, started as the orientations were decided, have ended.
    for decided in (a for a in load.acknowledged if a.action == "decide-orientation"):
        notice = france_travail_notice_workflow_id(decided.beneficiary_id, decided.seq)
        result = await asyncio.wait_for(client.get_workflow_handle(notice).result(), 120)
        assert result["notified"], result
    async with httpx.AsyncClient(base_url=simulators, timeout=30) as sim:
        france_travail = (await sim.get("/france-travail/_state")).json()
    # Journeys and read model agree; the reconciler has nothing to repair.
    await agreement(client, sessions, ids)
    reconcile = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli.main", "reconcile", *(f"--journey={i}" for i in ids)],
        cwd=ROOT,
        env={**run.env, "DATABASE_URL": settings.database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert reconcile.returncode == 0, reconcile.stderr
    assert f"{PEOPLE} parcours vérifié(s), 0 différence(s) corrigée(s)" in reconcile.stdout

    # Nothing lost, nothing doubled: each acknowledged action is the event at its number, and
    # the journeys hold no pause or resume nobody was told of.
    async with sessions() as session:
        events = {
            (e.beneficiary_id, e.seq): e.kind
            for e in (
                await session.scalars(
                    select(JourneyEventRecord).where(JourneyEventRecord.beneficiary_id.in_(ids))
                )
            )
        }
    kinds = {"pause": "paused", "resume": "resumed"}
    told = [a for a in load.acknowledged if a.action in kinds]
    assert [events.get((a.beneficiary_id, a.seq)) for a in told] == [kinds[a.action] for a in told]
    held = sorted(key for key, kind in events.items() if kind in kinds.values())
    assert held == sorted((a.beneficiary_id, a.seq) for a in told)
    assert not [a for a in load.acknowledged if (a.beneficiary_id, a.seq) not in events]

    # One France Travail notice per person oriented, each under its own key.
    notices = [
        o
        for o in france_travail["orientations"]
        if any(
            o["notice"]["orientation_id"].startswith(f"france-travail-notice-{person}-")
            for person in oriented
        )
    ]
    keys = [o["idempotency_key"] for o in notices]
    assert len(notices) == len(oriented) and len(set(keys)) == len(keys)
    print(
        "France Travail calls per key: "
        f"{sorted(france_travail['orientations_by_key'][k]['attempts'] for k in keys)}"
    )
    # The API's /metrics adds up both processes (the killed one's counts included): at least
    # the reads the clients were answered.
    assert await journey_reads_counted(run.api_url) >= load.reads[200]
    # Killed processes are said and restarted; the clients were never answered a 500.
    assert "s'est arrêté (code -9)" in run.text()
    assert "s'est arrêtée (code -9)" in run.text()
    assert 500 not in load.answers and 500 not in load.reads
    assert len(told) > PEOPLE
