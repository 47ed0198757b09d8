"""A worker killed (``kill -9``) while an orientation is on its way to a partner
(``resilience``): France Travail told of a professional orientation, a structure sent an
orientation to one of its services.

The partner records the orientation, then holds its answer: the call is in flight when
``parcours worker`` dies; another worker takes over. The partner has the orientation once (its
idempotency key seen twice), the workflow ends as it should, and the journey's timeline — its
read model, which agrees with the workflow — says it once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.journey.messages import journey_workflow_id
from parcours.orientations.messages import (
    france_travail_notice_workflow_id,
    service_orientation_workflow_id,
)
from tests.support.accounts import Staff
from tests.support.api import act, enrol, read
from tests.support.partners import PartnerStack, consent
from tests.support.platform import disagreements
from tests.support.resources import add_service
from tests.support.workers import WorkerOnItsQueue
from tests.support.workflows import settled

pytestmark = pytest.mark.resilience

Json = dict[str, Any]


async def timeline(
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    worker: WorkerOnItsQueue,
    person_id: str,
) -> list[Json]:
    """The journey's timeline once the journey has handled all it was told (its read model
    written, and agreeing with the workflow)."""
    await settled(partners.client.get_workflow_handle(journey_workflow_id(person_id)))
    assert await disagreements(partners.client, sessions, [person_id]) == []
    events: list[Json] = (await read(worker.api.referent, person_id))["timeline"]
    return events


async def test_a_worker_killed_while_france_travail_receives_a_notice_sends_it_once(
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    staff: Staff,
    worker_process: WorkerOnItsQueue,
) -> None:
    w = worker_process
    person_id = await enrol(
        w.api.referent, referent_id=staff.referent_id, structure_id=staff.structure_id
    )
    await consent(sessions, person_id, "france_travail")
    await act(w.api.referent, person_id, "begin-diagnosis")
    await act(w.api.referent, person_id, "complete-diagnosis")
    await partners.switches("france-travail", timeout_next=1, hold_ms=15_000)

    decided = await act(
        w.api.orientation,
        person_id,
        "decide-orientation",
        kind="professional",
        structure_id=staff.structure_id,
        referent_id=staff.referent_id,
    )
    notice = partners.client.get_workflow_handle(
        france_travail_notice_workflow_id(person_id, decided["seq"])
    )
    key = f"{notice.id}:notify"

    async def received() -> Json | None:
        by_key: dict[str, Json] = (await partners.state("france-travail"))["orientations_by_key"]
        return by_key.get(key)

    await w.process.kill_once(received, "France Travail received the notice")
    result = await asyncio.wait_for(notice.result(), timeout=90)

    # France Travail has one notice for the person, sent twice under the same key.
    state = await partners.state("france-travail")
    prefix = f"france-travail-notice-{person_id}-"
    (held,) = [o for o in state["orientations"] if o["notice"]["orientation_id"].startswith(prefix)]
    assert held["idempotency_key"] == key
    assert state["orientations_by_key"][key]["attempts"] == 2
    assert result == {"notified": True, "reference": held["reference"], "reason": None}
    told = [
        e
        for e in await timeline(partners, sessions, w, person_id)
        if e["kind"].startswith("france")
    ]
    assert [(e["kind"], e["detail"]["reference"]) for e in told] == [
        ("france_travail_notified", held["reference"])
    ]


async def test_a_worker_killed_while_a_structure_receives_an_orientation_sends_it_once(
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    staff: Staff,
    worker_process: WorkerOnItsQueue,
) -> None:
    w = worker_process
    resource = await add_service(sessions)
    person_id = await enrol(
        w.api.referent, referent_id=staff.referent_id, structure_id=staff.structure_id
    )
    await act(w.api.referent, person_id, "begin-diagnosis")
    await consent(sessions, person_id, "structures")
    await partners.switches("structures", timeout_next=1, hold_ms=15_000)

    response = await w.api.referent.post(
        "/api/v1/service-orientations",
        json={"beneficiary_id": person_id, "service_id": resource.service_id},
    )
    assert response.status_code == 201, response.text
    orientation_id = response.json()["id"]
    handle = partners.client.get_workflow_handle(service_orientation_workflow_id(orientation_id))
    key = f"{handle.id}:send"

    async def received() -> Json | None:
        by_key: dict[str, Json] = (await partners.state("structures"))["orientations_by_key"]
        return by_key.get(key)

    async def orientations() -> list[Json]:
        response = await w.api.referent.get(
            f"/api/v1/beneficiaries/{person_id}/service-orientations"
        )
        assert response.status_code == 200, response.text
        found: list[Json] = response.json()
        return found

    async def sent() -> list[Json] | None:
        found = await orientations()
        return found if found and found[0]["status"] == "sent" else None

    await w.process.kill_once(received, "the structure received the orientation")
    (orientation,) = await w.process.until(sent, "the orientation was sent")

    # The structure has one orientation, sent twice under the same key.
    state = await partners.state("structures")
    (held,) = [
        o for o in state["orientations"] if o["orientation"]["orientation_id"] == orientation_id
    ]
    assert held["idempotency_key"] == key
    assert state["orientations_by_key"][key]["attempts"] == 2
    assert orientation["reference"] == held["reference"]

    # The structure accepts: the orientation ends accepted, said once everywhere.
    answer = await partners.sim.post(
        f"/structures/_answer/{held['reference']}",
        params={"wait": "true"},
        json={"accepted": True},
    )
    assert answer.status_code == 200, answer.text
    assert (await asyncio.wait_for(handle.result(), timeout=60))["status"] == "accepted"
    told = [
        e["kind"]
        for e in await timeline(partners, sessions, w, person_id)
        if "orient" in e["kind"] and e["kind"] != "orientation_decided"
    ]
    assert told == [
        "oriented_to_service",
        "service_orientation_sent",
        "service_orientation_accepted",
    ]
    assert [(o["id"], o["status"]) for o in await orientations()] == [(orientation_id, "accepted")]
