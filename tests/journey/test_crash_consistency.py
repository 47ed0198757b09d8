"""The pages never show what the journey did not record (``resilience``).

Each test runs the platform as production does — a Temporal dev server on its own file,
``parcours worker`` and ``parcours api`` in their own processes — has people act on journeys
through the API while a component is killed (``kill -9``) and started again, then compares
every journey's workflow with its read model: same seq, same step, same paused flag, and no
event the workflow does not have. Each prints how long after the restart they agreed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateStage

from parcours.core.settings import ROOT, Settings
from parcours.journey import rules
from parcours.journey.messages import (
    Action,
    JourneyState,
    PauseInput,
    ResumeInput,
    journey_workflow_id,
)
from parcours.journey.models import JourneyEventRecord
from parcours.training_requests.messages import (
    TrainingRequestState,
    TrainingStatus,
    training_request_workflow_id,
)
from parcours.training_requests.models import TrainingRequestRecord
from tests.support.accounts import NewAccount, Staff
from tests.support.partners import PartnerStack
from tests.support.people import person_payload
from tests.support.platform import (
    Clients,
    PhantomWatch,
    Platform,
    WritesHeld,
    agreement,
    until,
    write_pending,
)
from tests.support.training_requests import add_training, follow, funder_account
from tests.support.workflows import settled

pytestmark = pytest.mark.resilience

PEOPLE = 6


@pytest.fixture
async def platform(settings: Settings, tmp_path: Path) -> AsyncIterator[Platform]:
    running = Platform(settings, tmp_path)
    try:
        await running.start()
        yield running
    finally:
        running.stop()


async def enrol(platform: Platform, staff: Staff, count: int = PEOPLE) -> list[str]:
    async with httpx.AsyncClient(base_url=platform.api_url, timeout=30) as http:
        ids = []
        for _ in range(count):
            response = await http.post(
                "/api/v1/beneficiaries",
                json=person_payload(referent_id=staff.referent_id),
                headers=staff.headers("orientation"),
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["beneficiary"]["id"])
        return ids


async def update_accepted(client: Client, beneficiary_id: str) -> None:
    """The engine accepts an update of the journey, as the API sends one: a pause, or a resume
    when it is paused (tried again if a client changed it meanwhile)."""
    handle = client.get_workflow_handle(journey_workflow_id(beneficiary_id))
    async with asyncio.timeout(60):
        while True:
            state = await handle.query("current", result_type=JourneyState)
            action: Action = ResumeInput() if state.paused else PauseInput()
            try:
                await handle.start_update(
                    rules.name_of(action),
                    action,
                    wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                    result_type=JourneyState,
                )
                return
            except WorkflowUpdateFailedError:
                continue


def report(what: str, since_restart: float, clients: Clients, platform: Platform) -> None:
    print(
        f"\n{what}: read model and workflows agreed {since_restart:.1f} s after the restart "
        f"(answers to the clients: {dict(sorted(clients.answers.items()))})"
    )
    # A fault is answered in French (503) or not at all (the API itself down): never a 500.
    # The API's own log says which error it was, should one get through.
    if 500 in clients.answers:
        log = (platform.workdir / "api.log").read_text(errors="replace")
        raise AssertionError(f"{clients.answers}\n{log[log.find('Traceback') :][:6000]}")


async def test_worker_killed_mid_update(
    platform: Platform, staff: Staff, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    ids = await enrol(platform, staff)
    clients = Clients(platform.api_url, staff.headers("referent"), ids)
    journeys = [journey_workflow_id(i) for i in ids]
    watch = PhantomWatch(platform.client, sessions, ids)

    async def fault() -> float:
        # The updates the engine records now cannot be written (the watch looks meanwhile):
        # the worker dies mid-update. One is sure to be: on SQLite the clients' requests may
        # all be held at their own commit, none reaching the engine.
        client = await platform.client()
        async with WritesHeld(settings.database_url):
            await update_accepted(client, ids[0])
            await until(lambda: write_pending(client, journeys))
            await watch.looked(2)
            platform.kill("worker")
        platform.launch("worker")
        restarted = time.monotonic()
        await watch.looked(2)  # and once the worker is back, while the read model catches up
        return restarted

    async with watch:
        restarted = await clients.during(fault)
    await agreement(await platform.client(), sessions, ids)
    report("worker killed mid-update", time.monotonic() - restarted, clients, platform)
    assert watch.looks > 3 and watch.seen == []
    assert clients.answers.get(200, 0) > 0


async def test_temporal_server_killed_mid_update_and_restarted_on_its_file(
    platform: Platform, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await enrol(platform, staff)
    clients = Clients(platform.api_url, staff.headers("referent"), ids)
    watch = PhantomWatch(platform.client, sessions, ids)

    async def fault() -> float:
        for _ in range(3):  # three times: each is a chance to catch a write not recorded
            await asyncio.sleep(1)
            platform.kill("temporal")
            await asyncio.sleep(1)
            platform.launch("temporal")
            await platform.wait_for_temporal()
            await watch.looked(1)  # the watch looks each time the engine is back
        restarted = time.monotonic()
        await watch.looked(2)
        return restarted

    async with watch:
        restarted = await clients.during(fault)
    await agreement(await platform.client(), sessions, ids)
    report("Temporal server killed (×3)", time.monotonic() - restarted, clients, platform)
    assert watch.looks > 3 and watch.seen == []
    assert clients.answers.get(200, 0) > 0


async def test_api_killed_mid_request(
    platform: Platform, staff: Staff, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    ids = await enrol(platform, staff)
    clients = Clients(platform.api_url, staff.headers("referent"), ids)

    async def fault() -> float:
        # Requests are waiting on their write when the API dies.
        async with WritesHeld(settings.database_url):
            await asyncio.sleep(1)
            platform.kill("api")
        platform.launch("api")
        await platform.wait_for_api()
        return time.monotonic()

    restarted = await clients.during(fault)
    await agreement(await platform.client(), sessions, ids)
    report("API killed mid-request", time.monotonic() - restarted, clients, platform)
    reconcile = await asyncio.to_thread(
        subprocess.run,
        # The test database holds other tests' journeys too (on other engines): these ones.
        [sys.executable, "-m", "cli.main", "reconcile", *(f"--journey={i}" for i in ids)],
        cwd=ROOT,
        env=platform.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert reconcile.returncode == 0, reconcile.stderr
    assert f"{PEOPLE} parcours vérifié(s), 0 différence(s) corrigée(s)" in reconcile.stdout


async def test_postgresql_restarted_under_load(
    platform: Platform, staff: Staff, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's own restart: in the PostgreSQL run of the suite")
    ids = await enrol(platform, staff)
    clients = Clients(platform.api_url, staff.headers("referent"), ids)

    def restart() -> None:
        version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
            check=True,
            timeout=120,
        )

    async def fault() -> float:
        await asyncio.to_thread(restart)
        return time.monotonic()

    restarted = await clients.during(fault)
    await sessions.kw["bind"].dispose()  # the test's own connections died with the server
    await agreement(await platform.client(), sessions, ids)
    report("PostgreSQL restarted", time.monotonic() - restarted, clients, platform)


async def test_a_child_workflows_sql_write_interrupted(
    partner_stack: PartnerStack,
    staff: Staff,
    new_account: NewAccount,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    tmp_path: Path,
) -> None:
    """A funder approves a training request while its write to SQL cannot happen; the worker
    dies in the middle. The request's page then shows what its workflow recorded, once."""
    running = Platform(
        settings,
        tmp_path,
        extra_env={"PARCOURS_PARTNERS_BASE_URL": partner_stack.settings.partners_base_url},
    )
    try:
        await running.start()
        client = await running.client()
        platform_settings = settings.model_copy(update={"task_queue": running.task_queue})
        person_id = await follow(sessions, client, platform_settings, staff)
        training_id = await add_training(sessions, "region")
        funder = await funder_account(sessions, new_account, "region")
        async with httpx.AsyncClient(base_url=running.api_url, timeout=60) as http:
            created = await http.post(
                "/api/v1/training-requests",
                json={"beneficiary_id": person_id, "training_id": training_id},
                headers=staff.headers("referent"),
            )
            assert created.status_code == 201, created.text
            request_id = created.json()["id"]
            await until(lambda: _sent(sessions, request_id))

            async def approve() -> httpx.Response | None:
                try:
                    return await http.post(
                        f"/api/v1/funder/training-requests/{request_id}/approval",
                        json={
                            "start_date": (date.today() + timedelta(days=30)).isoformat(),
                            "amount": "1200.00",
                            "reference": "REG-CRASH-1",
                        },
                        headers=funder.headers,
                    )
                except httpx.TransportError:
                    return None

            request = training_request_workflow_id(request_id)
            async with WritesHeld(settings.database_url):
                approving = asyncio.create_task(approve())
                # The engine recorded the approval; SQL waits.
                await until(lambda: write_pending(client, [request]))
                running.kill("worker")
            running.launch("worker")
            restarted = time.monotonic()
            answer = await approving
            # Approved, or its answer lost with the worker (the approval stands either way).
            assert answer is None or answer.status_code in (200, 503), answer.text

        handle = client.get_workflow_handle(training_request_workflow_id(request_id))

        async def agreed() -> bool:
            truth = await handle.query("current", result_type=TrainingRequestState)
            async with sessions() as session:
                row = await session.get(TrainingRequestRecord, request_id)
            return (
                row is not None
                and truth.status is TrainingStatus.APPROVED
                and (row.status, row.seq) == (truth.status.value, truth.seq)
            )

        await until(agreed, timeout_s=120)
        print(
            "\ntraining request approved while its write was cut: request and workflow agreed "
            f"{time.monotonic() - restarted:.1f} s after the restart"
        )
        # The request tells the journey after its own write: the timeline is read once both
        # have handled all of it.
        await settled(handle)
        await settled(client.get_workflow_handle(journey_workflow_id(person_id)))
        async with sessions() as session:
            kinds = [
                kind
                for (kind,) in await session.execute(
                    select(JourneyEventRecord.kind).where(
                        JourneyEventRecord.beneficiary_id == person_id
                    )
                )
            ]
        assert kinds.count("training_approved") == 1
        await agreement(client, sessions, [person_id])
    finally:
        running.stop()


async def _sent(sessions: async_sessionmaker[AsyncSession], request_id: str) -> bool:
    async with sessions() as session:
        row = await session.get(TrainingRequestRecord, request_id)
    return row is not None and row.sent_at is not None
