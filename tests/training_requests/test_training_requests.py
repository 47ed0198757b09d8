"""Training requests to their funder, end to end.

On the time-skipping server (a worker with the real activities, the funding desks of the
partner simulators over HTTP): a référent requests a training, the funder asks for more
information, the référent answers, the funder approves; the carnet's plan and the journey show
the entry into training, which begins on its start date and ends when reported. A refusal
keeps its reason; a funder that does not answer within 15 days is reminded and the request
shows as stalled.

On the partner stack (the real dev server, the app and the simulators over HTTP): a funder's
decision sent by its own system as a signed callback, twice, is applied once; the JSON API and
the pages of the funders' console, which never show a request of another body. A journey that
closes (by a référent, or the CAF closing the rights) withdraws its requests still waiting for
a decision — at the funder too, once — and leaves the decided ones as they are; a decision
after that is refused with the reason, and the funder's callback gets a receipt saying so.
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from parcours.access.models import AccessLogEntry, User
from parcours.access.rules import Principal
from parcours.carnet.models import Beneficiary, Consent, PlanAction
from parcours.core.db import transaction
from parcours.core.errors import Conflict, NotFound
from parcours.core.settings import Settings
from parcours.journey.messages import RsaRightsChangedInput, RsaStatus
from parcours.journey.models import JourneyEventRecord, JourneyRecord
from parcours.journey.service import JourneyService
from parcours.partners.models import PartnerEvent
from parcours.partners.service import ConsentMissing
from parcours.training_requests.messages import (
    AnswerMoreInfoInput,
    ApproveTrainingInput,
    EndTrainingInput,
    TrainingRequestResult,
    TrainingRequestState,
    TrainingStatus,
    training_request_workflow_id,
)
from parcours.training_requests.models import TrainingRequestRecord
from parcours.training_requests.repository import TrainingRequestRepository
from parcours.training_requests.rules import (
    UNDECIDED,
    TransitionRefused,
    apply_withdrawal,
    refusal,
    withdrawal_refusal,
)
from parcours.training_requests.schemas import (
    AnswerCreate,
    ApprovalCreate,
    MoreInfoCreate,
    RefusalCreate,
    TrainingEndCreate,
    TrainingRequestCreate,
)
from parcours.training_requests.service import (
    FunderConsoleService,
    FunderQuery,
    TrainingRequestService,
)
from simulators.app import create_app as create_simulators
from simulators.config import SimulatorConfig
from simulators.signing import signed_headers
from tests.support.accounts import Account, NewAccount, Staff
from tests.support.clients import Browser, csrf_in
from tests.support.partners import CALLBACK_SECRET, CALLBACKS_PATH, PartnerStack
from tests.support.privacy import searchable
from tests.support.servers import free_port, serve
from tests.support.training_requests import add_training, follow, funder_account, until
from tests.support.workflows import end_when_settled, pending_timers, settled
from worker.assembly import PartnerWorkerParts, build_worker

T = TypeVar("T")


# --- People, trainings and funders in SQL ---


async def principal(sessions: async_sessionmaker[AsyncSession], user_id: str) -> Principal:
    async with sessions() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return Principal.of(user)


async def row(sessions: async_sessionmaker[AsyncSession], request_id: str) -> TrainingRequestRecord:
    async with sessions() as session:
        found = await session.get(TrainingRequestRecord, request_id)
        assert found is not None
        return found


async def journey_kinds(sessions: async_sessionmaker[AsyncSession], person_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(JourneyEventRecord.kind)
            .where(JourneyEventRecord.beneficiary_id == person_id)
            .order_by(JourneyEventRecord.seq)
        )
        return list(rows)


async def plan_of(sessions: async_sessionmaker[AsyncSession], person_id: str) -> list[PlanAction]:
    async with sessions() as session:
        rows = await session.scalars(
            select(PlanAction).where(PlanAction.beneficiary_id == person_id)
        )
        return list(rows)


# --- On the time-skipping server ---


@dataclass
class Stack:
    env: WorkflowEnvironment
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    sim: httpx.AsyncClient
    staff: Staff
    people: list[str] = field(default_factory=list)

    @property
    def client(self) -> Client:
        return self.env.client

    async def close_open(self) -> None:
        """Terminate the test's journeys and requests: left open once this module's worker
        has stopped, their timers would hold the time-skipping server for later tests."""
        async with self.sessions() as session:
            requests = list(
                await session.scalars(
                    select(TrainingRequestRecord.workflow_id).where(
                        TrainingRequestRecord.beneficiary_id.in_(self.people)
                    )
                )
            )
        await end_when_settled(
            *(
                self.client.get_workflow_handle(workflow_id)
                for workflow_id in [*requests, *(f"journey-{p}" for p in self.people)]
            )
        )

    async def today(self) -> date:
        return (await self.env.get_current_time()).date()

    async def person(self, consents: tuple[str, ...] = ("region",)) -> str:
        now = await self.env.get_current_time()
        person = await follow(
            self.sessions,
            self.client,
            self.settings,
            self.staff,
            consents=consents,
            today=now.date(),
            now=now,
        )
        self.people.append(person)
        return person

    async def as_referent(self, call: Callable[[TrainingRequestService], Awaitable[T]]) -> T:
        who = await principal(self.sessions, self.staff.referent_id)
        async with transaction(self.sessions) as session:
            return await call(TrainingRequestService(session, self.client, self.settings, who))

    async def as_funder(
        self, funder: Account, call: Callable[[FunderConsoleService], Awaitable[T]]
    ) -> T:
        who = await principal(self.sessions, funder.id)
        async with transaction(self.sessions) as session:
            return await call(FunderConsoleService(session, self.client, self.settings, who))

    async def sent(self, request_id: str) -> TrainingRequestRecord:
        """The request once the funder's system acknowledged it."""

        async def received() -> TrainingRequestRecord | None:
            found = await row(self.sessions, request_id)
            return found if found.sent_at is not None else None

        return await until(received)

    async def status(self, request_id: str, status: TrainingStatus) -> TrainingRequestRecord:
        async def reached() -> TrainingRequestRecord | None:
            found = await row(self.sessions, request_id)
            return found if found.status == status.value else None

        return await until(reached)

    async def told(self, person_id: str, kind: str) -> list[str]:
        return await until(
            lambda: _with(journey_kinds(self.sessions, person_id), lambda ks: kind in ks)
        )


