"""Orienting a person to a service of the resource base, end to end: the référent orients
(API or the service's page), the journey starts the ``ServiceOrientation`` workflow, the
structure (simulator) holds exactly one orientation, answers with a signed callback (sent
twice: applied once), and the plan and the journey's timeline show the answer; a journey that
closes first withdraws it (cancelled at the structure, once; its plan line abandoned). Reminder at
10 days and expiry at 30 days run on the time-skipping server with the real activities
against the simulators. Also: the plan's weekly hours against the contract (the 15-hours
rule), and France Travail told of a professional orientation — once — and not of a social one.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.journey import JourneySettlementActivities, ReadModelActivities
from parcours.access.rules import Principal, Role
from parcours.carnet.models import PlanAction
from parcours.carnet.schemas import ConsentUpdate, Partner
from parcours.carnet.service import CarnetService
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.messages import (
    BeginDiagnosisInput,
    DecideOrientationInput,
    JourneyState,
    OrientationKind,
)
from parcours.journey.models import JourneyEventRecord
from parcours.journey.schemas import BeneficiaryCreate
from parcours.journey.service import JourneyService
from parcours.orientations.messages import (
    france_travail_notice_workflow_id,
    service_orientation_workflow_id,
)
from parcours.orientations.models import ServiceOrientationRecord
from parcours.orientations.schemas import ServiceOrientationCreate
from parcours.orientations.service import ServiceOrientationService
from parcours.partners.models import PartnerEvent
from parcours.resources.schemas import TrainingCreate
from parcours.resources.service import ResourceBaseService
from parcours.resources.vocabulary import Funder
from simulators.signing import signed_headers
from tests.support.accounts import Staff
from tests.support.clients import ApiClients, api_clients, signed_in
from tests.support.partners import CALLBACK_SECRET, CALLBACKS_PATH, PartnerStack
from tests.support.people import person_payload
from tests.support.resources import Resource, add_service
from tests.support.workflows import end_when_settled, pending_timers, settled
from worker.assembly import PARTNER_WORKFLOWS, PartnerWorkerParts, journey_runner
from workflows.journey import Journey

Sessions = async_sessionmaker[AsyncSession]
Json = dict[str, Any]
T = TypeVar("T")
TODAY = date.today()
REFUSAL = "Plus de place dans l'atelier avant septembre."


async def until(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], seconds: float = 30
) -> T:
    """``probe()`` once ``ok`` holds (the workflow and its activities catch up)."""
    async with asyncio.timeout(seconds):
        while True:
            value = await probe()
            if ok(value):
                return value
            await asyncio.sleep(0.1)


# --- The resource base and the people ---


def referent_of(staff: Staff) -> Principal:
    return Principal(
        id=staff.referent_id,
        role=Role.REFERENT,
        full_name="Referent 1",
        territory="73",
        structure_id=staff.structure_id,
    )


async def consent(
    sessions: Sessions, temporal: Client, settings: Settings, staff: Staff, bid: str, *to: str
) -> None:
    """The person agrees to share with ``to`` (recorded by their référent, at their request)."""
    async with transaction(sessions) as session:
        carnet = CarnetService(session, temporal, settings, referent_of(staff))
        for partner in to:
            await carnet.set_consent(bid, ConsentUpdate(partner=Partner(partner), granted=True))


async def enrol(api: ApiClients, staff: Staff, **person: Any) -> str:
    response = await api.referent.post(
        "/api/v1/beneficiaries",
        json=person_payload(
            referent_id=staff.referent_id, structure_id=staff.structure_id, **person
        ),
    )
    assert response.status_code == 201, response.text
    bid: str = response.json()["beneficiary"]["id"]
    return bid


async def act(client: httpx.AsyncClient, bid: str, action: str, **body: Any) -> Json:
    response = await client.post(f"/api/v1/journeys/{bid}/actions/{action}", json=body)
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


async def timeline(api: ApiClients, bid: str) -> list[Json]:
    response = await api.referent.get(f"/api/v1/journeys/{bid}")
    assert response.status_code == 200, response.text
    events: list[Json] = response.json()["timeline"]
    return events


def kinds(events: list[Json]) -> list[str]:
    return [e["kind"] for e in events]


async def orientations_of(api: ApiClients, bid: str) -> list[Json]:
    response = await api.referent.get(f"/api/v1/beneficiaries/{bid}/service-orientations")
    assert response.status_code == 200, response.text
    found: list[Json] = response.json()
    return found


async def plan_of(api: ApiClients, bid: str) -> list[Json]:
    response = await api.referent.get(f"/api/v1/beneficiaries/{bid}/carnet")
    assert response.status_code == 200, response.text
    plan: list[Json] = response.json()["plan"]
    return plan


@pytest.fixture
async def api(partners: PartnerStack, staff: Staff) -> AsyncIterator[ApiClients]:
    """Clients of the partner stack's API (whose worker runs the orientations)."""
    async with api_clients(partners.api_url, staff) as clients:
        yield clients


