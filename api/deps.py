"""Dependencies, defined once as ``Annotated`` aliases.

All ``async def``: FastAPI runs a plain ``def`` dependency in a thread pool, a thread hop per
dependency and per request for what is an attribute read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from parcours.core.settings import Settings
from parcours.journey.service import JourneyService


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, else rolled back."""
    async with request.app.state.sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SettingsDep = Annotated[Settings, Depends(get_settings)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
# Ended with the endpoint, before the response is sent: a client told "done" finds its
# change committed (by default FastAPI ends a ``yield`` dependency after sending).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_journey_service(
    session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> JourneyService:
    return JourneyService(session, temporal, settings)


JourneyServiceDep = Annotated[JourneyService, Depends(get_journey_service)]
