"""A worker killed (``kill -9``) while a training request is on its way to its funder, the Région
or France Travail (``resilience``).

The funder records the request, then holds its answer: the call is in flight when ``parcours
worker`` dies; another worker takes over. The funder has the request once (its idempotency key
seen twice), the request's row and workflow carry the funder's one reference, and the request
goes on: the funder's decision ends it, and the journey's timeline says each step once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.journey.messages import journey_workflow_id
from parcours.journey.models import JourneyEventRecord
from parcours.training_requests.messages import (
    TrainingRequestResult,
    TrainingRequestState,
    TrainingStatus,
    training_request_workflow_id,
)
from parcours.training_requests.models import TrainingRequestRecord
from tests.support.accounts import Staff
from tests.support.partners import PartnerStack
from tests.support.platform import disagreements
from tests.support.training_requests import add_training, follow
from tests.support.workers import WorkerOnItsQueue
from tests.support.workflows import settled

pytestmark = pytest.mark.resilience


async def requests_of(
    sessions: async_sessionmaker[AsyncSession], person_id: str
) -> list[TrainingRequestRecord]:
    async with sessions() as session:
        rows = await session.scalars(
            select(TrainingRequestRecord).where(TrainingRequestRecord.beneficiary_id == person_id)
        )
        return list(rows)


@pytest.mark.parametrize(
    ("funder", "partner"), [("region", "region"), ("france_travail", "france-travail")]
)
async def test_a_worker_killed_while_the_funder_receives_a_request_sends_it_once(
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    staff: Staff,
    worker_process: WorkerOnItsQueue,
    funder: str,
    partner: str,
) -> None:
    w = worker_process
    person_id = await follow(sessions, partners.client, w.settings, staff, consents=(funder,))
    training_id = await add_training(sessions, funder)
    await partners.switches(partner, timeout_next=1, hold_ms=15_000)

    created = await w.api.referent.post(
        "/api/v1/training-requests",
        json={"beneficiary_id": person_id, "training_id": training_id},
    )
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    handle = partners.client.get_workflow_handle(
        training_request_workflow_id(request_id), result_type=TrainingRequestResult
    )
    key = f"{handle.id}:submit"

    async def received() -> dict[str, object] | None:
        by_key: dict[str, dict[str, object]] = (await partners.state(partner))[
            "training_requests_by_key"
        ]
        return by_key.get(key)

    async def sent() -> list[TrainingRequestRecord] | None:
        found = await requests_of(sessions, person_id)
        return found if found and found[0].sent_at is not None else None

    await w.process.kill_once(received, f"the funder ({partner}) received the request")
    (row,) = await w.process.until(sent, "the request was sent")

    # The funder has one request, sent twice under the same key; the request's row and its
    # workflow carry the funder's reference.
    state = await partners.state(partner)
    (held,) = [r for r in state["training_requests"] if r["request"]["request_id"] == request_id]
    assert held["idempotency_key"] == key
    assert state["training_requests_by_key"][key]["attempts"] == 2
    assert (row.id, row.status, row.funder_reference) == (
        request_id,
        "submitted",
        held["reference"],
    )
    current = await handle.query("current", result_type=TrainingRequestState)
    assert (current.status, current.funder_reference, current.seq) == (
        TrainingStatus.SUBMITTED,
        held["reference"],
        row.seq,
    )

    # The request goes on: the funder's own system refuses it, which ends it.
    decided = await partners.sim.post(
        f"/{partner}/_decide/{held['reference']}",
        params={"wait": "true"},
        json={"decision": "refused", "reason": "Session complète."},
    )
    decided.raise_for_status()
    assert (await asyncio.wait_for(handle.result(), timeout=60)).status is TrainingStatus.REFUSED
    await settled(partners.client.get_workflow_handle(journey_workflow_id(person_id)))
    assert await disagreements(partners.client, sessions, [person_id]) == []
    async with sessions() as session:
        kinds = list(
            await session.scalars(
                select(JourneyEventRecord.kind)
                .where(JourneyEventRecord.beneficiary_id == person_id)
                .order_by(JourneyEventRecord.seq)
            )
        )
    assert [k for k in kinds if k.startswith("training")] == [
        "training_requested",
        "training_refused",
    ]
    assert [(r.id, r.status) for r in await requests_of(sessions, person_id)] == [
        (request_id, "refused")
    ]
