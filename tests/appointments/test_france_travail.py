"""Appointments and France Travail (issue 14, item 7), on the partner stack: each status of an
accompaniment appointment reaches France Travail's « Rendez-vous partenaire » once, in its
words; a person who did not consent to share with France Travail is not sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from parcours.appointments.messages import (
    AppointmentState,
    appointment_workflow_id,
    france_travail_notice_id,
)
from parcours.carnet.models import Consent
from parcours.core.db import transaction
from parcours.partners.messages import FranceTravailAppointmentResult
from tests.support.accounts import Staff
from tests.support.api import enrol
from tests.support.appointments import booking_link
from tests.support.clients import ApiClients, api_clients
from tests.support.partners import PartnerStack
from tests.support.platform import until

pytestmark = pytest.mark.appointments


@pytest.fixture
async def api(partners: PartnerStack, staff: Staff) -> AsyncIterator[ApiClients]:
    """The API of the app whose worker calls the partners."""
    async with api_clients(partners.api_url, staff) as clients:
        yield clients


async def statuses(partners: PartnerStack, appointment_id: str) -> list[str]:
    updates: list[dict[str, Any]] = (await partners.state("france-travail"))["appointment_updates"]
    return [u["appointment"]["statut"] for u in updates if u["appointment"]["id"] == appointment_id]


async def notices(
    partners: PartnerStack, appointment_id: str
) -> list[FranceTravailAppointmentResult] | None:
    """What each notice to France Travail of this appointment ended with, once both ended."""
    client = partners.client
    handle = client.get_workflow_handle(appointment_workflow_id(appointment_id))
    state = await handle.query("current", result_type=AppointmentState)
    results = []
    for seq in range(1, state.seq + 1):
        notice = client.get_workflow_handle(
            france_travail_notice_id(appointment_id, seq),
            result_type=FranceTravailAppointmentResult,
        )
        try:
            described = await notice.describe()
        except RPCError:
            continue  # no status of this change goes to France Travail
        if described.status != WorkflowExecutionStatus.COMPLETED:
            return None
        results.append(await notice.result())
    return results if len(results) == 2 else None


async def book_and_cancel(api: ApiClients, person_id: str) -> str:
    token = await booking_link(api, person_id, kind="accompagnement")
    page = (await api.referent.get(f"/api/v1/rdv/{token}")).json()
    # More than 24 hours ahead: she may still cancel it from her link.
    tomorrow = datetime.now(UTC) + timedelta(hours=25)
    offer = next(o for o in page["offers"] if datetime.fromisoformat(o["starts_at"]) > tomorrow)
    booked = await api.referent.post(
        f"/api/v1/rdv/{token}/booking",
        json={"slot_id": offer["slot_id"], "starts_at": offer["starts_at"]},
    )
    assert booked.status_code == 200, booked.text
    cancelled = await api.referent.post(f"/api/v1/rdv/{token}/cancellation")
    assert cancelled.status_code == 200, cancelled.text
    appointment_id: str = page["appointment"]["id"]
    return appointment_id


async def test_each_status_reaches_france_travail_once_with_her_consent(
    api: ApiClients, partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    person_id = await enrol(api.referent)
    async with transaction(sessions) as session:
        session.add(Consent(beneficiary_id=person_id, partner="france_travail", granted=True))
    appointment_id = await book_and_cancel(api, person_id)

    async def both() -> list[str] | None:
        found = await statuses(partners, appointment_id)
        return found if len(found) >= 2 else None

    # Booked, then cancelled: « pris » then « annulé », each once, in that order.
    assert await until(both) == ["PRIS", "ANNULE"]
    results = await until(lambda: notices(partners, appointment_id))
    assert [r.sent for r in results] == [True, True]
    assert await statuses(partners, appointment_id) == ["PRIS", "ANNULE"]


async def test_nothing_reaches_france_travail_without_her_consent(
    api: ApiClients, partners: PartnerStack
) -> None:
    person_id = await enrol(api.referent)
    appointment_id = await book_and_cancel(api, person_id)
    results = await until(lambda: notices(partners, appointment_id))
    assert [(r.sent, r.skipped) for r in results] == [(False, "consent_missing")] * 2
    assert await statuses(partners, appointment_id) == []