async def _with(value: Awaitable[T], predicate: Callable[[T], bool]) -> T | None:
    found = await value
    return found if predicate(found) else None


@pytest.fixture(scope="module")
async def simulators_url() -> AsyncIterator[str]:
    """The partner simulators (their funding desks decide only when told to)."""
    port = free_port()
    server, task = await serve(create_simulators(SimulatorConfig()), port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture(scope="module")
async def worker_settings(settings: Settings, simulators_url: str) -> Settings:
    return settings.model_copy(
        update={
            "task_queue": f"training-requests-{uuid.uuid4().hex[:8]}",
            "partners_base_url": simulators_url,
            "partner_timeout_s": 5.0,
        }
    )


@pytest.fixture(scope="module")
async def time_worker_with_partners(
    time_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    worker_settings: Settings,
) -> AsyncIterator[None]:
    parts = PartnerWorkerParts.build(time_env.client, sessions, worker_settings)
    worker = build_worker(
        time_env.client, sessions, worker_settings.task_queue, worker_settings, partners=parts
    )
    async with worker:
        yield
    await parts.aclose()


@pytest.fixture
async def stack(
    time_env: WorkflowEnvironment,
    time_worker_with_partners: None,
    sessions: async_sessionmaker[AsyncSession],
    worker_settings: Settings,
    simulators_url: str,
    staff: Staff,
) -> AsyncIterator[Stack]:
    async with httpx.AsyncClient(base_url=simulators_url, timeout=30) as sim:
        await sim.post("/_reset")
        stack = Stack(time_env, sessions, worker_settings, sim, staff)
        yield stack
        await stack.close_open()


async def test_a_request_goes_to_the_funder_who_asks_then_approves_and_the_training_runs(
    stack: Stack, new_account: NewAccount
) -> None:
    region = await funder_account(stack.sessions, new_account, "region")
    person_id = await stack.person(consents=("region",))
    training_id = await add_training(stack.sessions, "region", today=await stack.today())

    created = await stack.as_referent(
        lambda s: s.request(
            TrainingRequestCreate(
                beneficiary_id=person_id,
                training_id=training_id,
                requested_amount=Decimal("1850.00"),
                message="Projet validé en diagnostic ; permis B en cours.",
            )
        )
    )
    assert (created.status, created.funder_label) == (TrainingStatus.SUBMITTED, "Région")
    request_id = created.id

    # The Région's system received it once, with the training and the amount.
    sent = await stack.sent(request_id)
    held = (await stack.sim.get("/region/_state")).json()["training_requests"]
    (mine,) = [r for r in held if r["request"]["request_id"] == request_id]
    assert mine["reference"] == sent.funder_reference
    assert mine["request"]["requested_amount"] == "1850.00"
    assert mine["idempotency_key"] == f"training-request-{request_id}:submit"
    assert sent.deadline is not None and sent.stalled_since is None

    # The funder needs more information; the référent answers.
    asked = await stack.as_funder(
        region,
        lambda c: c.ask_more_info(request_id, MoreInfoCreate(question="Quel est son niveau ?")),
    )
    assert asked.status is TrainingStatus.MORE_INFO_REQUESTED
    assert (await row(stack.sessions, request_id)).deadline is None
    await stack.told(person_id, "training_more_info_requested")

    answered = await stack.as_referent(
        lambda s: s.answer(request_id, AnswerCreate(answer="CAP cuisine obtenu en 2015."))
    )
    assert answered.status is TrainingStatus.SUBMITTED
    assert [(m.kind, m.body) for m in answered.messages] == [
        ("request", "Projet validé en diagnostic ; permis B en cours."),
        ("question", "Quel est son niveau ?"),
        ("answer", "CAP cuisine obtenu en 2015."),
    ]
    await stack.told(person_id, "training_more_info_answered")

    # Approved: the carnet's plan and the journey show the entry into training.
    start = await stack.today() + timedelta(days=10)
    approved = await stack.as_funder(
        region,
        lambda c: c.approve(
            request_id,
            ApprovalCreate(start_date=start, amount=Decimal("1700.00"), reference="DOSSIER-42"),
        ),
    )
    assert (approved.status, approved.start_date, approved.approved_amount) == (
        TrainingStatus.APPROVED,
        start,
        Decimal("1700.00"),
    )
    assert approved.funder_reference == "DOSSIER-42"
    (action,) = [a for a in await plan_of(stack.sessions, person_id) if a.training_id]
    assert (action.training_id, action.status, action.theme) == (
        training_id,
        "in_progress",
        "training",
    )
    assert action.weekly_hours == 35
    assert "Titre professionnel Agent de restauration" in action.objective
    assert (await row(stack.sessions, request_id)).plan_action_id == action.id
    await stack.told(person_id, "training_approved")
    carnet = await stack.as_referent(lambda s: s.for_person(person_id))
    assert [(r.id, r.status_label) for r in carnet] == [(request_id, "Accordée")]

    # The training begins on its start date…
    await stack.env.sleep(timedelta(days=11))
    started = await stack.status(request_id, TrainingStatus.IN_TRAINING)
    assert started.started_at is not None
    await stack.told(person_id, "training_started")

    # …and ends when the référent reports it: the plan action is done, the workflow too.
    ended = await stack.as_referent(lambda s: s.end(request_id, TrainingEndCreate(completed=True)))
    assert (ended.status, ended.completed) == (TrainingStatus.ENDED, True)
    (action,) = [a for a in await plan_of(stack.sessions, person_id) if a.training_id]
    assert action.status == "done"
    await stack.told(person_id, "training_ended")
    handle = stack.client.get_workflow_handle(
        f"training-request-{request_id}", result_type=TrainingRequestResult
    )
    assert (await handle.result()).status is TrainingStatus.ENDED
    kinds = await journey_kinds(stack.sessions, person_id)
    training_kinds = [k for k in kinds if k.startswith("training")]
    assert training_kinds == [
        "training_requested",
        "training_more_info_requested",
        "training_more_info_answered",
        "training_approved",
        "training_started",
        "training_ended",
    ]

    # Only once: the Région's system still holds one request for it.
    held = (await stack.sim.get("/region/_state")).json()["training_requests"]
    assert len([r for r in held if r["request"]["request_id"] == request_id]) == 1

    # Ids, dates and decisions went through Temporal; the person and the texts did not.
    haystack = searchable(await handle.fetch_history())
    assert request_id in haystack and "dossier-42" in haystack
    async with stack.sessions() as session:
        person = await session.get(Beneficiary, person_id)
        assert person is not None and person.nir
        secrets = [person.first_name, person.last_name, person.nir, person.email or "?"]
    secrets += ["Quel est son niveau", "CAP cuisine", "permis B en cours"]
    for secret in secrets:
        assert secret.casefold() not in haystack


async def test_a_refusal_keeps_its_reason_and_closes_the_request(
    stack: Stack, new_account: NewAccount
) -> None:
    region = await funder_account(stack.sessions, new_account, "region")
    person_id = await stack.person()
    training_id = await add_training(stack.sessions, "region", today=await stack.today())
    request_id = (
        await stack.as_referent(
            lambda s: s.request(
                TrainingRequestCreate(beneficiary_id=person_id, training_id=training_id)
            )
        )
    ).id
    await stack.sent(request_id)

    with pytest.raises(ValueError, match="reason"):
        RefusalCreate(reason="   ")
    refused = await stack.as_funder(
        region,
        lambda c: c.refuse(
            request_id, RefusalCreate(reason="Session complète pour les publics prioritaires.")
        ),
    )
    assert refused.status is TrainingStatus.REFUSED
    assert [(m.label, m.body) for m in refused.messages] == [
        ("Motif du refus", "Session complète pour les publics prioritaires.")
    ]
    await stack.told(person_id, "training_refused")

    # Decided: nothing else applies, with the reason why.
    late = ApprovalCreate(start_date=await stack.today(), amount=Decimal(0), reference="X")
    with pytest.raises(Conflict, match=r"déjà reçu une décision \(statut : « Refusée »\)"):
        await stack.as_funder(region, lambda c: c.approve(request_id, late))
    with pytest.raises(Conflict, match="La formation n'est pas accordée"):
        await stack.as_referent(lambda s: s.end(request_id, TrainingEndCreate()))
    assert await plan_of(stack.sessions, person_id) == []
    handle = stack.client.get_workflow_handle(
        f"training-request-{request_id}", result_type=TrainingRequestResult
    )
    assert (await handle.result()).status is TrainingStatus.REFUSED

    # Erased with the person: the texts go, the decision stays (ids and dates only).
    async with transaction(stack.sessions) as session:
        await TrainingRequestRepository(session).erase_personal_rows(person_id)
    async with stack.sessions() as session:
        texts = await TrainingRequestRepository(session).messages([request_id])
    assert texts == {request_id: []}
    assert (await row(stack.sessions, request_id)).status == "refused"


async def test_a_funder_silent_for_15_days_is_reminded_and_the_request_shows_stalled(
    stack: Stack, new_account: NewAccount
) -> None:
    assert stack.settings.funder_answer_days == 15
    region = await funder_account(stack.sessions, new_account, "region")
    person_id = await stack.person()
    training_id = await add_training(stack.sessions, "region", today=await stack.today())
    request_id = (
        await stack.as_referent(
            lambda s: s.request(
                TrainingRequestCreate(beneficiary_id=person_id, training_id=training_id)
            )
        )
    ).id
    sent = await stack.sent(request_id)
    assert sent.deadline is not None

    # Day 14: the request has handled all that came due and still waits on its deadline.
    await stack.env.sleep(timedelta(days=14))
    handle = stack.client.get_workflow_handle(training_request_workflow_id(request_id))
    await settled(handle)
    assert len(await pending_timers(handle)) == 1
    assert (await row(stack.sessions, request_id)).stalled_since is None

    await stack.env.sleep(timedelta(days=1, hours=1))

    async def stalled() -> TrainingRequestRecord | None:
        found = await row(stack.sessions, request_id)
        return found if found.stalled_since is not None else None

    late = await until(stalled)
    assert late.status == "submitted"
    assert late.reminded_at == late.stalled_since
    assert late.stalled_since is not None and late.stalled_since >= sent.deadline
    await stack.told(person_id, "training_request_stalled")

    # Managers and the funder see it first among the late ones.
    listed = await stack.as_funder(region, lambda c: c.list(FunderQuery(status="en-retard")))
    assert request_id in [i.id for i in listed.items]
    assert all(i.stalled for i in listed.items)
    manager = await principal(stack.sessions, stack.staff.manager_id)
    async with transaction(stack.sessions) as session:
        late_ones = await TrainingRequestService(
            session, stack.client, stack.settings, manager
        ).list("en-retard")
    (seen,) = [r for r in late_ones.items if r.id == request_id]
    assert seen.stalled_since == late.stalled_since

    # The funder decides at last: no longer stalled.
    decision = ApprovalCreate(
        start_date=await stack.today() + timedelta(days=3), amount=Decimal("900"), reference="R-1"
    )
    await stack.as_funder(region, lambda c: c.approve(request_id, decision))
    assert (await row(stack.sessions, request_id)).stalled_since is None


async def test_a_request_the_person_stops_sharing_before_it_leaves_is_never_sent(
    stack: Stack,
) -> None:
    person_id = await stack.person()
    training_id = await add_training(stack.sessions, "region", today=await stack.today())
    # The Région's system fails the first call: the request waits for the next try…
    (await stack.sim.put("/_switches/region", json={"fail_next": 1})).raise_for_status()
    request_id = (
        await stack.as_referent(
            lambda s: s.request(
                TrainingRequestCreate(beneficiary_id=person_id, training_id=training_id)
            )
        )
    ).id
    handle = stack.client.get_workflow_handle(
        f"training-request-{request_id}", result_type=TrainingRequestResult
    )

    async def retrying() -> bool:
        pending = (await handle.describe()).raw_description.pending_activities
        return any(
            a.activity_type.name == "submit_training_request" and a.attempt >= 2 for a in pending
        )

    await until(retrying)
    # …during which the person withdraws their consent to share with the Région.
    async with transaction(stack.sessions) as session:
        consent = await session.get(Consent, (person_id, "region"))
        assert consent is not None
        consent.granted = False
    # Awaiting the result lets the server skip to the next try (no fixed skip of time: a skip
    # while an activity runs timed out on a loaded machine).
    assert (await handle.result()).status is TrainingStatus.FAILED

    failed = await stack.status(request_id, TrainingStatus.FAILED)
    assert failed.failure is not None and "n'a pas consenti" in failed.failure
    await stack.told(person_id, "training_request_failed")
    held = (await stack.sim.get("/region/_state")).json()["training_requests"]
    assert [r for r in held if r["request"]["request_id"] == request_id] == []


async def test_a_request_is_refused_before_the_journey_when_it_cannot_go(
    stack: Stack,
) -> None:
    person_id = await stack.person(consents=())
    today = await stack.today()
    region_training = await add_training(stack.sessions, "region", today=today)
    full = await add_training(stack.sessions, "region", today=today, places_left=0)

    with pytest.raises(
        ConsentMissing,
        match="n'a pas donné son accord pour partager ses informations avec la Région",
    ):
        await stack.as_referent(
            lambda s: s.request(
                TrainingRequestCreate(beneficiary_id=person_id, training_id=region_training)
            )
        )
    with pytest.raises(Conflict, match="plus de place"):
        await stack.as_referent(
            lambda s: s.request(TrainingRequestCreate(beneficiary_id=person_id, training_id=full))
        )
    with pytest.raises(NotFound, match="Formation introuvable"):
        await stack.as_referent(
            lambda s: s.request(TrainingRequestCreate(beneficiary_id=person_id, training_id="nope"))
        )
    kinds = await journey_kinds(stack.sessions, person_id)
    assert "training_requested" not in kinds


# --- On the partner stack: callbacks, the JSON API and the pages ---


@dataclass
class Scene:
    """A référent's person in accompaniment and a training, on the partner stack."""

    partners: PartnerStack
    sessions: async_sessionmaker[AsyncSession]
    staff: Staff

    async def person(self, consents: tuple[str, ...]) -> str:
        return await follow(
            self.sessions,
            self.partners.client,
            self.partners.settings,
            self.staff,
            consents=consents,
        )

    def api(self, who: Account) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.partners.api_url, headers=who.headers, timeout=60)

    async def request(self, person_id: str, training_id: str, **extra: Any) -> dict[str, Any]:
        async with self.api(self.staff["referent"]) as referent:
            response = await referent.post(
                "/api/v1/training-requests",
                json={"beneficiary_id": person_id, "training_id": training_id, **extra},
            )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def reference_at(self, partner: str, request_id: str) -> str:
        async def held() -> str | None:
            state = await self.partners.state(partner)
            for r in state["training_requests"]:
                if r["request"]["request_id"] == request_id:
                    return str(r["reference"])
            return None

        return await until(held)

    async def status(self, request_id: str, status: str) -> TrainingRequestRecord:
        return await until(
            lambda: _with(row(self.sessions, request_id), lambda r: r.status == status)
        )

    async def close(self, person_id: str, exit_reason: str = "declined") -> None:
        async with self.api(self.staff["referent"]) as referent:
            response = await referent.post(
                f"/api/v1/journeys/{person_id}/actions/close", json={"exit_reason": exit_reason}
            )
        assert response.status_code == 200, response.text

    async def at_funder(self, partner: str, request_id: str) -> dict[str, Any]:
        """What the funder's system holds of the request, and the withdrawals it received
        for it (by idempotency key)."""
        state = await self.partners.state(partner)
        (held,) = [
            r for r in state["training_requests"] if r["request"]["request_id"] == request_id
        ]
        prefix = f"training-request-{request_id}:"
        withdrawals = {
            key: entry
            for key, entry in state["withdrawals_by_key"].items()
            if key.startswith(prefix)
        }
        return {**held, "withdrawals": withdrawals}


