"""The partner simulators served by uvicorn on a free port, with a small stand-in for Parcours
that receives their callbacks, checks the signatures and can answer 500 on demand."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from simulators.app import create_app
from tests.support.simulators import CallbackReceiver, serve, simulator_config


@pytest.fixture(scope="session")
async def receiver() -> AsyncIterator[CallbackReceiver]:
    stand_in = CallbackReceiver()
    async with serve(stand_in.app()) as url:
        stand_in.url = f"{url}/callbacks"
        yield stand_in


@pytest.fixture(scope="session")
async def simulators_url(receiver: CallbackReceiver) -> AsyncIterator[str]:
    async with serve(create_app(simulator_config(receiver))) as url:
        yield url


@pytest.fixture
async def sim(simulators_url: str, receiver: CallbackReceiver) -> AsyncIterator[httpx.AsyncClient]:
    """A client of freshly reset simulators (no data, no switches, no pending callbacks)."""
    async with httpx.AsyncClient(base_url=simulators_url, timeout=10) as client:
        (await client.post("/_reset")).raise_for_status()
        receiver.reset()
        yield client
