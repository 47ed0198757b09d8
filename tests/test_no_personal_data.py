"""No personal data ever reaches Temporal: a history is immutable, the SQL database is not.

A person is enrolled with recognisable personal data, their journey goes through several
actions, a CAF signal and continue-as-new; then every run's whole history is searched, as
JSON text and with every payload decoded, for any of those values.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stdnum.fr import nir as nir_number
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from parcours.core.settings import Settings
from parcours.journey.messages import CloseInput, ExitReason, RsaRightsChangedInput, RsaStatus
from tests.support.accounts import Staff
from tests.test_journey_workflow import (
    Journeys,
    act,
    drive_through_runs,
    eventually,
    journeys_on,
    runs,
    short_history_server,
)
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


def recognisable_person() -> dict[str, Any]:
    """Personal data found nowhere else: a random valid NIR, a unique name, e-mail, phone…"""
    rng = random.Random(uuid.uuid4().int)
    tag = uuid.uuid4().hex[:8]
    birth = date(rng.randint(1960, 2000), rng.randint(1, 12), rng.randint(1, 28))
    sex = rng.choice("12")
    body = f"{sex}{birth:%y%m}73{rng.randint(1, 330):03d}{rng.randint(1, 999):03d}"
    nir = body + f"{97 - int(body) % 97:02d}"
    return {
        "first_name": f"Hélène{tag}",
        "last_name": f"Dupré-Quatrebras{tag}",
        "birth_date": birth,
        "nir": nir_number.validate(nir),
        "caf_number": f"CAF{tag}",
        "email": f"helene.{tag}@exemple.fr",
        "phone": f"07{rng.randint(0, 99_999_999):08d}",
        "address": f"{rng.randint(2, 99)} chemin des Épinettes {tag}",
        "postal_code": "73300",
        "city": "Saint-Jean-de-Maurienne",
    }


def forms(field: str, value: object) -> set[str]:
    """The ways a value could be written into a payload."""
    if isinstance(value, date):
        return {value.isoformat(), f"{value:%d/%m/%Y}", f"{value:%Y%m%d}"}
    text = str(value)
    found = {text, json.dumps(text)[1:-1]}  # as is, and JSON-escaped (\u00e9…)
    if field == "nir":
        found.add(nir_number.format(text))
    if field == "phone":
        found.add("+33" + text[1:])
    return found


def decoded_payloads(node: Any) -> Iterator[str]:
    """Every payload of a history in its JSON form (``{"metadata": …, "data": base64}``)."""
    if isinstance(node, dict):
        if isinstance(node.get("metadata"), dict) and isinstance(node.get("data", ""), str):
            for raw in [node.get("data", ""), *node["metadata"].values()]:
                yield base64.b64decode(raw).decode("utf-8", errors="replace")
        for value in node.values():
            yield from decoded_payloads(value)
    elif isinstance(node, list):
        for item in node:
            yield from decoded_payloads(item)


def searchable(history: WorkflowHistory) -> str:
    text = history.to_json()
    return "\n".join([text, *decoded_payloads(json.loads(text))]).casefold()


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