@pytest.fixture
async def scene(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession], staff: Staff
) -> Scene:
    return Scene(partners, sessions, staff)


async def test_a_decision_from_the_funders_system_delivered_twice_lands_once(
    scene: Scene,
) -> None:
    person_id = await scene.person(consents=("region",))
    training_id = await add_training(scene.sessions, "region")
    request_id = (await scene.request(person_id, training_id, requested_amount="2400.50"))["id"]
    reference = await scene.reference_at("region", request_id)
    await scene.partners.switches("region", duplicate_callbacks=True)

    start = date.today() + timedelta(days=20)
    decided = await scene.partners.sim.post(
        f"/region/_decide/{reference}",
        params={"wait": "true"},
        json={"decision": "approved", "start_date": start.isoformat(), "amount": "2300.00"},
    )
    decided.raise_for_status()
    callback = decided.json()["callback"]
    assert [d["outcome"] for d in callback["deliveries"]] == ["delivered", "delivered"]

    approved = await until(
        lambda: _with(row(scene.sessions, request_id), lambda r: r.status == "approved")
    )
    assert (approved.funder_reference, approved.decision_source) == (reference, "partner")
    assert (approved.start_date, approved.approved_amount) == (start, Decimal("2300.00"))
    async with scene.sessions() as session:
        events = list(
            await session.scalars(
                select(PartnerEvent).where(PartnerEvent.callback_id == callback["callback_id"])
            )
        )
    assert len(events) == 1 and events[0].handled_at is not None
    assert events[0].beneficiary_id == person_id
    kinds = await until(
        lambda: _with(journey_kinds(scene.sessions, person_id), lambda k: "training_approved" in k)
    )
    assert kinds.count("training_approved") == 1
    # Both deliveries are answered: whatever they made the request do is in its history. Once
    # the request, then the journey it told, have handled all of it, the timeline is final.
    request = scene.partners.client.get_workflow_handle(training_request_workflow_id(request_id))
    await settled(request)
    await settled(scene.partners.client.get_workflow_handle(f"journey-{person_id}"))
    assert (await journey_kinds(scene.sessions, person_id)).count("training_approved") == 1
    actions = [a for a in await plan_of(scene.sessions, person_id) if a.training_id]
    assert [(a.training_id, a.status) for a in actions] == [(training_id, "in_progress")]


