"""The SMS channel end to end, over real HTTP: an SMS written to the outbox (once per key, held
to the morning at night) is handed to the simulated provider (Brevo's interface) by
``send_due_sms`` and by the ``DeliverSms`` workflow on the time-skipping server; a provider down
or slow leaves it pending and it goes later, once (counted in the simulator's record); an
invalid number is refused and never tried again; the provider's delivery report, through the
API's webhook route with its shared secret, makes it « délivré » or « échec ».

The simulators and a small app carrying the platform's SMS routes are served on free ports;
the outbox is the real table in the migrated test database. Time is passed in (``now``): the
tests run the same at any hour, without sleeping.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.sms import SmsActivities
from api.routes import sms as sms_routes
from cli.dev import DEV_SMS_API_KEY, DEV_SMS_REPORT_SECRET, sms_environment, where_sms_go
from parcours.carnet.repository import CarnetRepository
from parcours.core.db import transaction
from parcours.core.errors import NotFound, ParcoursError
from parcours.core.settings import Settings
from parcours.partners.adapters.sms import SmsAdapter
from parcours.sms.messages import DeliverSmsInput
from parcours.sms.rules import InvalidPhone, SmsStatus
from parcours.sms.schemas import SmsRead
from parcours.sms.service import (
    REPORT_SECRET_HEADER,
    NoMobile,
    enqueue_sms,
    enqueue_sms_to_person,
    read_sms,
    send_due_sms,
)
from simulators.app import create_app as create_simulators
from simulators.config import SimulatorConfig
from tests.support.partners import add_person
from tests.support.simulators import serve
from workflows.sms import DeliverSms

pytestmark = pytest.mark.appointments

API_KEY = "test-sms-api-key"
REPORT_SECRET = "test-sms-report-secret"
# A weekday at 10:00 in Paris: the provider may be called.
MORNING = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
# Noon in Paris, later than every SMS the other tests write: they write at the real time,
# which went past MORNING on 7 December 2026 (their SMS were then due in this module's tests).
LEFTOVERS_DUE = datetime(2100, 1, 4, 11, 0, tzinfo=UTC)


def mobile() -> str:
    """A metropolitan mobile of this test's own (06 1x xx xx xx)."""
    return f"+3361{random.randrange(10**7):07d}"


@dataclass
class SmsStack:
    settings: Settings
    sim: httpx.AsyncClient
    api: httpx.AsyncClient
    adapter: SmsAdapter
    sessions: async_sessionmaker[AsyncSession]

    async def received(self, recipient: str) -> list[dict[str, Any]]:
        answer = await self.sim.get("/sms/_messages", params={"recipient": recipient})
        answer.raise_for_status()
        found: list[dict[str, Any]] = answer.json()
        return found

    async def switches(self, **values: Any) -> None:
        (await self.sim.put("/_switches/sms", json=values)).raise_for_status()

    async def send(self, at: datetime = MORNING) -> tuple[int, int, int]:
        run = await send_due_sms(self.sessions, self.settings, self.adapter, now=lambda: at)
        return run.sent, run.retried, run.refused

    async def enqueue(self, to: str, *, at: datetime = MORNING, key: str | None = None) -> SmsRead:
        async with transaction(self.sessions) as session:
            return await enqueue_sms(
                session,
                to=to,
                body="Bonjour, votre rendez-vous est confirmé lundi à 9 h 30.",
                purpose="appointment_reminder",
                idempotency_key=key or f"test-{uuid.uuid4()}",
                now=at,
            )

    async def row(self, sms_id: str) -> SmsRead:
        async with self.sessions() as session:
            return await read_sms(session, sms_id)


