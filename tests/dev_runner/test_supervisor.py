"""``make run`` survives a component's crash: the worker, the API, the partner simulators and
the Temporal dev server, each killed (``kill -9``) in turn under a running ``parcours dev``,
come back by themselves — their port answers again, the API's ``/healthz`` says 200, and a
journey enrolled before the Temporal server died is still there and still moves after. The
terminal says each restart in one French line. SIGTERM still stops everything and restarts
nothing; a part that cannot come up at start fails the run with its reason."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parcours.access.models import Structure
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.settings import Settings
from tests.dev_runner.conftest import COMPONENTS, PATIENCE_S, DevRun, dev_run, until
from tests.support.accounts import Account, create_account
from tests.support.people import person_payload

pytestmark = pytest.mark.resilience

Json = dict[str, Any]


@pytest.fixture(scope="module")
async def referent(platform: DevRun) -> Account:
    """A référent of a structure, with an API token, written into the run's database."""
    settings = Settings(database_url=platform.database_url)
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    try:
        async with transaction(sessions) as session:
            structure = Structure(name=f"CCAS {uuid.uuid4().hex[:6]}", kind="ccas", territory="73")
            session.add(structure)
            await session.flush()
            structure_id = structure.id
        return await create_account(sessions, settings, "referent", structure_id=structure_id)
    finally:
        await engine.dispose()


@pytest.fixture
async def http(platform: DevRun, referent: Account) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=platform.api_url, headers=referent.headers, timeout=60
    ) as client:
        yield client


async def said(run: DevRun, line: str) -> None:
    async def printed() -> bool:
        return line in run.text()

    await until(printed, f"« {line} » in the terminal", run)


async def enrol(http: httpx.AsyncClient, referent: Account) -> str:
    response = await http.post(
        "/api/v1/beneficiaries", json=person_payload(referent_id=referent.id)
    )
    assert response.status_code == 201, response.text
    beneficiary_id: str = response.json()["beneficiary"]["id"]
    return beneficiary_id


async def act(
    run: DevRun, http: httpx.AsyncClient, beneficiary_id: str, action: str, **body: object
) -> Json:
    """The action, sent again under the same Idempotency-Key while the engine answers 503
    (what a user's retry does; it is applied once); the journey it returns."""
    key = uuid.uuid4().hex

    async def applied() -> httpx.Response | None:
        response = await http.post(
            f"/api/v1/journeys/{beneficiary_id}/actions/{action}",
            json=body,
            headers={"Idempotency-Key": key},
        )
        return None if response.status_code == 503 else response

    response = await until(applied, f"{action} answered", run)
    assert response.status_code == 200, response.text
    journey: Json = response.json()
    return journey


async def test_a_killed_worker_is_restarted_and_moves_journeys_again(
    platform: DevRun, referent: Account, http: httpx.AsyncClient
) -> None:
    killed = platform.kill("worker")

    await platform.back("worker", killed)
    await said(platform, "Le worker s'est arrêté (code -9) : redémarrage dans")
    journey = await enrol(http, referent)
    moved = await act(platform, http, journey, "begin-diagnosis")
    assert moved["step"] == "diagnosis"


async def test_a_killed_api_is_restarted_and_answers_again(
    platform: DevRun, http: httpx.AsyncClient
) -> None:
    killed = platform.kill("api")

    await platform.back("api", killed)
    await said(platform, "L'API s'est arrêtée (code -9) : redémarrage dans")
    await platform.healthy()
    listed = await http.get("/api/v1/journeys")
    assert listed.status_code == 200, listed.text


async def test_killed_simulators_are_restarted_and_answer_again(platform: DevRun) -> None:
    killed = platform.kill("simulators")

    await platform.back("simulators", killed)
    await said(platform, "Les simulateurs des partenaires se sont arrêtés (code -9)")


async def test_a_killed_temporal_server_comes_back_with_its_journeys(
    platform: DevRun, referent: Account, http: httpx.AsyncClient
) -> None:
    journey = await enrol(http, referent)
    assert (await act(platform, http, journey, "begin-diagnosis"))["step"] == "diagnosis"

    killed = platform.kill("temporal")

    await platform.back("temporal", killed)
    await said(platform, "Le serveur Temporal s'est arrêté (code -9) : redémarrage dans")
    await platform.healthy()  # the API's client found the server again
    read = await http.get(f"/api/v1/journeys/{journey}")
    assert read.status_code == 200, read.text
    assert read.json()["journey"]["step"] == "diagnosis"
    # The workflow is still in the server's SQLite file, and the worker runs it again.
    moved = await act(platform, http, journey, "complete-diagnosis")
    assert moved["step"] == "orientation"


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_sigterm_stops_every_component_and_restarts_none(tmp_path: Path) -> None:
    async with dev_run(tmp_path) as run:
        children = run.children()
        assert set(children) == set(COMPONENTS)

        status = await asyncio.to_thread(run.terminate)

        assert status == 0
        assert all(gone(pid) for pid in children.values())
        _, _, after = run.text().partition("Arrêt de Parcours")
        assert after and "redémarrage" not in after


async def test_a_part_that_cannot_start_fails_the_run_with_its_reason(tmp_path: Path) -> None:
    with socket.socket() as taken:  # the Temporal UI's port, held by someone else
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ui = f"http://127.0.0.1:{taken.getsockname()[1]}"
        async with dev_run(tmp_path, wait_ready=False, PARCOURS_TEMPORAL_UI_URL=ui) as run:
            status = await asyncio.to_thread(run.process.wait, PATIENCE_S)

            assert status == 1
            assert "Démarrage impossible (serveur Temporal)" in run.text()
            assert "redémarrage" not in run.text()