async def test_a_refusal_by_callback_carries_its_reason_to_the_carnet(scene: Scene) -> None:
    person_id = await scene.person(consents=("france_travail",))
    training_id = await add_training(scene.sessions, "france_travail")
    request_id = (await scene.request(person_id, training_id, requested_amount="99999.00"))["id"]
    reference = await scene.reference_at("france-travail", request_id)

    # France Travail's own rule: beyond its ceiling, refused with the reason.
    decided = await scene.partners.sim.post(
        f"/france-travail/_decide/{reference}", params={"wait": "true"}
    )
    decided.raise_for_status()
    refused = await until(
        lambda: _with(row(scene.sessions, request_id), lambda r: r.status == "refused")
    )
    assert refused.decision_source == "partner"
    async with scene.api(scene.staff["referent"]) as referent:
        read = (await referent.get(f"/api/v1/training-requests/{request_id}")).json()
    assert read["status_label"] == "Refusée"
    assert read["messages"][0]["label"] == "Motif du refus"
    assert "dépasse le plafond" in read["messages"][0]["body"]
    assert read["messages"][0]["author"]["label"] == "Système de France Travail"


async def test_a_funder_sees_only_its_bodys_requests_and_what_the_person_shares(
    scene: Scene, new_account: NewAccount
) -> None:
    region = await funder_account(scene.sessions, new_account, "region")
    france_travail = await funder_account(scene.sessions, new_account, "france_travail")
    person_id = await scene.person(consents=("region", "france_travail"))
    ft_request = (
        await scene.request(person_id, await add_training(scene.sessions, "france_travail"))
    )["id"]
    region_request = (await scene.request(person_id, await add_training(scene.sessions, "region")))[
        "id"
    ]

    async with scene.api(region) as as_region, scene.api(france_travail) as as_ft:
        listed = (
            await as_region.get("/api/v1/funder/training-requests", params={"limit": 200})
        ).json()
        ids = [i["id"] for i in listed["items"]]
        assert region_request in ids and ft_request not in ids
        assert listed["funder_label"] == "Région"

        # Another body's request is "introuvable", for reading and for deciding.
        hidden = await as_region.get(f"/api/v1/funder/training-requests/{ft_request}")
        assert (hidden.status_code, hidden.json()["detail"]) == (
            404,
            "Demande de formation introuvable.",
        )
        approval = {"start_date": date.today().isoformat(), "amount": "10", "reference": "X"}
        tried = await as_region.post(
            f"/api/v1/funder/training-requests/{ft_request}/approval", json=approval
        )
        assert tried.status_code == 404
        assert (await row(scene.sessions, ft_request)).status == "submitted"

        # France Travail sees its own, with what the person shares with it…
        seen = (await as_ft.get(f"/api/v1/funder/training-requests/{ft_request}")).json()
        assert seen["consented"] is True
        assert seen["person"]["label"].startswith("Prenomtest")
        assert seen["shared"]["first_name"].startswith("Prenomtest")
        assert "nir" not in seen["shared"]

        # …and nothing of the person once they withdraw their consent (after France Travail
        # received the request: before, it would not have been sent).
        await scene.reference_at("france-travail", ft_request)
        async with transaction(scene.sessions) as session:
            consent = await session.get(Consent, (person_id, "france_travail"))
            assert consent is not None
            consent.granted = False
        withdrawn = (await as_ft.get(f"/api/v1/funder/training-requests/{ft_request}")).json()
        assert (withdrawn["consented"], withdrawn["person"], withdrawn["shared"]) == (
            False,
            None,
            None,
        )
        listed = (await as_ft.get("/api/v1/funder/training-requests", params={"limit": 200})).json()
        (item,) = [i for i in listed["items"] if i["id"] == ft_request]
        assert (item["person"], item["consented"]) == (None, False)

        # A refusal needs its reason.
        empty = await as_ft.post(
            f"/api/v1/funder/training-requests/{ft_request}/refusal", json={"reason": "  "}
        )
        assert empty.status_code == 422
        refused = await as_ft.post(
            f"/api/v1/funder/training-requests/{ft_request}/refusal",
            json={"reason": "Formation non éligible à l'AIF."},
        )
        assert refused.status_code == 200, refused.text
        assert refused.json()["status"] == "refused"

    # Every read and change by a funder is in the carnet's access log.
    async with scene.sessions() as session:
        logged = list(
            await session.execute(
                select(AccessLogEntry.user_id, AccessLogEntry.action, AccessLogEntry.what).where(
                    AccessLogEntry.beneficiary_id == person_id
                )
            )
        )
    assert (france_travail.id, "read", "funder.training_request") in logged
    assert (france_travail.id, "update", "funder.refusal") in logged
    assert (region.id, "read", "funder.list") in logged
    assert not [entry for entry in logged if entry[0] == region.id and entry[2] != "funder.list"]

    # A funder attached to no funding body is told so.
    async with scene.api(scene.staff["funder"]) as unattached:
        response = await unattached.get("/api/v1/funder/training-requests", params={"limit": 200})
    assert response.status_code == 403
    assert "rattaché ni à la Région ni à France Travail" in response.json()["detail"]


