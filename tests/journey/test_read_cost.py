"""What a read of a journey costs the database: a fixed number of statements, however long its
story and however many agents acted in it. A statement per event or per actor would make the
page of a journey that lived two years slow for everyone reading at the same time; and every
statement is CPU of the API (on SQLite, about a third of a read's: ``docs/CAPACITY.md``).

The statements are counted on the engine of an app of the test's own (the session's shared
app also serves other tests' requests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from parcours.core.settings import Settings
from tests.support.accounts import Staff
from tests.support.api import act, enrol, read, read_until, served
from tests.support.clients import ApiClients, api_clients

# The token, the journey with its hand-offs, person, structure and département, its events,
# the names of who acted, the département's chargé·es d'orientation, the stays in each step,
# the person's training requests and orientations to a service, the access log's row.
STATEMENTS_PER_READ = 9


@dataclass
class CountedApi:
    api: ApiClients
    statements: list[str] = field(default_factory=list)


@pytest.fixture
async def counted_api(
    settings: Settings,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
) -> AsyncIterator[CountedApi]:
    app = create_app(settings, temporal=dev_env.client)
    async with served(app) as http, api_clients(str(http.base_url), staff) as api:
        counted = CountedApi(api)
        engine: AsyncEngine = app.state.sessions.kw["bind"]

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            counted.statements.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        yield counted


async def statements_of_a_read(
    counted: CountedApi, http: httpx.AsyncClient, beneficiary_id: str
) -> tuple[list[str], dict[str, Any]]:
    counted.statements.clear()
    detail = await read(http, beneficiary_id)
    return list(counted.statements), detail


async def test_a_read_costs_as_many_statements_for_a_long_story_as_for_a_short_one(
    counted_api: CountedApi, staff: Staff
) -> None:
    referent, officer = counted_api.api.referent, counted_api.api.orientation
    beneficiary_id = await enrol(referent)
    await read_until(referent, beneficiary_id, lambda d: len(d["timeline"]) >= 1)
    await read(referent, beneficiary_id)  # the token's use is noted once a minute at most
    short, first = await statements_of_a_read(counted_api, referent, beneficiary_id)

    await act(referent, beneficiary_id, "begin-diagnosis")
    await act(referent, beneficiary_id, "complete-diagnosis")
    orientation = {
        "kind": "social",
        "structure_id": staff.structure_id,
        "referent_id": staff["referent"].id,
    }
    await act(officer, beneficiary_id, "decide-orientation", **orientation)
    await read_until(referent, beneficiary_id, lambda d: d["journey"]["step"] == "accompaniment")
    await read(referent, beneficiary_id)
    long, later = await statements_of_a_read(counted_api, referent, beneficiary_id)

    # The read shows the longer story, with both agents' names and the structure …
    assert len(later["timeline"]) > len(first["timeline"])
    actors = {entry["actor"]["id"] for entry in later["timeline"] if entry["actor"]}
    assert {staff["referent"].id, staff["orientation"].id} <= actors
    assert later["structure"]["id"] == staff.structure_id
    assert later["next_steps"] is not None
    # … for the same statements as the short one, within the budget.
    assert len(long) == len(short), "\n".join(long)
    assert len(short) <= STATEMENTS_PER_READ, "\n\n".join(short)