@dataclass
class Oriented:
    bid: str
    resource: Resource
    orientation: Json
    reference: str


async def oriented_person(
    api: ApiClients, partners: PartnerStack, sessions: Sessions, staff: Staff
) -> Oriented:
    """A person in diagnosis, who agreed to share with structures, oriented by their référent
    to a new service; once the structure holds the orientation."""
    resource = await add_service(sessions)
    bid = await enrol(api, staff)
    await act(api.referent, bid, "begin-diagnosis")
    await consent(sessions, partners.client, partners.settings, staff, bid, "structures")
    response = await api.referent.post(
        "/api/v1/service-orientations",
        json={"beneficiary_id": bid, "service_id": resource.service_id},
    )
    assert response.status_code == 201, response.text
    orientation: Json = response.json()
    sent = await until(
        lambda: orientations_of(api, bid),
        lambda found: bool(found) and found[0]["status"] == "sent",
    )
    return Oriented(bid, resource, orientation, sent[0]["reference"])


# --- End to end through the workflow, with the simulators ---


async def test_an_orientation_reaches_the_structure_once_and_its_acceptance_moves_the_plan(
    partners: PartnerStack, api: ApiClients, sessions: Sessions, staff: Staff
) -> None:
    o = await oriented_person(api, partners, sessions, staff)
    assert (o.orientation["status"], o.orientation["service_name"]) == (
        "requested",
        o.resource.name,
    )

    # The structure holds exactly one orientation, named as its system (data·inclusion) names
    # the service, with how to reach the person and never their NIR.
    held = (await partners.state("structures"))["orientations"]
    assert len(held) == 1
    sent = held[0]["orientation"]
    assert (sent["orientation_id"], sent["structure_id"], sent["service_id"]) == (
        o.orientation["id"],
        o.resource.structure_source_id,
        o.resource.source_id,
    )
    assert sent["person"]["email"] and "nir" not in sent["person"]
    assert held[0]["reference"] == o.reference

    # The plan's new line: the service, its thématique, its hours, planned.
    (line,) = await plan_of(api, o.bid)
    assert (line["id"], line["theme"], line["status"], line["weekly_hours"]) == (
        o.orientation["plan_action_id"],
        "mobility",
        "planned",
        6,
    )
    assert o.resource.name in line["action"] and o.resource.structure in line["action"]

    # The structure accepts; its callback arrives twice and is applied once.
    await partners.switches("structures", duplicate_callbacks=True)
    answer = await partners.sim.post(
        f"/structures/_answer/{o.reference}", params={"wait": "true"}, json={"accepted": True}
    )
    assert answer.status_code == 200, answer.text
    callback = answer.json()["callback"]
    assert [d["outcome"] for d in callback["deliveries"]] == ["delivered", "delivered"]
    async with sessions() as session:
        events = (
            await session.scalars(
                select(PartnerEvent).where(PartnerEvent.callback_id == callback["callback_id"])
            )
        ).all()
    assert len(events) == 1 and events[0].beneficiary_id == o.bid

    accepted = await until(
        lambda: orientations_of(api, o.bid), lambda found: found[0]["status"] == "accepted"
    )
    assert accepted[0]["status_label"] == "Acceptée par la structure"
    assert accepted[0]["answered_at"] is not None
    (line,) = await plan_of(api, o.bid)
    assert line["status"] == "in_progress"
    told = await until(
        lambda: timeline(api, o.bid), lambda t: "service_orientation_accepted" in kinds(t)
    )
    mine = [k for k in kinds(told) if "orient" in k and k != "orientation_decided"]
    assert mine == [
        "oriented_to_service",
        "service_orientation_sent",
        "service_orientation_accepted",
    ]
    labels = {e["kind"]: e["label"] for e in told}
    assert labels["service_orientation_accepted"] == "Orientation acceptée par la structure"
    # Still one orientation at the structure, one answer in the history of the workflow.
    assert len((await partners.state("structures"))["orientations"]) == 1
    handle = partners.client.get_workflow_handle(
        service_orientation_workflow_id(o.orientation["id"])
    )
    assert (await handle.result())["status"] == "accepted"


