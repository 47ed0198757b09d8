"""A reorientation to the professional track is told to France Travail like a first
orientation (the partner stack: its simulator receives the notice)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.orientations.test_orientations import (
    Sessions,
    consent,
    france_travail_notices,
    kinds,
    timeline,
    until,
)
from tests.support.accounts import Staff
from tests.support.api import act
from tests.support.clients import ApiClients, api_clients
from tests.support.partners import PartnerStack
from tests.support.people import person_payload

pytestmark = pytest.mark.law


@pytest.fixture
async def api(partners: PartnerStack, staff: Staff) -> AsyncIterator[ApiClients]:
    async with api_clients(partners.api_url, staff) as clients:
        yield clients


async def test_a_reorientation_to_france_travail_is_told_to_it(
    partners: PartnerStack, api: ApiClients, sessions: Sessions, staff: Staff
) -> None:
    response = await api.referent.post(
        "/api/v1/beneficiaries",
        json=person_payload(referent_id=staff.referent_id, structure_id=staff.structure_id),
    )
    assert response.status_code == 201, response.text
    bid = response.json()["beneficiary"]["id"]
    await consent(sessions, partners.client, partners.settings, staff, bid, "france_travail")
    await act(api.referent, bid, "begin-diagnosis")
    await act(api.referent, bid, "complete-diagnosis")
    await act(
        api.orientation,
        bid,
        "decide-orientation",
        kind="social",
        structure_id=staff.structure_id,
        referent_id=staff.referent_id,
    )
    base = f"/api/v1/journeys/{bid}/reorientations"
    asked = await api.referent.post(base, json={"reason_code": "ready_for_employment"})
    assert asked.status_code == 201, asked.text
    assert await france_travail_notices(partners, bid) == []
    decided = await api.orientation.post(
        f"{base}/{asked.json()['id']}/decision",
        json={"accepted": True, "kind": "professional", "structure_id": staff.structure_id},
    )
    assert decided.status_code == 200, decided.text
    await until(lambda: timeline(api, bid), lambda t: "france_travail_notified" in kinds(t))
    assert len(await france_travail_notices(partners, bid)) == 1
