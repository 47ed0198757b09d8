"""Helpers of the partner tests: the stack they drive (``PartnerStack``, built by the
``partner_stack`` fixture of ``tests/conftest.py``), people and API tokens in SQL, and the
bodies of partner requests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle

from api.routes import partners as partner_routes
from parcours.access.rules import Role
from parcours.access.service import AccountService
from parcours.carnet.models import Beneficiary, Consent
from parcours.core.db import transaction
from parcours.core.settings import Settings
from simulators.synthetic import nir_key
from tests.support.probe import PartnerCallProbe, ProbeInput

Json = dict[str, Any]

CALLBACK_SECRET = "test-partner-callback-secret"
CALLBACKS_PATH = "/api/v1/partners/callbacks"


def with_partner_routes(app: FastAPI) -> FastAPI:
    """The app with the partners' routes (until ``api.app`` includes them itself)."""
    if not any(getattr(route, "path", None) == CALLBACKS_PATH for route in app.routes):
        app.include_router(partner_routes.router)
    return app


@dataclass
class PartnerStack:
    settings: Settings
    client: Client
    api_url: str
    partners_url: str
    sim: httpx.AsyncClient
    api: httpx.AsyncClient

    async def reset(self) -> None:
        (await self.sim.post("/_reset")).raise_for_status()

    async def switches(self, partner: str, **values: Any) -> None:
        (await self.sim.put(f"/_switches/{partner}", json=values)).raise_for_status()

    async def state(self, partner: str) -> dict[str, Any]:
        response = await self.sim.get(f"/{partner}/_state")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def probe(
        self, call: str, payload: dict[str, Any], step: str | None = None, **extra: Any
    ) -> WorkflowHandle[Any, Any]:
        """Start a workflow that makes ``call`` as a journey would."""
        return await self.client.start_workflow(
            PartnerCallProbe.run,
            ProbeInput(call=call, payload=payload, step=step or call, **extra),
            id=f"probe-{uuid.uuid4()}",
            task_queue=self.settings.task_queue,
        )


async def add_person(
    sessions: async_sessionmaker[AsyncSession],
    *,
    consents: tuple[str, ...] = (),
    **fields: Any,
) -> str:
    """A person straight into SQL (no journey), with the consents given."""
    tag = uuid.uuid4().hex[:6]
    values: dict[str, Any] = {
        "first_name": f"Prenom{tag}",
        "last_name": f"Nom{tag}",
        "birth_date": date(1988, 4, 12),
        "nir": "188047311512352",
        "caf_number": f"9{uuid.uuid4().int % 10**7:07d}",
        "email": f"personne.{tag}@exemple.fr",
        "phone": "0612345678",
        "territory": "73",
        **fields,
    }
    async with transaction(sessions) as session:
        person = Beneficiary(**values)
        session.add(person)
        await session.flush()
        for partner in consents:
            session.add(Consent(beneficiary_id=person.id, partner=partner, granted=True))
    return person.id


async def api_token(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, role: Role
) -> str:
    async with transaction(sessions) as session:
        accounts = AccountService(session, settings)
        user = await accounts.create_user(
            email=f"{role.value}-{uuid.uuid4().hex[:8]}@test.parcours.fr",
            full_name=f"Test {role.value}",
            role=role,
            territory="73",
        )
        await session.flush()
        return await accounts.create_api_token(user, "tests partenaires")


def unique_nir() -> str:
    first_13 = f"1880473{uuid.uuid4().int % 10**6:06d}"
    return first_13 + nir_key(first_13)


def orientation(beneficiary_id: str, **extra: Any) -> Json:
    return {
        "beneficiary_id": beneficiary_id,
        "orientation_id": f"or-{uuid.uuid4().hex[:8]}",
        "decided_on": date.today().isoformat(),
        **extra,
    }


def training_request(beneficiary_id: str, funder: str) -> Json:
    return {
        "beneficiary_id": beneficiary_id,
        "request_id": f"tr-{uuid.uuid4().hex[:8]}",
        "funder": funder,
        "training": {
            "title": "Titre professionnel Agent de restauration",
            "provider": "AFPA Chambéry",
            "starts_on": "2027-09-06",
            "hours": 420,
        },
        "requested_amount": "1850.00",
    }


def service_orientation(beneficiary_id: str) -> Json:
    return {
        "beneficiary_id": beneficiary_id,
        "orientation_id": f"os-{uuid.uuid4().hex[:8]}",
        "structure_id": "ccas-chambery",
        "service_id": "aide-mobilite",
    }


async def consent(
    sessions: async_sessionmaker[AsyncSession], person_id: str, *partners: str
) -> None:
    """The person agrees to share with ``partners`` (in SQL, as their carnet records it)."""
    async with transaction(sessions) as session:
        for partner in partners:
            session.add(Consent(beneficiary_id=person_id, partner=partner, granted=True))