async def test_a_refusal_from_the_page_shows_its_reason_in_the_plan(
    partners: PartnerStack, api: ApiClients, sessions: Sessions, staff: Staff
) -> None:
    resource = await add_service(sessions, hours=2.5)
    bid = await enrol(api, staff)
    await act(api.referent, bid, "begin-diagnosis")
    await consent(sessions, partners.client, partners.settings, staff, bid, "structures")

    async with signed_in(partners.api_url, staff["referent"].email) as browser:
        page = await browser.get(f"/ressources/services/{resource.service_id}?pour={bid}")
        assert page.status_code == 200
        assert "Orienter vers ce service" in page.text
        # The person comes chosen from the search made for them.
        assert f'<option value="{bid}" selected>' in page.text
        posted = await browser.post(
            f"/ressources/services/{resource.service_id}/orienter", {"beneficiary_id": bid}
        )
        assert posted.status_code == 303, posted.text
        assert posted.headers["location"] == (
            f"/beneficiaires/{bid}/contrat?fait=orientation#resultat"
        )

        (sent,) = await until(
            lambda: orientations_of(api, bid), lambda f: bool(f) and f[0]["status"] == "sent"
        )
        answer = await partners.sim.post(
            f"/structures/_answer/{sent['reference']}",
            params={"wait": "true"},
            json={"accepted": False, "reason": REFUSAL},
        )
        assert answer.status_code == 200, answer.text
        (refused,) = await until(
            lambda: orientations_of(api, bid), lambda f: f[0]["status"] == "refused"
        )
        assert refused["reason"] == REFUSAL
        (line,) = await plan_of(api, bid)
        assert line["status"] == "abandoned"

        plan_page = await browser.get(f"/beneficiaires/{bid}/contrat")
        assert plan_page.status_code == 200
        text = plan_page.text.replace("&#39;", "'")
        assert "Refusée par la structure" in text
        assert f"motif de la structure : « {REFUSAL} »" in text
        assert f"Référence de la structure : {sent['reference']}" in text
    told = await until(
        lambda: timeline(api, bid), lambda t: "service_orientation_refused" in kinds(t)
    )
    assert kinds(told).count("service_orientation_refused") == 1
    # The reason stays in SQL: the journey's timeline carries ids and decisions only.
    assert REFUSAL not in json.dumps(told)


async def orient(api: ApiClients, bid: str, resource: Resource) -> Json:
    """Orient the person to ``resource``'s service; once the structure holds it."""
    response = await api.referent.post(
        "/api/v1/service-orientations",
        json={"beneficiary_id": bid, "service_id": resource.service_id},
    )
    assert response.status_code == 201, response.text
    orientation_id = response.json()["id"]
    found = await until(
        lambda: orientations_of(api, bid),
        lambda all_: any(o["id"] == orientation_id and o["status"] == "sent" for o in all_),
    )
    (sent,) = [o for o in found if o["id"] == orientation_id]
    return sent


