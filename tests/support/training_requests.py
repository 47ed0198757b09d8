"""Setting up training requests: a training on offer and a funder's account in SQL, a person
followed up to accompaniment through the services; ``until`` waits for the workflows to catch up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from parcours.access.models import Structure
from parcours.carnet.models import Consent
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.messages import (
    BeginDiagnosisInput,
    CompleteDiagnosisInput,
    DecideOrientationInput,
    OrientationKind,
)
from parcours.journey.schemas import BeneficiaryCreate
from parcours.journey.service import JourneyService
from parcours.resources.models import Training
from parcours.resources.text import normalise
from tests.support.accounts import Account, NewAccount, Staff
from tests.support.people import person_payload

T = TypeVar("T")


async def until(check: Callable[[], Awaitable[T | None]]) -> T:
    """``check()`` once it holds (the workflow and its activities have caught up)."""
    async with asyncio.timeout(30):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(0.1)


async def add_training(
    sessions: async_sessionmaker[AsyncSession],
    funder: str,
    *,
    starts_in_days: int = 30,
    places_left: int | None = 8,
    today: date | None = None,
) -> str:
    start = (today or date.today()) + timedelta(days=starts_in_days)
    tag = uuid.uuid4().hex[:6]
    title = f"Titre professionnel Agent de restauration {tag}"
    async with transaction(sessions) as session:
        training = Training(
            reference=f"test-{tag}",
            title=title,
            organisation="AFPA Chambéry",
            funder=funder,
            start_on=start,
            end_on=start + timedelta(weeks=12),
            places_left=places_left,
            weekly_hours=35.0,
            weeks=12,
            city="Chambéry",
            postal_code="73000",
            search_text=normalise(title),
        )
        session.add(training)
    return training.id


async def funder_account(
    sessions: async_sessionmaker[AsyncSession], new_account: NewAccount, body: str
) -> Account:
    """A funder of the Région or of France Travail (their structure's kind says which)."""
    async with transaction(sessions) as session:
        structure = Structure(
            name=f"Financeur {body} {uuid.uuid4().hex[:6]}", kind=body, territory="73"
        )
        session.add(structure)
    return await new_account("funder", structure_id=structure.id)


async def follow(
    sessions: async_sessionmaker[AsyncSession],
    client: Client,
    settings: Settings,
    staff: Staff,
    *,
    consents: tuple[str, ...] = ("region",),
    today: date | None = None,
    now: datetime | None = None,
) -> str:
    """A person the staff's référent follows, their journey in accompaniment, with the
    consents given."""
    payload = person_payload(
        referent_id=staff.referent_id,
        structure_id=staff.structure_id,
        rsa_opened_on=(today or date.today()).isoformat(),
    )
    async with transaction(sessions) as session:
        enrolment = await JourneyService(session, client, settings).enrol(
            BeneficiaryCreate.model_validate(payload), actor_id=staff.orientation_id, now=now
        )
    person_id = enrolment.beneficiary.id
    for action in (
        BeginDiagnosisInput(actor_id=staff.referent_id),
        CompleteDiagnosisInput(actor_id=staff.referent_id),
        DecideOrientationInput(
            kind=OrientationKind.SOCIO_PROFESSIONAL,
            structure_id=staff.structure_id,
            referent_id=staff.referent_id,
            actor_id=staff.orientation_id,
        ),
    ):
        async with transaction(sessions) as session:
            await JourneyService(session, client, settings).act(person_id, action)
    if consents:
        async with transaction(sessions) as session:
            for partner in consents:
                session.add(Consent(beneficiary_id=person_id, partner=partner, granted=True))
    return person_id
