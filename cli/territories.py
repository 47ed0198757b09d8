"""``parcours territory …``: the départements this platform hosts, and opening a new one."""

from __future__ import annotations

import sys
from typing import TextIO

from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.errors import ParcoursError
from parcours.core.settings import Settings
from parcours.territories.service import TerritoryService


async def run_activate(
    settings: Settings, code: str, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Host the département ``code`` (the command acts as the platform's administrator)."""
    engine = create_engine(settings.database_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            territory = await TerritoryService(session).activate(code)
    except ParcoursError as error:
        print(error.message, file=err)
        return 1
    finally:
        await engine.dispose()
    print(f"Département {territory.label} accueilli sur la plateforme.", file=out)
    return 0


async def run_list(settings: Settings, *, out: TextIO = sys.stdout) -> int:
    """The hosted départements."""
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            hosted = await TerritoryService(session).hosted()
    finally:
        await engine.dispose()
    for territory in hosted:
        print(territory.label, file=out)
    return 0