async def test_the_pages_request_a_training_and_the_funder_approves_it_from_the_console(
    scene: Scene, new_account: NewAccount
) -> None:
    region = await funder_account(scene.sessions, new_account, "region")
    person_id = await scene.person(consents=("region",))
    training_id = await add_training(scene.sessions, "region")
    base = scene.partners.api_url

    referent = Browser(base)
    funder = Browser(base)
    try:
        assert (await referent.sign_in(scene.staff["referent"].email)).status_code == 303
        page = await referent.get(f"/ressources/formations/{training_id}?pour={person_id}")
        assert "Demander cette formation" in page.text
        assert f'<option value="{person_id}" selected>' in page.text
        referent.csrf = csrf_in(page.text)

        # A typo in the amount: the form comes back with the reason and what was typed.
        wrong = await referent.post(
            f"/ressources/formations/{training_id}/demandes",
            {"beneficiary_id": person_id, "requested_amount": "mille", "message": "Motivée"},
        )
        assert wrong.status_code == 422
        assert "Coût de la formation : montant invalide" in wrong.text
        assert "Motivée" in wrong.text

        sent = await referent.post(
            f"/ressources/formations/{training_id}/demandes",
            {"beneficiary_id": person_id, "requested_amount": "1 850,50", "message": "Motivée"},
        )
        assert sent.status_code == 303
        assert sent.headers["location"] == (
            f"/beneficiaires/{person_id}/contrat?demande=envoyee#resultat"
        )
        carnet = await referent.get(sent.headers["location"].split("#")[0])
        assert "La demande de formation est envoyée au financeur." in carnet.text
        assert "Demandes de formation" in carnet.text
        async with scene.sessions() as session:
            (record,) = list(
                await session.scalars(
                    select(TrainingRequestRecord).where(
                        TrainingRequestRecord.beneficiary_id == person_id
                    )
                )
            )
        assert record.requested_amount == Decimal("1850.50")
        await scene.reference_at("region", record.id)

        # The funder finds it in the console and approves it.
        assert (await funder.sign_in(region.email)).status_code == 303
        listing = await funder.get("/financeurs/demandes")
        assert "Demandes de formation adressées à la Région" in listing.text
        assert f"/financeurs/demandes/{record.id}" in listing.text
        assert 'href="/financeurs/demandes"' in listing.text  # the nav link
        detail = await funder.get(f"/financeurs/demandes/{record.id}")
        assert "Accorder la formation" in detail.text and "Motivée" in detail.text
        funder.csrf = csrf_in(detail.text)
        no_reason = await funder.post(f"/financeurs/demandes/{record.id}/refus", {"reason": ""})
        assert no_reason.status_code == 422
        assert "Motif du refus : ce champ est obligatoire." in no_reason.text
        start = date.today() + timedelta(days=15)
        approved = await funder.post(
            f"/financeurs/demandes/{record.id}/accord",
            {"start_date": start.isoformat(), "amount": "1800", "reference": "AURA-2027-7"},
        )
        assert approved.status_code == 303
        shown = await funder.get(approved.headers["location"])
        assert "La formation est accordée" in shown.text
        assert "AURA-2027-7" in shown.text
        assert "Accorder la formation" not in shown.text

        # The référent's carnet shows the entry into training.
        carnet = await referent.get(f"/beneficiaires/{person_id}/contrat")
        assert "Accordée" in carnet.text
        assert f"début le {start.strftime('%d/%m/%Y')}" in carnet.text
        assert "Enregistrer la fin de la formation" in carnet.text
        assert "Suivre la formation" in carnet.text  # the plan action

        # Another body's funder: "introuvable".
        other = await funder_account(scene.sessions, new_account, "france_travail")
        stranger = Browser(base)
        try:
            assert (await stranger.sign_in(other.email)).status_code == 303
            hidden = await stranger.get(f"/financeurs/demandes/{record.id}")
            assert hidden.status_code == 404
        finally:
            await stranger.aclose()
    finally:
        await referent.aclose()
        await funder.aclose()


