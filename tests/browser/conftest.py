"""A real Chromium (Debian's, through Playwright) on the real app served by uvicorn.

The app, the Temporal dev server and its worker are the ones the API tests use
(``tests/conftest.py``); Playwright's own browsers are never downloaded.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import date

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from parcours.access.models import Structure, User
from parcours.core.db import transaction
from parcours.core.security import hash_password
from parcours.core.settings import Settings
from parcours.journey.schemas import BeneficiaryCreate
from parcours.journey.service import JourneyService
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Carnet
from tests.support.servers import free_port, server_config


@functools.cache
def _password_hash() -> str:
    """Argon2 is slow on purpose: hash the test password once."""
    return hash_password(PASSWORD)


@pytest.fixture(scope="session")
async def app_url(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
) -> AsyncIterator[str]:
    """The whole app on a free port, as a browser reaches it."""
    port = free_port()
    app = create_app(settings, temporal=dev_env.client)
    server = uvicorn.Server(server_config(app, port))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} absent: `make test` installs Debian's chromium")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser, app_url: str) -> AsyncIterator[Page]:
    """A fresh browser profile per test (no cookie carried over)."""
    context = await browser.new_context(
        base_url=app_url, locale="fr-FR", timezone_id="Europe/Paris"
    )
    context.set_default_timeout(15_000)
    tab = await context.new_page()
    yield tab
    await context.close()


@pytest.fixture
async def carnet(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, dev_env: WorkflowEnvironment
) -> Carnet:
    tag = uuid.uuid4().hex[:6]
    async with transaction(sessions) as session:
        structure = Structure(name=f"CCAS navigateur {tag}", kind="ccas", territory="73")
        session.add(structure)
        await session.flush()
        referent = User(
            email=f"referente-{tag}@test.parcours.fr",
            full_name=f"Référente Navigateur {tag}",
            role="referent",
            territory="73",
            structure_id=structure.id,
            password_hash=_password_hash(),
        )
        session.add(referent)
        await session.flush()
        referent_email, referent_id, structure_id = referent.email, referent.id, structure.id
    first, last = f"Lina{tag}", f"Navigateur{tag}"
    async with transaction(sessions) as session:
        enrolment = await JourneyService(session, dev_env.client, settings).enrol(
            BeneficiaryCreate(
                first_name=first,
                last_name=last,
                birth_date=date(1990, 5, 17),
                email=f"lina.{tag}@exemple.fr",
                postal_code="73000",
                city="Chambéry",
                territory="73",
                rsa_opened_on=date.today(),
                referent_id=referent_id,
                structure_id=structure_id,
            ),
            actor_id=referent_id,
        )
        beneficiary_id = enrolment.beneficiary.id
        person = User(
            email=f"lina.{tag}@exemple.fr",
            full_name=f"{first} {last}",
            role="beneficiary",
            territory="73",
            beneficiary_id=beneficiary_id,
            password_hash=_password_hash(),
        )
        session.add(person)
        person_email = person.email
    return Carnet(referent_email, beneficiary_id, first, last, person_email)