async def test_closing_the_journey_withdraws_the_orientation_its_structure_has_not_answered(
    partners: PartnerStack, api: ApiClients, sessions: Sessions, staff: Staff
) -> None:
    o = await oriented_person(api, partners, sessions, staff)
    # A second orientation, which its structure accepts before the journey closes.
    accepted = await orient(api, o.bid, await add_service(sessions))
    answer = await partners.sim.post(
        f"/structures/_answer/{accepted['reference']}",
        params={"wait": "true"},
        json={"accepted": True},
    )
    assert answer.status_code == 200, answer.text
    await until(
        lambda: orientations_of(api, o.bid),
        lambda f: {x["id"]: x["status"] for x in f}[accepted["id"]] == "accepted",
    )

    await act(api.referent, o.bid, "close", exit_reason="declined")

    # Withdrawn, its plan line abandoned, the reason in its own read model.
    found = await until(
        lambda: orientations_of(api, o.bid),
        lambda f: {x["id"]: x["status"] for x in f}[o.orientation["id"]] == "withdrawn",
    )
    by_id = {x["id"]: x for x in found}
    withdrawn = by_id[o.orientation["id"]]
    assert withdrawn["status_label"] == "Retirée (parcours clôturé)"
    assert withdrawn["reason"].startswith("Le parcours de la personne a été clôturé")
    assert withdrawn["reference"] == o.reference
    lines = {line["id"]: line["status"] for line in await plan_of(api, o.bid)}
    assert lines == {
        o.orientation["plan_action_id"]: "abandoned",
        accepted["plan_action_id"]: "in_progress",
    }
    # The answered one stays as it was.
    assert by_id[accepted["id"]]["status"] == "accepted"

    # Cancelled at the structure, once; the workflow is over.
    handle = partners.client.get_workflow_handle(
        service_orientation_workflow_id(o.orientation["id"])
    )
    assert (await handle.result())["status"] == "withdrawn"
    structures = await partners.state("structures")
    statuses = {h["reference"]: h["status"] for h in structures["orientations"]}
    assert statuses == {o.reference: "cancelled", accepted["reference"]: "accepted"}
    key = f"service-orientation-{o.orientation['id']}:cancel"
    assert list(structures["cancellations_by_key"]) == [key]
    assert structures["cancellations_by_key"][key]["attempts"] == 1

    # The closed journey's timeline is not told.
    told = kinds(await timeline(api, o.bid))
    assert told[-1] == "closed" and "service_orientation_withdrawn" not in told

    # The structure answers nothing more; an answer it had sent before is kept, not applied.
    late = await partners.sim.post(
        f"/structures/_answer/{o.reference}", params={"wait": "true"}, json={"accepted": True}
    )
    assert late.status_code == 409
    callback = {
        "callback_id": str(uuid.uuid4()),
        "partner": "structures",
        "kind": "orientation_answer",
        "reference": o.reference,
        "orientation_id": o.orientation["id"],
        "accepted": True,
    }
    body = json.dumps(callback).encode()
    receipt = await partners.api.post(
        CALLBACKS_PATH, content=body, headers=signed_headers(CALLBACK_SECRET, body)
    )
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["status"] == "ignored"
    assert "le parcours de la personne a été clôturé" in receipt.json()["reason"].lower()
    (still,) = [x for x in await orientations_of(api, o.bid) if x["id"] == o.orientation["id"]]
    assert still["status"] == "withdrawn"

    # The carnet's plan says it.
    async with signed_in(partners.api_url, staff["referent"].email) as browser:
        page = (await browser.get(f"/beneficiaires/{o.bid}/contrat")).text.replace("&#39;", "'")
    assert "Retirée (parcours clôturé)" in page
    assert "l'orientation est retirée et la structure est invitée à l'annuler" in page


async def test_an_orientation_is_refused_before_anything_is_written_or_sent(
    partners: PartnerStack, api: ApiClients, sessions: Sessions, staff: Staff
) -> None:
    resource = await add_service(sessions)
    bid = await enrol(api, staff)

    async def orient(client: httpx.AsyncClient, service_id: int) -> httpx.Response:
        return await client.post(
            "/api/v1/service-orientations", json={"beneficiary_id": bid, "service_id": service_id}
        )

    # At intake the journey does not take orientations yet.
    await consent(sessions, partners.client, partners.settings, staff, bid, "structures")
    early = await orient(api.referent, resource.service_id)
    assert early.status_code == 409
    assert "Diagnostic" in early.json()["detail"]

    await act(api.referent, bid, "begin-diagnosis")
    unknown = await orient(api.referent, 10**9)
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "Ce service n'est pas (ou plus) dans la base de ressources."
    not_allowed = await orient(api.manager, resource.service_id)
    assert not_allowed.status_code == 403

    async with transaction(sessions) as session:
        carnet = CarnetService(session, partners.client, partners.settings, referent_of(staff))
        await carnet.set_consent(bid, ConsentUpdate(partner=Partner.STRUCTURES, granted=False))
    no_consent = await orient(api.referent, resource.service_id)
    assert no_consent.status_code == 409
    assert no_consent.json()["detail"].startswith(
        "La personne n'a pas donné son accord pour que ses coordonnées soient transmises"
    )

    assert await plan_of(api, bid) == []
    assert await orientations_of(api, bid) == []
    assert (await partners.state("structures"))["orientations"] == []
    assert "oriented_to_service" not in kinds(await timeline(api, bid))


