"""No workflow of any type carries personal data — issue 16, item 10.

One recognisable person goes through everything the platform does: enrolment, consents, a
service orientation, CAF and France Travail look-ups, a professional orientation (France
Travail is told), a training request, a line of the CAF's feed; then every scheduled workflow
runs (digest, « À traiter », outbox, retention, reconciliation, closed months kept); she is
invited to an appointment, books it from her link, and is convoked to another with a letter; a
sanction case is opened.
Every run of every workflow started meanwhile is read back and searched, JSON and decoded
payloads, for each of her values. Every workflow type the worker runs must have been seen: a
new type fails here until it is driven.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from cli.caf_import import run_import
from parcours.carnet.messages import RetentionSweepInput
from parcours.carnet.models import Consent
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.inbox.messages import InboxDailyInput
from parcours.indicators.messages import KeepClosedMonthsInput
from parcours.journey.messages import ReconcileInput
from parcours.mail.messages import DeliverOutboxInput
from parcours.management.messages import DailyDigestInput
from parcours.sms.messages import DeliverSmsInput
from simulators.caf_feed import EventKind, RsaEvent, events_to_csv, generate_events
from simulators.synthetic import SAVOIE_COMMUNES
from tests.support.accounts import Staff
from tests.support.api import act
from tests.support.appointments import booking_link
from tests.support.caf_feed import fresh_seed
from tests.support.clients import ApiClients, api_clients
from tests.support.histories import every_run
from tests.support.partners import PartnerStack
from tests.support.people import person_payload
from tests.support.privacy import forms, recognisable_person, searchable
from tests.support.resources import add_service
from tests.support.training_requests import add_training, until
from tests.support.workflows import settled
from worker.assembly import WORKFLOWS
from workflows.carnet import RetentionSweep
from workflows.inbox import InboxDaily
from workflows.indicators import KeepClosedMonths
from workflows.journey import ReconcileJourneys
from workflows.mail import DeliverOutbox
from workflows.management import DailyDigest
from workflows.sms import DeliverSms

pytestmark = pytest.mark.security


def type_name(workflow: type) -> str:
    defn = getattr(workflow, "__temporal_workflow_definition")
    name: str = defn.name
    return name


@pytest.fixture
async def api(partners: PartnerStack, staff: Staff) -> AsyncIterator[ApiClients]:
    """The API of the app whose worker calls the partners."""
    async with api_clients(partners.api_url, staff) as clients:
        yield clients


def caf_line(person: dict[str, Any]) -> RsaEvent:
    """A line of the CAF's feed about her: her rights suspended (a dozen random lines may
    hold none: draw again until one does)."""
    event = next(
        e
        for _ in range(100)
        for e in generate_events(
            12, seed=fresh_seed(), today=date.today(), communes=SAVOIE_COMMUNES
        )
        if e.kind == EventKind.SUSPENSION
    )
    household = event.household
    if household.address is not None:
        address = household.address.model_copy(update={"street": person["address"]})
        household = household.model_copy(update={"address": address})
    return event.model_copy(
        update={
            field: person[field]
            for field in ("caf_number", "nir", "first_name", "last_name", "birth_date")
        }
        | {"department": "73", "household": household}
    )


async def everything_for(
    person: dict[str, Any],
    api: ApiClients,
    staff: Staff,
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> str:
    """Drive every partner-facing flow for her; her id."""
    payload = person_payload(
        referent_id=staff.referent_id,
        structure_id=staff.structure_id,
        **{k: v.isoformat() if isinstance(v, date) else v for k, v in person.items()},
    )
    enrolled = await api.referent.post("/api/v1/beneficiaries", json=payload)
    assert enrolled.status_code == 201, enrolled.text
    bid: str = enrolled.json()["beneficiary"]["id"]
    async with transaction(sessions) as session:
        for partner in ("caf", "france_travail", "region", "structures"):
            session.add(Consent(beneficiary_id=bid, partner=partner, granted=True))
    await act(api.referent, bid, "begin-diagnosis")

    resource = await add_service(sessions)
    oriented = await api.referent.post(
        "/api/v1/service-orientations",
        json={"beneficiary_id": bid, "service_id": resource.service_id},
    )
    assert oriented.status_code == 201, oriented.text
    for partner in ("caf", "france-travail"):
        looked_up = await api.referent.post(f"/api/v1/beneficiaries/{bid}/lookups/{partner}")
        assert looked_up.status_code < 300, looked_up.text

    await act(api.referent, bid, "complete-diagnosis")
    await act(
        api.orientation,
        bid,
        "decide-orientation",
        kind="professional",
        structure_id=staff.structure_id,
        referent_id=staff.referent_id,
    )
    # An invitation, booked from its link, and a convocation with its letter asked.
    token = await booking_link(api, bid, kind="accompagnement")
    offers = (await api.referent.get(f"/api/v1/rdv/{token}")).json()["offers"]
    booked = await api.referent.post(
        f"/api/v1/rdv/{token}/booking",
        json={"slot_id": offers[0]["slot_id"], "starts_at": offers[0]["starts_at"]},
    )
    assert booked.status_code == 200, booked.text
    convoked = await api.referent.post(
        "/api/v1/appointments/convocations",
        json={
            "beneficiary_id": bid,
            "slot_id": offers[1]["slot_id"],
            "starts_at": offers[1]["starts_at"],
            "with_letter": True,
        },
    )
    assert convoked.status_code == 201, convoked.text
    # A suspension-remobilisation case (its notice printed from SQL, not from the history).
    opened = await api.referent.post(
        f"/api/v1/beneficiaries/{bid}/sanctions", json={"breach": "contract_not_signed"}
    )
    assert opened.status_code == 201, opened.text
    training_id = await add_training(sessions, "region")
    requested = await api.referent.post(
        "/api/v1/training-requests", json={"beneficiary_id": bid, "training_id": training_id}
    )
    assert requested.status_code == 201, requested.text

    feed = tmp_path / f"flux-rsa-{uuid.uuid4().hex[:8]}.csv"
    feed.write_text(events_to_csv([caf_line(person)]), encoding="utf-8")
    assert await run_import(partners.settings, feed, poll_s=0.2) == 0
    return bid


async def scheduled_runs(client: Client, settings: Settings) -> None:
    """The scheduled workflows, each run once on the test worker's queue."""
    runs: list[tuple[Any, Any]] = [
        (DailyDigest.run, DailyDigestInput()),
        (InboxDaily.run, InboxDailyInput()),
        (DeliverOutbox.run, DeliverOutboxInput()),
        (DeliverSms.run, DeliverSmsInput()),
        # A century: nobody in the test database is due (erasing a session's worth of people
        # whose journeys live on other servers would take minutes); the run is what counts.
        (RetentionSweep.run, RetentionSweepInput(retention_months=1200)),
        # The journeys written in the last minutes only (the test database holds many).
        (ReconcileJourneys.run, ReconcileInput(window_minutes=5)),
        # This month only, for each département of the test database (it holds many).
        (KeepClosedMonths.run, KeepClosedMonthsInput(months=1)),
    ]
    for run, argument in runs:
        await client.execute_workflow(
            run, argument, id=f"privacy-{uuid.uuid4().hex[:8]}", task_queue=settings.task_queue
        )


