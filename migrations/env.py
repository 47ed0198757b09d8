"""Alembic environment: migrates the database named by the settings (async engines)."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

import parcours.appointments.models  # places, slots, appointments
import parcours.core.outbox  # the mail outbox's table
import parcours.exits.models  # the départements' coded exits
import parcours.inbox.models  # the agents' inboxes
import parcours.indicators.models
import parcours.management.models  # the managers' console's tables
import parcours.orientations.models  # their tables share the metadata too
import parcours.partners.models
import parcours.reorientation.models  # reorientation requests and their reasons
import parcours.sms.models  # the SMS outbox
import parcours.territories.models  # noqa: F401  (their tables share the metadata)
from parcours.core.db import Base, create_engine
from parcours.core.settings import get_settings

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _online(url: str) -> None:
    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def run() -> None:
    url: Any = context.config.attributes.get("database_url") or get_settings().database_url
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(_online(url))


run()
