"""A worker killed (``kill -9``) in the middle of partner work, as production runs it
(``python -m cli.main worker`` in its own process): another worker takes over and the work is
done once — nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus

from parcours.carnet.models import Beneficiary
from parcours.core.db import transaction
from parcours.partners.caf_import import CafImportService
from parcours.partners.messages import CafImportProgress, caf_import_workflow_id
from parcours.partners.models import CafFeedLine
from tests.support.caf_feed import feed_file, journeys_reach, lines_apart, people_with
from tests.support.partners import PartnerStack, add_person, orientation
from tests.support.workers import WorkerOnItsQueue

pytestmark = pytest.mark.resilience


async def test_a_worker_killed_during_a_partner_call_sends_it_once(
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    worker_process: WorkerOnItsQueue,
) -> None:
    person_id = await add_person(sessions, consents=("france_travail",))
    # France Travail records the orientation, then holds its answer for 15 s.
    await partners.switches("france-travail", timeout_next=1, hold_ms=15_000)
    worker = worker_process.process
    handle = await partners.probe(
        "notify_france_travail_orientation",
        orientation(person_id),
        "orientation-1",
        activity_task_queue=worker_process.settings.task_queue,
    )

    async def received() -> list[Any]:
        return list((await partners.state("france-travail"))["orientations"])

    (first,) = await worker.kill_once(received, "France Travail received the orientation")
    receipt = await asyncio.wait_for(handle.result(), timeout=60)

    state = await partners.state("france-travail")
    assert receipt == {"reference": first["reference"], "replayed": True}
    assert [o["reference"] for o in state["orientations"]] == [first["reference"]]
    assert state["orientations_by_key"][f"{handle.id}:orientation-1"]["attempts"] == 2


async def test_a_worker_killed_during_a_caf_import_leaves_nothing_lost_nothing_doubled(
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    worker_process: WorkerOnItsQueue,
    tmp_path: Path,
) -> None:
    path, expected = await feed_file(sessions, tmp_path, 200, malformed=10)
    worker, worker_settings = worker_process.process, worker_process.settings
    async with transaction(sessions) as session:
        service = CafImportService(session, partners.client, worker_settings)
        file_id, _ = await service.store(path.name, path.read_bytes())
    async with transaction(sessions) as session:
        await CafImportService(session, partners.client, worker_settings).start(file_id)

    async def applied() -> int:
        async with sessions() as session:
            done = await session.scalar(
                select(func.count())
                .select_from(CafFeedLine)
                .where(CafFeedLine.file_id == file_id, CafFeedLine.outcome.is_not(None))
            )
            return int(done or 0) if (done or 0) >= 30 else 0

    halfway = await worker.kill_once(applied, "30 lines were applied")
    assert halfway < 200
    handle = partners.client.get_workflow_handle(
        caf_import_workflow_id(file_id), result_type=CafImportProgress
    )
    result = await asyncio.wait_for(handle.result(), timeout=120)

    assert result.counts.processed == 200
    assert await lines_apart(sessions, file_id, expected) == {}
    assert (result.counts.created, result.counts.signalled, result.counts.rejected) == (
        expected.count("created"),
        expected.count("signalled"),
        expected.count("rejected"),
    )
    people = await people_with(sessions, list(expected.final_status))
    assert {caf: len(found) for caf, found in people.items() if len(found) != 1} == {}
    assert await journeys_reach(sessions, expected.final_status) == {
        caf: status.value for caf, status in expected.final_status.items()
    }
    async with sessions() as session:
        enrolled = await session.scalar(
            select(func.count())
            .select_from(Beneficiary)
            .where(Beneficiary.caf_number.in_(list(expected.final_status)))
        )
    assert enrolled == expected.count("created")
    # Nor a second journey: every journey started on that queue belongs to someone. Temporal
    # lists executions a little after it records them: they are counted once it lists the
    # import ended, which it recorded after every journey the import started.
    query = f"TaskQueue = '{worker_settings.task_queue}'"

    async def listed() -> list[str] | None:
        executions = [e async for e in partners.client.list_workflows(query)]
        ended = any(
            e.id == handle.id and e.status is WorkflowExecutionStatus.COMPLETED for e in executions
        )
        journeys = [e.id for e in executions if e.workflow_type == "Journey"]
        return journeys if ended and len(journeys) >= (enrolled or 0) else None

    journeys = await worker.until(listed, "Temporal listed the import and its journeys")
    async with sessions() as session:
        orphans = [
            workflow_id
            for workflow_id in journeys
            if await session.get(Beneficiary, workflow_id.removeprefix("journey-")) is None
        ]
    # A journey started by an attempt the kill interrupted is adopted by the retry.
    assert orphans == []
    assert len(journeys) == enrolled
