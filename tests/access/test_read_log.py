"""Reads log their row at their commit, not in the middle of the read: concurrent readers
are each logged once, a reader whose commit fails (a crash, the database gone) gets no carnet
and leaves no row, a rolled-back read logs nothing, and a read's commit waiting its turn
(``commit_turn``) never holds up a session that wrote before it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from parcours.access.models import AccessLogEntry
from parcours.access.read_log import commit_turn, log_read
from parcours.core.db import transaction
from parcours.core.settings import Settings
from tests.support.accounts import Staff
from tests.support.api import enrol, served
from tests.support.clients import ApiClients, api_clients


async def journey_reads(
    sessions: async_sessionmaker[AsyncSession], beneficiary_id: str
) -> list[AccessLogEntry]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AccessLogEntry).where(
                AccessLogEntry.beneficiary_id == beneficiary_id,
                AccessLogEntry.action == "read",
                AccessLogEntry.what == "journey",
            )
        )
        return list(rows)


async def test_twenty_concurrent_reads_are_twenty_rows_in_the_log(
    api: ApiClients, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=5)
    beneficiary_id = await enrol(api.referent)
    readers = [api.referent, api.manager, api.orientation, api.other_referent] * 5

    responses = await asyncio.gather(
        *(reader.get(f"/api/v1/journeys/{beneficiary_id}") for reader in readers)
    )

    assert [r.status_code for r in responses] == [200] * 20
    rows = await journey_reads(sessions, beneficiary_id)
    assert sorted(r.user_id or "" for r in rows) == sorted(
        [staff.referent_id, staff.manager_id, staff.orientation_id, staff.other_referent_id] * 5
    )
    assert all(started <= r.at <= datetime.now(UTC) for r in rows)


class CommitFails(Session):
    """A database that goes away at the commit, after the read."""

    def commit(self) -> None:
        raise OperationalError("COMMIT", {}, Exception("the database went away"))


async def test_no_carnet_is_shown_when_its_read_cannot_be_logged(
    settings: Settings,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
) -> None:
    app = create_app(settings, temporal=dev_env.client)
    async with served(app) as http, api_clients(str(http.base_url), staff) as api:
        beneficiary_id = await enrol(api.referent)
        working = app.state.sessions
        app.state.sessions = async_sessionmaker(
            working.kw["bind"], expire_on_commit=False, sync_session_class=CommitFails
        )
        try:
            response = await api.manager.get(f"/api/v1/journeys/{beneficiary_id}")
        finally:
            app.state.sessions = working

    assert response.status_code == 500
    assert "Prenom" not in response.text and beneficiary_id not in response.text
    assert await journey_reads(sessions, beneficiary_id) == []


async def test_a_session_that_commits_itself_writes_its_reads_and_a_rollback_none(
    sessions: async_sessionmaker[AsyncSession], staff: Staff
) -> None:
    kept, dropped = str(uuid.uuid4()), str(uuid.uuid4())
    async with transaction(sessions) as session:
        log_read(session, None, kept, "journey")
    async with sessions() as session:
        await session.execute(select(AccessLogEntry.id).limit(1))  # what the reader read
        log_read(session, None, dropped, "journey")
        await session.rollback()
        await session.commit()

    assert len(await journey_reads(sessions, kept)) == 1
    assert await journey_reads(sessions, dropped) == []


async def test_a_commit_waiting_its_turn_does_not_hold_up_one_that_wrote_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # On SQLite: the writer's change takes the file's write lock; the reader's commit takes the
    # turn, then waits for that lock; the writer's commit must not wait for the turn in return
    # (both would be stuck until SQLite's busy timeout, 30 s, then « database is locked »).
    wrote, read = str(uuid.uuid4()), str(uuid.uuid4())

    async def commit(session: AsyncSession) -> None:
        async with commit_turn(session):
            await session.commit()

    async with sessions() as writer, sessions() as reader:
        writer.add(AccessLogEntry(beneficiary_id=wrote, action="change", what="carnet"))
        await writer.flush()
        log_read(writer, None, wrote, "journey")
        await reader.execute(select(AccessLogEntry.id).limit(1))
        log_read(reader, None, read, "journey")
        reading = asyncio.create_task(commit(reader))
        await asyncio.sleep(0.3)  # the reader has the turn and waits for the file's lock
        async with asyncio.timeout(10):
            await commit(writer)
            await reading

    assert len(await journey_reads(sessions, wrote)) == 1
    assert len(await journey_reads(sessions, read)) == 1