async def test_the_plan_adds_up_its_weekly_hours_against_the_contract(
    partners: PartnerStack, api: ApiClients, sessions: Sessions, staff: Staff
) -> None:
    o = await oriented_person(api, partners, sessions, staff)  # a 6-hour service
    manual = await api.referent.post(
        f"/api/v1/beneficiaries/{o.bid}/plan-actions",
        json={"theme": "employment", "objective": "Retrouver un emploi", "action": "Atelier CV"},
    )
    assert manual.status_code == 201, manual.text
    async with transaction(sessions) as session:
        training = await ResourceBaseService(session).create_training(
            TrainingCreate(
                title="Remise à niveau en français",
                organisation="GRETA Savoie",
                funder=Funder.REGION,
                start_on=TODAY + timedelta(days=30),
                end_on=TODAY + timedelta(days=120),
                weekly_hours=7.5,
            )
        )
        # The line an approved training request becomes.
        session.add(
            PlanAction(
                beneficiary_id=o.bid,
                theme="training",
                objective="Se former",
                action="Remise à niveau",
                training_id=training.id,
            )
        )
        # A line abandoned does not count.
        session.add(
            PlanAction(
                beneficiary_id=o.bid,
                theme="housing",
                objective="Se loger",
                action="Demande de logement social",
                weekly_hours=10,
                status="abandoned",
            )
        )

    hours = (await api.referent.get(f"/api/v1/beneficiaries/{o.bid}/weekly-hours")).json()
    assert (hours["total"], hours["target"], hours["target_from_contract"]) == (13.5, 15.0, False)
    assert (hours["counted"], hours["unknown"], hours["reached"], hours["missing"]) == (
        2,
        1,
        False,
        1.5,
    )
    assert hours["by_action"][o.orientation["plan_action_id"]] == 6.0
    assert hours["label"] == "13,5 h / 15 h par semaine (1 action sans durée connue)"

    async with signed_in(partners.api_url, staff["referent"].email) as browser:
        page = (await browser.get(f"/beneficiaires/{o.bid}/contrat")).text
    assert '<strong id="plan-hours">13,5 h / 15 h par semaine (1 action sans durée connue)' in page
    assert "Il manque 1,5 h par semaine pour atteindre l'objectif." in page


# --- Reminder and expiry, on the time-skipping server ---


@dataclass
class TimeStack:
    env: WorkflowEnvironment
    settings: Settings
    sessions: Sessions
    staff: Staff
    partners: PartnerStack
    # Workflows left running would hold the server's clock for the next test: ended after.
    started: list[str] = field(default_factory=list)

    async def journeys(self, session: AsyncSession) -> JourneyService:
        return JourneyService(session, self.env.client, self.settings)

    async def oriented(self) -> tuple[str, Resource, str]:
        """A person in diagnosis oriented to a new service (the structure holds it)."""
        resource = await add_service(self.sessions)
        now = await self.env.get_current_time()
        data = BeneficiaryCreate.model_validate(
            person_payload(
                referent_id=self.staff.referent_id,
                structure_id=self.staff.structure_id,
                rsa_opened_on=now.date().isoformat(),
            )
        )
        async with transaction(self.sessions) as session:
            enrolment = await (await self.journeys(session)).enrol(data, now=now)
        bid = enrolment.beneficiary.id
        self.started.append(f"journey-{bid}")
        referent = referent_of(self.staff)
        async with transaction(self.sessions) as session:
            await (await self.journeys(session)).act(bid, BeginDiagnosisInput(), referent)
        await consent(self.sessions, self.env.client, self.settings, self.staff, bid, "structures")
        async with transaction(self.sessions) as session:
            orientation = await ServiceOrientationService(
                session, self.env.client, self.settings, referent
            ).orient(ServiceOrientationCreate(beneficiary_id=bid, service_id=resource.service_id))
        self.started.append(service_orientation_workflow_id(orientation.id))
        await self.record(orientation.id, lambda r: r.status == "sent")
        return bid, resource, orientation.id

    async def record(
        self, orientation_id: str, ok: Callable[[ServiceOrientationRecord], bool]
    ) -> ServiceOrientationRecord:
        async def read() -> ServiceOrientationRecord | None:
            async with self.sessions() as session:
                return await session.get(ServiceOrientationRecord, orientation_id)

        found = await until(read, lambda r: r is not None and ok(r))
        assert found is not None
        return found

    async def journey_kinds(self, bid: str) -> list[str]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(JourneyEventRecord.kind)
                .where(JourneyEventRecord.beneficiary_id == bid)
                .order_by(JourneyEventRecord.seq)
            )
            return list(rows)