async def test_a_terminated_journey_does_not_stop_its_training_request(
    scene: Scene, new_account: NewAccount
) -> None:
    """A journey that stops without closing (terminated by an operator) settles nothing: the
    request goes on, and the funder may still decide."""
    region = await funder_account(scene.sessions, new_account, "region")
    person_id = await scene.person(consents=("region",))
    request_id = (await scene.request(person_id, await add_training(scene.sessions, "region")))[
        "id"
    ]
    await scene.reference_at("region", request_id)
    journey = scene.partners.client.get_workflow_handle(f"journey-{person_id}")
    await journey.terminate(reason="the journey ended before the funder answered")

    async with scene.api(region) as as_region:
        answer = await as_region.post(
            f"/api/v1/funder/training-requests/{request_id}/approval",
            json={
                "start_date": (date.today() + timedelta(days=30)).isoformat(),
                "amount": "500",
                "reference": "LATE-1",
            },
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "approved"
    child = scene.partners.client.get_workflow_handle(f"training-request-{request_id}")
    described = await child.describe()
    assert described.status is WorkflowExecutionStatus.RUNNING  # waiting for the start date


def decision_callback(partner: str, reference: str, request_id: str) -> dict[str, Any]:
    """A funder's approval as its own system sends it (``simulators.funding``)."""
    return {
        "callback_id": str(uuid.uuid4()),
        "partner": partner,
        "kind": "training_decision",
        "reference": reference,
        "request_id": request_id,
        "decision": "approved",
        "start_date": (date.today() + timedelta(days=30)).isoformat(),
        "amount": "900.00",
    }


async def test_closing_the_journey_withdraws_the_undecided_request_and_keeps_the_approved(
    scene: Scene, new_account: NewAccount
) -> None:
    region = await funder_account(scene.sessions, new_account, "region")
    person_id = await scene.person(consents=("region",))
    waiting = (await scene.request(person_id, await add_training(scene.sessions, "region")))["id"]
    approved = (await scene.request(person_id, await add_training(scene.sessions, "region")))["id"]
    reference = await scene.reference_at("region", waiting)
    await scene.reference_at("region", approved)
    approval = {
        "start_date": (date.today() + timedelta(days=30)).isoformat(),
        "amount": "1200",
        "reference": "AURA-APPROVED",
    }
    async with scene.api(region) as as_region:
        asked = await as_region.post(
            f"/api/v1/funder/training-requests/{waiting}/more-info",
            json={"question": "Quel est son niveau ?"},
        )
        assert asked.status_code == 200, asked.text
        accepted = await as_region.post(
            f"/api/v1/funder/training-requests/{approved}/approval", json=approval
        )
        assert accepted.status_code == 200, accepted.text

    await scene.close(person_id, "declined")

    # The request waiting for the Région is withdrawn, there and at the Région, once.
    withdrawn = await scene.status(waiting, "withdrawn")
    assert (withdrawn.deadline, withdrawn.stalled_since) == (None, None)
    held = await until(
        lambda: _with(scene.at_funder("region", waiting), lambda h: h["status"] == "withdrawn")
    )
    assert held["reference"] == reference
    assert list(held["withdrawals"]) == [f"training-request-{waiting}:withdraw"]
    assert held["withdrawals"][f"training-request-{waiting}:withdraw"]["attempts"] == 1
    child = scene.partners.client.get_workflow_handle(
        f"training-request-{waiting}", result_type=TrainingRequestResult
    )
    assert (await child.result()).status is TrainingStatus.WITHDRAWN

    # The approved one is the person's own: it stays approved, its training ahead.
    assert (await row(scene.sessions, approved)).status == "approved"
    kept = scene.partners.client.get_workflow_handle(f"training-request-{approved}")
    assert (await kept.describe()).status is WorkflowExecutionStatus.RUNNING
    assert (await scene.at_funder("region", approved))["withdrawals"] == {}

    # The closed journey's timeline is not told; the request's own read model says why.
    kinds = await journey_kinds(scene.sessions, person_id)
    assert kinds[-1] == "closed" and "training_request_withdrawn" not in kinds
    async with scene.api(scene.staff["referent"]) as referent:
        carnet = (await referent.get(f"/api/v1/beneficiaries/{person_id}/training-requests")).json()
    labels = {r["id"]: r["status_label"] for r in carnet}
    assert labels == {waiting: "Retirée (parcours clôturé)", approved: "Accordée"}

    # The console offers no decision on it, and refuses one with the reason.
    async with scene.api(region) as as_region:
        late = await as_region.post(
            f"/api/v1/funder/training-requests/{waiting}/approval", json=approval
        )
        assert late.status_code == 409
        assert late.json()["detail"] == (
            "La demande a été retirée : le parcours de la personne est clôturé. "
            "Elle n'attend plus de décision."
        )
        listed = (
            await as_region.get(
                "/api/v1/funder/training-requests", params={"status": "withdrawn", "limit": 200}
            )
        ).json()
        listed_ids = [i["id"] for i in listed["items"]]
        assert waiting in listed_ids and approved not in listed_ids
    funder = Browser(scene.partners.api_url)
    try:
        assert (await funder.sign_in(region.email)).status_code == 303
        page = await funder.get(f"/financeurs/demandes/{waiting}")
        assert "Retirée (parcours clôturé)" in page.text
        assert "Le parcours de la personne a été clôturé avant votre décision" in page.text
        for form in ("Accorder la formation", "Refuser la formation", "Demander des informations"):
            assert form not in page.text
        funder.csrf = csrf_in(page.text)
        refused = await funder.post(
            f"/financeurs/demandes/{waiting}/refus", {"reason": "Trop tard pour la session."}
        )
        assert refused.status_code == 409
        assert "La demande a été retirée" in refused.text.replace("&#39;", "'")
    finally:
        await funder.aclose()

    # The Région's own system decides nothing more on it…
    decided = await scene.partners.sim.post(f"/region/_decide/{reference}", params={"wait": "true"})
    assert decided.status_code == 409
    # …and a decision it had sent before learning of the withdrawal is kept, not applied.
    body = json.dumps(decision_callback("region", reference, waiting)).encode()
    receipt = await scene.partners.api.post(
        CALLBACKS_PATH, content=body, headers=signed_headers(CALLBACK_SECRET, body)
    )
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["status"] == "ignored"
    assert "La demande a été retirée" in receipt.json()["reason"]
    assert (await row(scene.sessions, waiting)).status == "withdrawn"
    async with scene.sessions() as session:
        (event,) = await session.scalars(
            select(PartnerEvent).where(PartnerEvent.subject_id == waiting)
        )
    assert event.handled_at is None and event.beneficiary_id == person_id


async def test_the_caf_closing_the_rights_withdraws_the_undecided_requests_too(
    scene: Scene,
) -> None:
    person_id = await scene.person(consents=("france_travail",))
    request_id = (
        await scene.request(person_id, await add_training(scene.sessions, "france_travail"))
    )["id"]
    reference = await scene.reference_at("france-travail", request_id)

    # As the CAF import tells a journey that the rights closed (before any work: it closes).
    async with transaction(scene.sessions) as session:
        await JourneyService(
            session, scene.partners.client, scene.partners.settings
        ).change_rsa_rights(
            person_id, RsaRightsChangedInput(status=RsaStatus.CLOSED, effective_on=date.today())
        )

    await scene.status(request_id, "withdrawn")
    async with scene.sessions() as session:
        journey = await session.get(JourneyRecord, person_id)
        assert journey is not None
        assert (journey.step, journey.exit_reason) == ("closed", "rights_closed")
    held = await until(
        lambda: _with(
            scene.at_funder("france-travail", request_id), lambda h: h["status"] == "withdrawn"
        )
    )
    assert held["reference"] == reference
    assert list(held["withdrawals"]) == [f"training-request-{request_id}:withdraw"]


NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_only_a_request_waiting_for_its_decision_is_withdrawn_and_then_takes_nothing() -> None:
    for status in TrainingStatus:
        state = TrainingRequestState(
            request_id="r", beneficiary_id="b", training_id="t", funder="region", status=status
        )
        if status in UNDECIDED:
            assert withdrawal_refusal(state) is None
            late = state.model_copy(update={"deadline": NOW, "stalled_since": NOW})
            withdrawn, kind = apply_withdrawal(late)
            assert (withdrawn.status, withdrawn.deadline, withdrawn.stalled_since, kind) == (
                TrainingStatus.WITHDRAWN,
                None,
                None,
                "training_request_withdrawn",
            )
        else:
            # Decided (approved: the training is the person's own), or over: left as it is.
            assert withdrawal_refusal(state) is not None
            with pytest.raises(TransitionRefused, match="n'attend plus de décision"):
                apply_withdrawal(state)
    withdrawn_state = TrainingRequestState(
        request_id="r",
        beneficiary_id="b",
        training_id="t",
        funder="region",
        status=TrainingStatus.WITHDRAWN,
    )
    approval = ApproveTrainingInput(
        start_date=date.today(), amount=Decimal(1), funder_reference="X"
    )
    for action in (approval, AnswerMoreInfoInput(), EndTrainingInput()):
        assert refusal(withdrawn_state, action) == (
            "La demande a été retirée : le parcours de la personne est clôturé. "
            "Elle n'attend plus de décision."
        )


async def test_the_funder_is_not_asked_again_for_the_reference_its_system_gave(
    scene: Scene, new_account: NewAccount
) -> None:
    region = await funder_account(scene.sessions, new_account, "region")
    person_id = await scene.person(consents=("region",))
    training_id = await add_training(scene.sessions, "region")
    request_id = (await scene.request(person_id, training_id))["id"]
    given = await until(
        lambda: _with(row(scene.sessions, request_id), lambda r: r.funder_reference is not None)
    )
    reference = given.funder_reference
    assert reference

    # The page shows it, and asks only for what the funder decides.
    funder = Browser(scene.partners.api_url)
    try:
        assert (await funder.sign_in(region.email)).status_code == 303
        page = await funder.get(f"/financeurs/demandes/{request_id}")
        assert f'id="accord-reference">Votre référence : <strong>{reference}</strong>' in page.text
        assert 'name="reference"' not in page.text
    finally:
        await funder.aclose()

    start = date.today() + timedelta(days=30)
    async with scene.api(region) as as_region:
        # A system that gave no reference yet: the funder is asked for theirs.
        async with transaction(scene.sessions) as session:
            record = await session.get(TrainingRequestRecord, request_id)
            assert record is not None
            record.funder_reference = None
        approval = {"start_date": start.isoformat(), "amount": "900"}
        url = f"/api/v1/funder/training-requests/{request_id}/approval"
        missing = await as_region.post(url, json=approval)
        assert missing.status_code == 422
        assert missing.json()["detail"].startswith("Votre référence : indiquez le numéro")
        assert (await row(scene.sessions, request_id)).status == "submitted"

        async with transaction(scene.sessions) as session:
            record = await session.get(TrainingRequestRecord, request_id)
            assert record is not None
            record.funder_reference = reference
        approved = await as_region.post(url, json=approval)
    assert approved.status_code == 200, approved.text
    assert approved.json()["funder_reference"] == reference


async def test_the_training_page_stays_for_the_person_it_was_opened_for(scene: Scene) -> None:
    """Opened with ``?pour=`` (from the person's carnet), the training's page chooses the
    person and leads back to the trainings for them, as the service's page does; a refused
    request keeps both."""
    person_id = await scene.person(consents=())
    training_id = await add_training(scene.sessions, "region")
    back = f'href="/ressources/formations?pour={person_id}">Retour aux formations'
    chosen = f'<option value="{person_id}" selected>'
    referent = Browser(scene.partners.api_url)
    try:
        assert (await referent.sign_in(scene.staff["referent"].email)).status_code == 303
        page = await referent.get(f"/ressources/formations/{training_id}?pour={person_id}")
        assert chosen in page.text and back in page.text
        referent.csrf = csrf_in(page.text)

        refused = await referent.post(
            f"/ressources/formations/{training_id}/demandes",
            {"beneficiary_id": person_id, "message": "Motivée"},
        )
        assert refused.status_code == 409
        assert "n'a pas donné son accord" in html.unescape(refused.text)
        assert chosen in refused.text and back in refused.text
    finally:
        await referent.aclose()