def report_receiver(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> FastAPI:
    """The platform's SMS routes on the platform's request transaction."""
    app = FastAPI()
    app.state.sessions = sessions
    app.state.settings = settings

    @app.exception_handler(ParcoursError)
    async def _refused(_request: Request, error: ParcoursError) -> Response:
        return JSONResponse({"detail": error.message}, status_code=error.status_code)

    app.include_router(sms_routes.router)
    return app


@pytest.fixture(scope="module")
async def stack_parts(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[tuple[str, str]]:
    """The report receiver (the platform's route) and the simulators, served once."""
    sms_settings = settings.model_copy(update={"sms_report_secret": REPORT_SECRET})
    async with serve(report_receiver(sessions, sms_settings)) as api_url:
        config = SimulatorConfig(
            sms_api_key=API_KEY,
            sms_report_url=f"{api_url}/api/v1/sms/delivery-reports",
            sms_report_secret=REPORT_SECRET,
            callback_backoff_s=0.05,
        )
        async with serve(create_simulators(config)) as simulators_url:
            yield api_url, simulators_url


@pytest.fixture
async def stack(
    stack_parts: tuple[str, str],
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> AsyncIterator[SmsStack]:
    api_url, simulators_url = stack_parts
    sms_settings = settings.model_copy(
        update={
            "sms_url": f"{simulators_url}/sms",
            "sms_api_key": API_KEY,
            "sms_report_secret": REPORT_SECRET,
            "sms_retry_after_s": 0,
            # Held answers (the provider slow after sending) time out fast.
            "partner_timeout_s": 1.0,
        }
    )
    adapter = SmsAdapter.from_settings(sms_settings)
    async with (
        httpx.AsyncClient(base_url=simulators_url, timeout=10) as sim,
        httpx.AsyncClient(base_url=api_url, timeout=10) as api,
    ):
        (await sim.post("/_reset")).raise_for_status()
        # What earlier tests left due goes first, so that each test sees only its own.
        await send_due_sms(sessions, sms_settings, adapter, now=lambda: LEFTOVERS_DUE)
        yield SmsStack(sms_settings, sim, api, adapter, sessions)
    await adapter.aclose()


async def test_an_sms_is_written_once_per_key_e164_and_sent_with_the_providers_id(
    stack: SmsStack,
) -> None:
    to = mobile()
    key = f"appointment-{uuid.uuid4()}-reminder"
    first = await stack.enqueue(to.replace("+33", "0"), key=key)
    again = await stack.enqueue(to, key=key)  # a retried activity, a double click
    assert again.id == first.id
    assert (first.recipient, first.status, first.not_before) == (to, SmsStatus.PENDING, MORNING)

    assert await stack.send() == (1, 0, 0)
    assert await stack.send() == (0, 0, 0)

    (received,) = await stack.received(to)
    assert received["sms"] == {
        "sender": "Parcours",
        "recipient": to.removeprefix("+"),
        "content": "Bonjour, votre rendez-vous est confirmé lundi à 9 h 30.",
        "type": "transactional",
        "tag": "appointment_reminder",
    }
    row = await stack.row(first.id)
    assert row.status is SmsStatus.SENT
    assert row.provider_message_id == str(received["message_id"])
    assert (row.attempts, row.sent_at) == (1, MORNING)


async def test_an_invalid_number_is_refused_at_entry(stack: SmsStack) -> None:
    with pytest.raises(InvalidPhone, match="n'est pas un numéro de mobile"):
        await stack.enqueue("04 79 12 34 56")


async def test_an_sms_written_at_night_waits_for_eight_in_the_morning(stack: SmsStack) -> None:
    to = mobile()
    evening = datetime(2026, 12, 7, 21, 30, tzinfo=UTC)  # 22:30 in Paris
    written = await stack.enqueue(to, at=evening)
    next_morning = datetime(2026, 12, 8, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    assert written.not_before == next_morning

    assert await stack.send(at=evening) == (0, 0, 0)  # quiet hours: nobody sends
    assert await stack.send(at=next_morning - timedelta(minutes=1)) == (0, 0, 0)
    assert await stack.received(to) == []

    assert await stack.send(at=next_morning) == (1, 0, 0)
    assert len(await stack.received(to)) == 1


async def test_a_provider_down_or_slow_is_tried_again_and_nothing_goes_twice(
    stack: SmsStack,
) -> None:
    to = mobile()
    written = await stack.enqueue(to)

    await stack.switches(fail_next=2)  # down: 503, twice
    assert await stack.send() == (0, 1, 0)
    row = await stack.row(written.id)
    assert (row.status, row.attempts) == (SmsStatus.PENDING, 1)
    assert row.last_error is not None and "indisponible (HTTP 503)" in row.last_error
    assert await stack.send() == (0, 1, 0)
    assert await stack.received(to) == []

    # Slow: the provider sends, then holds its answer past the timeout; the next attempt
    # carries the same idempotency key and gets the first answer back.
    await stack.switches(timeout_next=1, hold_ms=3000)
    assert await stack.send() == (0, 1, 0)
    row = await stack.row(written.id)
    assert (row.status, row.attempts) == (SmsStatus.PENDING, 3)
    assert row.last_error is not None and "pas répondu à temps" in row.last_error
    assert await stack.send() == (1, 0, 0)
    assert await stack.send() == (0, 0, 0)

    (received,) = await stack.received(to)  # one SMS reached the phone
    state = (await stack.sim.get("/sms/_state")).json()
    assert state["messages_by_key"][f"sms-{written.id}"]["attempts"] == 2
    row = await stack.row(written.id)
    assert (row.status, row.attempts, row.last_error) == (SmsStatus.SENT, 4, None)
    assert row.provider_message_id == str(received["message_id"])


async def test_two_senders_at_once_send_each_sms_once(stack: SmsStack) -> None:
    numbers = [mobile() for _ in range(6)]
    written = [await stack.enqueue(to) for to in numbers]
    await stack.switches(latency_ms=50)  # each call takes a while: the senders overlap

    runs = await asyncio.gather(stack.send(), stack.send())

    assert sum(sent for sent, _, _ in runs) == len(numbers)
    for to in numbers:
        assert len(await stack.received(to)) == 1
    state = (await stack.sim.get("/sms/_state")).json()
    for sms in written:
        assert state["messages_by_key"][f"sms-{sms.id}"]["attempts"] == 1
        assert (await stack.row(sms.id)).attempts == 1


async def test_a_number_the_provider_refuses_is_refused_and_not_tried_again(
    stack: SmsStack,
) -> None:
    to = mobile()
    written = await stack.enqueue(to)
    await stack.sim.put("/sms/_invalid-numbers", json={"recipients": [to.removeprefix("+")]})

    assert await stack.send() == (0, 0, 1)
    assert await stack.send() == (0, 0, 0)

    row = await stack.row(written.id)
    assert (row.status, row.attempts) == (SmsStatus.REFUSED, 1)
    assert row.last_error is not None and "Invalid phone number" in row.last_error
    assert await stack.received(to) == []
    state = (await stack.sim.get("/sms/_state")).json()
    assert state["traffic"]["calls"] == 1


async def test_the_delivery_report_is_recorded_through_the_webhook(stack: SmsStack) -> None:
    delivered, bounced = mobile(), mobile()
    first = await stack.enqueue(delivered)
    second = await stack.enqueue(bounced)
    assert await stack.send() == (2, 0, 0)

    for to, event in ((delivered, "delivered"), (bounced, "hard_bounce")):
        (received,) = await stack.received(to)
        report = await stack.sim.post(
            f"/sms/_report/{received['message_id']}", json={"event": event}
        )
        assert report.json()["outcome"] == "delivered"  # the webhook answered 2xx

    assert (await stack.row(first.id)).status is SmsStatus.DELIVERED
    row = await stack.row(second.id)
    assert row.status is SmsStatus.FAILED
    assert row.last_error == "Non remis (hard_bounce)."

    # A copy of a report changes nothing; a report on an unknown message is ignored.
    (received,) = await stack.received(delivered)
    copy = {"messageId": received["message_id"], "event": "delivered"}
    headers = {REPORT_SECRET_HEADER: REPORT_SECRET}
    answer = await stack.api.post("/api/v1/sms/delivery-reports", json=copy, headers=headers)
    assert answer.json() == {"status": "ignored", "sms_status": "delivre"}
    unknown = {"messageId": 42, "event": "delivered"}
    answer = await stack.api.post("/api/v1/sms/delivery-reports", json=unknown, headers=headers)
    assert answer.json() == {"status": "ignored", "sms_status": None}


@pytest.mark.security
async def test_a_delivery_report_without_the_secret_is_refused_unread(stack: SmsStack) -> None:
    to = mobile()
    written = await stack.enqueue(to)
    assert await stack.send() == (1, 0, 0)
    (received,) = await stack.received(to)
    forged = {"messageId": received["message_id"], "event": "hard_bounce"}

    for headers in ({}, {REPORT_SECRET_HEADER: "not-the-secret"}):
        answer = await stack.api.post("/api/v1/sms/delivery-reports", json=forged, headers=headers)
        assert answer.status_code == 401
        assert "secret absent ou invalide" in answer.json()["detail"]
    # Refused before the body is read: a malformed one gets 401 too, not 422.
    answer = await stack.api.post("/api/v1/sms/delivery-reports", content=b"{")
    assert answer.status_code == 401
    assert (await stack.row(written.id)).status is SmsStatus.SENT


async def test_without_a_provider_sms_wait_in_the_outbox(
    stack: SmsStack, settings: Settings
) -> None:
    written = await stack.enqueue(mobile())
    run = await send_due_sms(stack.sessions, settings, None, now=lambda: MORNING)
    assert not run.enabled
    assert (await stack.row(written.id)).status is SmsStatus.PENDING


async def text(sessions: async_sessionmaker[AsyncSession], person: str) -> SmsRead:
    async with transaction(sessions) as session:
        return await enqueue_sms_to_person(
            session,
            beneficiary_id=person,
            body="Votre rendez-vous de demain est annulé.",
            purpose="appointment_cancelled",
            idempotency_key=f"test-{uuid.uuid4()}",
            now=MORNING,
        )


async def test_an_sms_to_a_person_goes_to_her_mobile_or_says_why_not(stack: SmsStack) -> None:
    person = await add_person(stack.sessions, phone="+33761223344")
    written = await text(stack.sessions, person)
    assert (written.recipient, written.beneficiary_id) == ("+33761223344", person)

    fixed_line = await add_person(stack.sessions, phone="+33479123456")
    with pytest.raises(NoMobile, match="son numéro est celui d'un fixe"):
        await text(stack.sessions, fixed_line)
    no_phone = await add_person(stack.sessions, phone=None)
    with pytest.raises(NoMobile, match="pas de numéro de mobile dans ses coordonnées"):
        await text(stack.sessions, no_phone)
    with pytest.raises(NotFound):
        await text(stack.sessions, str(uuid.uuid4()))


async def test_a_persons_sms_go_with_her_and_are_erased_with_her(stack: SmsStack) -> None:
    person = await add_person(stack.sessions, phone="07 61 22 33 44")
    written = await text(stack.sessions, person)
    assert written.beneficiary_id == person
    async with transaction(stack.sessions) as session:
        await CarnetRepository(session).erase_personal_rows(person)
    with pytest.raises(ParcoursError):
        await stack.row(written.id)


async def test_the_scheduled_workflow_sends_what_is_due_once(
    stack: SmsStack, time_env: WorkflowEnvironment
) -> None:
    to = mobile()
    written = await stack.enqueue(to)
    await stack.switches(fail_next=1)  # the first run meets the provider down
    task_queue = f"sms-{uuid.uuid4().hex[:8]}"
    sms = SmsActivities(stack.sessions, stack.settings, stack.adapter, clock=lambda: MORNING)
    results = []
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[DeliverSms],
        activities=[sms.send_due_sms],
    ):
        for run in range(3):  # three runs of the schedule: the third has nothing left
            result = await time_env.client.execute_workflow(
                DeliverSms.run,
                DeliverSmsInput(),
                id=f"sms-outbox-{task_queue}-{run}",
                task_queue=task_queue,
            )
            results.append((result.sent, result.retried, result.refused))

    assert results == [(0, 1, 0), (1, 0, 0), (0, 0, 0)]
    assert len(await stack.received(to)) == 1
    row = await stack.row(written.id)
    assert (row.status, row.attempts) == (SmsStatus.SENT, 2)


def test_parcours_dev_sends_sms_to_the_simulated_provider_unless_one_is_set(
    settings: Settings,
) -> None:
    local = settings.model_copy(update={"sms_url": None, "simulators_port": 8111})
    assert sms_environment(local) == {
        "PARCOURS_SMS_URL": f"http://{local.simulators_host}:8111/sms",
        "PARCOURS_SMS_API_KEY": DEV_SMS_API_KEY,
        "PARCOURS_SMS_REPORT_SECRET": DEV_SMS_REPORT_SECRET,
    }
    assert where_sms_go(local).endswith("(fournisseur simulé)")
    real = settings.model_copy(update={"sms_url": "https://api.brevo.com", "sms_api_key": "k"})
    assert sms_environment(real) == {}
    assert "https://api.brevo.com" in where_sms_go(real)


@pytest.mark.security
async def test_the_platform_refuses_every_report_while_no_secret_is_set(
    http: httpx.AsyncClient,
) -> None:
    """The real app (no ``PARCOURS_SMS_REPORT_SECRET`` in the test settings): an empty secret
    never matches, even an empty header."""
    report = {"messageId": 1, "event": "delivered"}
    for headers in ({}, {REPORT_SECRET_HEADER: ""}, {REPORT_SECRET_HEADER: "anything"}):
        answer = await http.post("/api/v1/sms/delivery-reports", json=report, headers=headers)
        assert answer.status_code == 401, answer.text