@pytest.fixture
async def time_stack(
    time_env: WorkflowEnvironment,
    partners: PartnerStack,
    sessions: Sessions,
    settings: Settings,
    staff: Staff,
) -> AsyncIterator[TimeStack]:
    """A worker on the time-skipping server with the real activities, whose partner calls go
    to the simulators over HTTP."""
    own = settings.model_copy(
        update={
            "task_queue": f"orientations-time-{uuid.uuid4().hex[:8]}",
            "partners_base_url": partners.partners_url,
            "partner_timeout_s": 2.0,
        }
    )
    parts = PartnerWorkerParts.build(time_env.client, sessions, own)
    read_model = ReadModelActivities(sessions, own)
    settlement = JourneySettlementActivities(sessions, time_env.client)
    worker = Worker(
        time_env.client,
        task_queue=own.task_queue,
        workflows=[Journey, *PARTNER_WORKFLOWS],
        activities=[
            read_model.record_journey_event,
            read_model.record_journey_events,
            settlement.settle_journey_requests,
            *parts.activities,
        ],
        unsandboxed_workflow_runner=journey_runner(own),
    )
    try:
        async with worker:
            stack = TimeStack(time_env, own, sessions, staff, partners)
            yield stack
            await end_when_settled(*(time_env.client.get_workflow_handle(w) for w in stack.started))
    finally:
        await parts.aclose()


async def test_a_silent_structure_is_reminded_at_10_days_and_the_orientation_expires_at_30(
    time_stack: TimeStack,
) -> None:
    t = time_stack
    bid, _, orientation_id = await t.oriented()
    sent = await t.record(orientation_id, lambda r: r.status == "sent")
    assert sent.expires_at == sent.requested_at + timedelta(days=30)
    structures = await t.partners.state("structures")
    assert structures["reminders_by_key"] == {}

    # Day 9: the orientation has handled all that came due and still waits for its reminder.
    await t.env.sleep(timedelta(days=9))
    handle = t.env.client.get_workflow_handle(service_orientation_workflow_id(orientation_id))
    await settled(handle)
    assert len(await pending_timers(handle)) == 1
    still = await t.record(orientation_id, lambda r: True)
    assert (still.status, still.reminded_at) == ("sent", None)

    await t.env.sleep(timedelta(days=1, minutes=1))
    reminded = await t.record(orientation_id, lambda r: r.reminded_at is not None)
    assert reminded.status == "sent" and reminded.reminder_delivered is True
    assert reminded.reminded_at is not None
    assert reminded.reminded_at - reminded.requested_at >= timedelta(days=10)
    structures = await t.partners.state("structures")
    (held,) = structures["orientations"]
    assert len(held["reminded_at"]) == 1
    assert len(structures["reminders_by_key"]) == 1

    await t.env.sleep(timedelta(days=20))
    expired = await t.record(orientation_id, lambda r: r.status == "expired")
    assert expired.answered_at is None
    async with t.sessions() as session:
        line = await session.get(PlanAction, expired.plan_action_id)
    assert line is not None and line.status == "abandoned"
    assert (await handle.result())["status"] == "expired"
    journey_kinds = await until(
        lambda: t.journey_kinds(bid), lambda k: "service_orientation_expired" in k
    )
    assert [k for k in journey_kinds if k.startswith("service_orientation")] == [
        "service_orientation_sent",
        "service_orientation_reminded",
        "service_orientation_expired",
    ]
    # Still one orientation and one reminder at the structure.
    structures = await t.partners.state("structures")
    assert len(structures["orientations"]) == 1 and len(structures["reminders_by_key"]) == 1


