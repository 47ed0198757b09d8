"""The JSON API through HTTP, as its tests and the page tests drive it: enrol a person, act on
their journey, read it back (``read_until`` polls the read model); the app ``served`` on a
free port, or with a Temporal server that has gone away (``app_without_temporal``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from cli.temporal_server import binary
from parcours.carnet.models import Beneficiary
from parcours.core.settings import Settings
from parcours.journey.models import JourneyRecord
from tests.support.people import person_payload
from tests.support.servers import free_port, server_config

Json = dict[str, Any]

ENGINE_DOWN = "Le moteur de parcours ne répond pas : réessayez dans un instant."


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` served by uvicorn on a free port, and an HTTP client for it."""
    port = free_port()
    server = uvicorn.Server(server_config(app, port))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # the server could not start: say why
            await asyncio.sleep(0.05)
        # Long enough for the Temporal client to give up retrying a dead server.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield client
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def app_without_temporal(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app whose Temporal client reached a server that has since gone away."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"), data_converter=pydantic_data_converter
    )
    client = env.client
    await env.shutdown()
    async with served(create_app(settings, temporal=client)) as http:
        yield http


async def count_people(sessions: async_sessionmaker[AsyncSession], first_name: str) -> int:
    """Beneficiary rows, and journey rows, written for people of that (unique) first name."""
    async with sessions() as session:
        people = await session.scalar(
            select(func.count())
            .select_from(Beneficiary)
            .where(Beneficiary.first_name == first_name)
        )
        journeys = await session.scalar(
            select(func.count())
            .select_from(JourneyRecord)
            .join(Beneficiary, Beneficiary.id == JourneyRecord.beneficiary_id)
            .where(Beneficiary.first_name == first_name)
        )
    return (people or 0) + (journeys or 0)


async def enrol(http: httpx.AsyncClient, **overrides: object) -> str:
    response = await http.post("/api/v1/beneficiaries", json=person_payload(**overrides))
    assert response.status_code == 201, response.text
    beneficiary_id: str = response.json()["beneficiary"]["id"]
    return beneficiary_id


async def act(http: httpx.AsyncClient, beneficiary_id: str, action: str, **body: object) -> Json:
    response = await http.post(f"/api/v1/journeys/{beneficiary_id}/actions/{action}", json=body)
    assert response.status_code == 200, response.text
    journey: Json = response.json()
    return journey


async def read(http: httpx.AsyncClient, beneficiary_id: str) -> Json:
    response = await http.get(f"/api/v1/journeys/{beneficiary_id}")
    assert response.status_code == 200, response.text
    detail: Json = response.json()
    return detail


async def read_until(
    http: httpx.AsyncClient, beneficiary_id: str, reached: Callable[[Json], bool]
) -> Json:
    """The read model is written by the workflow's activity: poll it, within bounds."""
    for _ in range(200):
        detail = await read(http, beneficiary_id)
        if reached(detail):
            return detail
        await asyncio.sleep(0.05)
    raise AssertionError(f"the journey never reached the expected state: {detail}")


def kinds(detail: Json) -> list[str]:
    return [event["kind"] for event in detail["timeline"]]