@pytest.mark.isolated  # in a session of its own: see the marker in pyproject.toml
async def test_no_personal_data_in_any_history_of_any_workflow_type(
    api: ApiClients,
    staff: Staff,
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    dev_worker: Worker,
    tmp_path: Path,
) -> None:
    client = partners.client
    since = datetime.now(UTC).replace(microsecond=0)
    person = recognisable_person()
    bid = await everything_for(person, api, staff, partners, sessions, tmp_path)
    await scheduled_runs(client, settings)
    await settled(client.get_workflow_handle(f"journey-{bid}"))

    expected = {type_name(w) for w in WORKFLOWS}

    async def started() -> dict[str, str] | None:
        query = f"StartTime >= '{since.isoformat().replace('+00:00', 'Z')}'"
        found = {w.id: w.workflow_type async for w in client.list_workflows(query)}
        return found if expected <= set(found.values()) else None

    try:
        workflows = await until(started)
    except TimeoutError:
        seen = {w.workflow_type async for w in client.list_workflows()}
        raise AssertionError(f"workflow types never driven here: {expected - seen}") from None
    # France Travail did receive her NIR: read from SQL by the activity, not from a history.
    notices = (await partners.state("france-travail"))["orientations"]
    assert [n["notice"]["person"]["nir"] for n in notices if bid in n["idempotency_key"]] == [
        person["nir"]
    ]
    # The search sees inside payloads: her journey's history names her by her id.
    assert bid in searchable((await every_run(client, f"journey-{bid}"))[0])
    for workflow_id, kind in sorted(workflows.items()):
        await settled(client.get_workflow_handle(workflow_id))  # its activities' results in
        for number, history in enumerate(await every_run(client, workflow_id), start=1):
            haystack = searchable(history)
            for field, value in person.items():
                if field == "postal_code":
                    continue  # five digits: too short to tell apart from a timestamp
                for form in forms(field, value):
                    assert form.casefold() not in haystack, (
                        f"{field} found in {kind} {workflow_id}, run {number}"
                    )