# --- France Travail told of a professional orientation ---


async def france_travail_notices(partners: PartnerStack, bid: str) -> list[Json]:
    state = await partners.state("france-travail")
    prefix = f"france-travail-notice-{bid}-"
    return [o for o in state["orientations"] if o["notice"]["orientation_id"].startswith(prefix)]


async def decide(api: ApiClients, staff: Staff, bid: str, kind: str) -> Json:
    await act(api.referent, bid, "begin-diagnosis")
    await act(api.referent, bid, "complete-diagnosis")
    return await act(
        api.orientation,
        bid,
        "decide-orientation",
        kind=kind,
        structure_id=staff.structure_id,
        referent_id=staff.referent_id,
    )


async def test_france_travail_is_told_of_a_professional_orientation_once(
    partners: PartnerStack, api: ApiClients, sessions: Sessions, staff: Staff
) -> None:
    nir = "188047311512352"
    professional = await enrol(api, staff, nir=nir)
    await consent(
        sessions, partners.client, partners.settings, staff, professional, "france_travail"
    )
    decided = await decide(api, staff, professional, "professional")

    told = await until(
        lambda: timeline(api, professional), lambda t: "france_travail_notified" in kinds(t)
    )
    (notified,) = [e for e in told if e["kind"] == "france_travail_notified"]
    (notice,) = await france_travail_notices(partners, professional)
    assert notified["detail"]["reference"] == notice["reference"]
    assert notice["notice"]["person"]["nir"] == nir
    assert notified["label"] == "Orientation transmise à France Travail"

    # The same decision's notice started again (a retried request) sends nothing more.
    journey = partners.client.get_workflow_handle(f"journey-{professional}")
    now = await journey.query("current", result_type=JourneyState)
    # The journey as the decision left it (France Travail's answer came after).
    state = now.model_copy(update={"seq": decided["seq"]})
    async with transaction(sessions) as session:
        await JourneyService(session, partners.client, partners.settings).notify_france_travail(
            professional,
            DecideOrientationInput(
                kind=OrientationKind.PROFESSIONAL,
                structure_id=staff.structure_id,
                referent_id=staff.referent_id,
            ),
            state,
        )
    notice_run = partners.client.get_workflow_handle(
        france_travail_notice_workflow_id(professional, decided["seq"])
    )
    assert (await notice_run.result())["notified"] is True
    assert len(await france_travail_notices(partners, professional)) == 1
    assert kinds(await timeline(api, professional)).count("france_travail_notified") == 1

    # Without the person's consent, France Travail gets nothing and the journey says why.
    unwilling = await enrol(api, staff, nir=nir)
    await decide(api, staff, unwilling, "professional")
    told = await until(
        lambda: timeline(api, unwilling), lambda t: "france_travail_not_notified" in kinds(t)
    )
    (not_notified,) = [e for e in told if e["kind"] == "france_travail_not_notified"]
    assert not_notified["detail"]["reason"] == "consent_missing"
    assert await france_travail_notices(partners, unwilling) == []


async def test_france_travail_is_not_told_of_a_social_orientation(
    partners: PartnerStack, api: ApiClients, sessions: Sessions, staff: Staff
) -> None:
    social = await enrol(api, staff)
    await consent(sessions, partners.client, partners.settings, staff, social, "france_travail")
    decided = await decide(api, staff, social, "social")
    assert decided["orientation"] == "social"

    handle = partners.client.get_workflow_handle(
        france_travail_notice_workflow_id(social, decided["seq"])
    )
    with pytest.raises(RPCError) as none:
        await handle.describe()
    assert none.value.status == RPCStatusCode.NOT_FOUND
    assert await france_travail_notices(partners, social) == []
    assert not [k for k in kinds(await timeline(api, social)) if k.startswith("france_travail")]
