"""No personal data ever reaches Temporal: a history is immutable, the SQL database is not.

A person is enrolled with recognisable personal data, their journey goes through several
actions, a CAF signal and continue-as-new; then every run's whole history is searched, as
JSON text and with every payload decoded, for any of those values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from parcours.core.settings import Settings
from parcours.journey.messages import CloseInput, ExitReason, RsaRightsChangedInput, RsaStatus
from tests.support.accounts import Staff
from tests.support.journeys import (
    Journeys,
    act,
    drive_through_runs,
    eventually,
    journeys_on,
    runs,
    short_history_server,
)
from tests.support.privacy import forms, recognisable_person, searchable
from workflows.journey import Journey


@pytest.fixture(scope="module")
async def short_history_env() -> AsyncIterator[WorkflowEnvironment]:
    async with short_history_server() as env:
        yield env


@pytest.fixture
async def journeys(
    short_history_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
) -> AsyncIterator[Journeys]:
    async with journeys_on(short_history_env, sessions, settings, staff) as journeys:
        yield journeys


async def test_no_personal_data_in_any_run_of_a_journey(journeys: Journeys) -> None:
    person = recognisable_person()
    handle = await journeys.enrol(
        {k: v.isoformat() if isinstance(v, date) else v for k, v in person.items()}
    )
    await drive_through_runs(journeys, handle)
    today = (await journeys.now()).date()
    await handle.signal(
        Journey.rsa_rights_changed,
        RsaRightsChangedInput(status=RsaStatus.SUSPENDED, effective_on=today),
    )
    await eventually(handle, lambda s: s.rsa_status is RsaStatus.SUSPENDED)
    await act(handle, CloseInput(exit_reason=ExitReason.OTHER))
    assert (await handle.result()).exit_reason is ExitReason.OTHER

    histories = await runs(journeys, handle)
    assert len(histories) >= 2, "the journey should have continued as new"
    beneficiary_id = handle.id.removeprefix("journey-")
    for number, history in enumerate(histories, start=1):
        haystack = searchable(history)
        # The search does see inside payloads: the journey's ids and decisions are there.
        assert beneficiary_id in haystack
        assert '"territory":"73"' in haystack
        for field, value in person.items():
            if field == "postal_code":
                continue  # five digits: too short to tell apart from a timestamp
            for form in forms(field, value):
                assert form.casefold() not in haystack, f"{field} found in run {number}"
