"""« À traiter »: what needs an agent reaches her inbox, and her e-mail by preference.

On the partner stack (the real dev server, the app, the worker and the partner simulators over
HTTP): a funder's question reaches the référente's inbox and her e-mail (read from the local
SMTP server, without a name or a birth date), she answers from the item and it leaves; a
manager's relance shows the person's name and leaves once marked done; a ``decision_requested``
signal reaches the département's chargé·es d'orientation and leaves when the orientation is
decided; « aucun » sends nothing; the daily summary sends one mail with counts. The projection
retried writes no item twice.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.carnet.models import Beneficiary
from parcours.core.db import transaction
from parcours.core.outbox import OutboxMail, send_outbox
from parcours.core.settings import Settings
from parcours.inbox.messages import InboxDailyInput
from parcours.inbox.models import InboxItem
from parcours.inbox.rules import ItemKind, notices, settlements
from parcours.inbox.service import InboxProducer
from parcours.journey.messages import (
    RECORD_OUTCOME,
    BeginDiagnosisInput,
    CompleteDiagnosisInput,
    DecideOrientationInput,
    JourneyEvent,
    JourneyOutcomeInput,
    JourneyState,
    OrientationKind,
    RecordJourneyEventsInput,
    Step,
    journey_workflow_id,
)
from parcours.journey.repository import JourneyRepository
from parcours.journey.schemas import BeneficiaryCreate
from parcours.journey.service import JourneyService
from tests.support.accounts import Account, NewAccount, Staff
from tests.support.clients import Browser, csrf_in
from tests.support.mailbox import LocalMailbox
from tests.support.partners import PartnerStack
from tests.support.training_requests import add_training, follow, funder_account, until
from tests.support.workflows import settled
from workflows.inbox import InboxDaily

pytestmark = pytest.mark.notifications


# --- Helpers ---


@pytest.fixture
async def stack(partners: PartnerStack) -> AsyncIterator[PartnerStack]:
    yield partners


def api(stack: PartnerStack, who: Account) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.api_url, headers=who.headers, timeout=60)


async def inbox_of(stack: PartnerStack, who: Account) -> list[dict[str, Any]]:
    async with api(stack, who) as client:
        response = await client.get("/api/v1/inbox")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def item_about(
    stack: PartnerStack, who: Account, kind: ItemKind, person_id: str
) -> dict[str, Any]:
    """The open item of ``kind`` about ``person_id`` once the projection wrote it."""

    async def found() -> dict[str, Any] | None:
        for item in await inbox_of(stack, who):
            if item["kind"] == kind.value and item["beneficiary_id"] == person_id:
                return item
        return None

    return await until(found)


async def gone(stack: PartnerStack, who: Account, item_id: str) -> bool:
    async def left() -> bool | None:
        return True if all(i["id"] != item_id for i in await inbox_of(stack, who)) else None

    return await until(left)


async def set_email(stack: PartnerStack, who: Account, email: str) -> None:
    async with api(stack, who) as client:
        response = await client.put("/api/v1/inbox/preferences", json={"email": email})
    assert response.status_code == 200, response.text


async def mails_to(sessions: async_sessionmaker[AsyncSession], email: str) -> list[OutboxMail]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxMail).where(OutboxMail.recipient == email).order_by(OutboxMail.created_at)
        )
        return list(rows)


async def person_secrets(sessions: async_sessionmaker[AsyncSession], person_id: str) -> list[str]:
    async with sessions() as session:
        person = await session.get(Beneficiary, person_id)
        assert person is not None
        return [
            person.first_name,
            person.last_name,
            person.birth_date.strftime("%d/%m/%Y"),
            person.birth_date.isoformat(),
        ]


async def person_name(sessions: async_sessionmaker[AsyncSession], person_id: str) -> str:
    first, last, *_ = await person_secrets(sessions, person_id)
    return f"{first} {last}"


async def remind(stack: PartnerStack, staff: Staff, person_id: str, message: str) -> None:
    async with api(stack, staff["manager"]) as manager:
        response = await manager.post(
            "/api/v1/management/reminders",
            json={"beneficiary_ids": [person_id], "message": message},
        )
    assert response.status_code == 200, response.text
    assert response.json()["done"], response.text


# --- The must-haves ---


async def test_a_funders_question_reaches_the_referente_inbox_and_mail_and_leaves_once_answered(
    stack: PartnerStack,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    new_account: NewAccount,
    mailbox: LocalMailbox,
    settings: Settings,
) -> None:
    referent = staff["referent"]
    await set_email(stack, referent, "immediate")
    region = await funder_account(sessions, new_account, "region")
    person_id = await follow(sessions, stack.client, stack.settings, staff, consents=("region",))
    training_id = await add_training(sessions, "region")
    async with api(stack, referent) as client:
        created = await client.post(
            "/api/v1/training-requests",
            json={"beneficiary_id": person_id, "training_id": training_id},
        )
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]

    async def received() -> str | None:
        state = await stack.state("region")
        held = [r for r in state["training_requests"] if r["request"]["request_id"] == request_id]
        return str(held[0]["reference"]) if held else None

    await until(received)

    # The funder asks a question: it reaches the référente's inbox, with the person's name.
    async with api(stack, region) as funder:
        asked = await funder.post(
            f"/api/v1/funder/training-requests/{request_id}/more-info",
            json={"question": "Quel est son niveau de français ?"},
        )
    assert asked.status_code == 200, asked.text
    item = await item_about(stack, referent, ItemKind.TRAINING_QUESTION, person_id)
    assert item["title"] == "Question d'un financeur sur une demande de formation"
    assert item["person"] == await person_name(sessions, person_id)
    assert item["href"] == f"/beneficiaires/{person_id}/contrat#demande-{request_id}"
    assert item["action_label"] == "Répondre au financeur"

    # …and her e-mail, written with the item: a link and counts, no personal data.
    (mail,) = [m for m in await mails_to(sessions, referent.email) if "Question" in m.subject]
    await send_outbox(sessions, mailbox.settings(settings), [mail.id])
    received_mail = await mailbox.wait_for(to=referent.email, subject_contains="à traiter")
    text = f"{received_mail.subject}\n{received_mail.body}"
    assert "Question d'un financeur" in text
    assert "/a-traiter" in text
    assert "élément(s) à traiter" in text
    for secret in await person_secrets(sessions, person_id):
        assert secret.casefold() not in text.casefold(), secret
    assert "niveau de français" not in text

    # She follows the item to where she answers, answers, and the item leaves her inbox.
    browser = Browser(stack.api_url)
    try:
        assert (await browser.sign_in(referent.email)).status_code == 303
        listing = await browser.get("/a-traiter")
        assert listing.status_code == 200
        assert await person_name(sessions, person_id) in html.unescape(listing.text)
        assert f'href="{item["href"]}"' in listing.text
        carnet = await browser.get(item["href"].split("#")[0])
        assert f'id="demande-{request_id}"' in carnet.text
        assert "Répondre au financeur" in carnet.text
        browser.csrf = csrf_in(carnet.text)
        answered = await browser.post(
            f"/beneficiaires/{person_id}/formations/{request_id}/reponse",
            {"answer": "Niveau B2, attesté."},
        )
        assert answered.status_code == 303, answered.text
    finally:
        await browser.aclose()
    assert await gone(stack, referent, item["id"])


async def test_a_relance_shows_the_persons_name_and_a_marked_done_item_leaves(
    stack: PartnerStack, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    referent = staff["referent"]
    person_id = await follow(sessions, stack.client, stack.settings, staff, consents=())
    await remind(stack, staff, person_id, "Pouvez-vous faire le point avant vendredi ?")
    item = await item_about(stack, referent, ItemKind.REMINDER, person_id)
    name = await person_name(sessions, person_id)
    assert (item["title"], item["person"]) == ("Relance de votre responsable", name)
    assert item["message"] == "Pouvez-vous faire le point avant vendredi ?"

    browser = Browser(stack.api_url)
    try:
        assert (await browser.sign_in(referent.email)).status_code == 303
        home = await browser.get("/parcours")
        page = html.unescape(home.text)
        # On her home page and in the header, with the count.
        assert "À traiter (" in page
        assert f"Relance de votre responsable — {name}" in page
        assert 'class="fr-badge fr-badge--sm fr-badge--new fr-badge--no-icon parcours-inbox' in page
        listing = await browser.get("/a-traiter")
        browser.csrf = csrf_in(listing.text)
        assert f"Relance de votre responsable — {name}" in html.unescape(listing.text)

        # Someone else cannot mark it: « introuvable ».
        other = Browser(stack.api_url)
        try:
            assert (await other.sign_in(staff["orientation"].email)).status_code == 303
            refused = await other.post(f"/a-traiter/{item['id']}/traite")
            assert refused.status_code == 404
        finally:
            await other.aclose()

        done = await browser.post(f"/a-traiter/{item['id']}/traite")
        assert done.status_code == 303
        assert done.headers["location"] == "/a-traiter?fait=traite#resultat"
        after = await browser.get("/a-traiter?fait=traite")
        assert "marqué comme traité" in after.text
        assert f'id="element-{item["id"]}"' not in after.text
    finally:
        await browser.aclose()
    assert all(i["id"] != item["id"] for i in await inbox_of(stack, referent))


async def test_a_decision_requested_reaches_the_orientation_agents_and_leaves_once_decided(
    stack: PartnerStack,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    new_account: NewAccount,
) -> None:
    """The other branch's button « Demander une décision d'orientation » signals
    ``record_outcome`` with ``decision_requested``: sent here through the Temporal client."""
    second = await new_account("orientation", territory="73", full_name="Chloé Seconde")
    elsewhere = await new_account("orientation", territory="74")
    async with transaction(sessions) as session:
        enrolment = await JourneyService(session, stack.client, stack.settings).enrol(
            BeneficiaryCreate(
                first_name="Yanis",
                last_name=f"Orientation{uuid.uuid4().hex[:6]}",
                birth_date=datetime(1991, 4, 12).date(),
                postal_code="73000",
                city="Chambéry",
                territory="73",
                referent_id=staff.referent_id,
                structure_id=staff.structure_id,
            ),
            actor_id=staff.referent_id,
        )
    person_id = enrolment.beneficiary.id
    for action in (
        BeginDiagnosisInput(actor_id=staff.referent_id),
        CompleteDiagnosisInput(actor_id=staff.referent_id),
    ):
        async with transaction(sessions) as session:
            await JourneyService(session, stack.client, stack.settings).act(person_id, action)

    handle = stack.client.get_workflow_handle(journey_workflow_id(person_id))
    await handle.signal(
        RECORD_OUTCOME,
        JourneyOutcomeInput(kind="decision_requested", actor_id=staff.referent_id, detail={}),
    )
    await settled(handle)
    name = await person_name(sessions, person_id)
    for agent in (staff["orientation"], second):
        item = await item_about(stack, agent, ItemKind.DECISION_REQUESTED, person_id)
        assert (item["title"], item["person"]) == ("Décision d'orientation demandée", name)
        assert item["href"] == f"/parcours/{person_id}"
    # Not the département next door, nor the référente who asked.
    assert not [i for i in await inbox_of(stack, elsewhere) if i["beneficiary_id"] == person_id]
    assert not [
        i
        for i in await inbox_of(stack, staff["referent"])
        if i["kind"] == "decision_requested" and i["beneficiary_id"] == person_id
    ]

    # The orientation is decided: the journey leaves the step, the items leave the inboxes.
    async with transaction(sessions) as session:
        await JourneyService(session, stack.client, stack.settings).act(
            person_id,
            DecideOrientationInput(
                kind=OrientationKind.SOCIAL,
                structure_id=staff.structure_id,
                referent_id=staff.referent_id,
                actor_id=staff.orientation_id,
            ),
        )
    for agent in (staff["orientation"], second):

        async def cleared(agent: Account = agent) -> bool | None:
            items = await inbox_of(stack, agent)
            left = [i for i in items if i["beneficiary_id"] == person_id]
            return True if not [i for i in left if i["kind"] == "decision_requested"] else None

        assert await until(cleared)


async def test_no_email_for_an_agent_who_chose_none(
    stack: PartnerStack,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    dev_worker: Any,
) -> None:
    referent = staff["referent"]
    await set_email(stack, referent, "none")
    person_id = await follow(sessions, stack.client, stack.settings, staff, consents=())
    await remind(stack, staff, person_id, "Point à faire.")
    await item_about(stack, referent, ItemKind.REMINDER, person_id)
    await stack.client.execute_workflow(
        InboxDaily.run,
        InboxDailyInput(),
        id=f"inbox-daily-{uuid.uuid4()}",
        task_queue=settings.task_queue,  # the dev worker's: the whole worker's assembly
    )
    assert await mails_to(sessions, referent.email) == []


async def test_the_daily_summary_sends_one_mail_with_counts(
    stack: PartnerStack,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    mailbox: LocalMailbox,
    settings: Settings,
    dev_worker: Any,
) -> None:
    referent = staff["referent"]  # no preference chosen: the daily summary
    person_id = await follow(sessions, stack.client, stack.settings, staff, consents=())
    await remind(stack, staff, person_id, "Point à faire.")
    await item_about(stack, referent, ItemKind.REMINDER, person_id)
    open_items = len(await inbox_of(stack, referent))
    assert open_items >= 2  # the journey handed to her at enrolment and orientation, the relance
    assert await mails_to(sessions, referent.email) == []  # nothing at once

    for _ in range(2):  # a second run the same day writes nothing more
        await stack.client.execute_workflow(
            InboxDaily.run,
            InboxDailyInput(),
            id=f"inbox-daily-{uuid.uuid4()}",
            task_queue=settings.task_queue,
        )
    (summary,) = await mails_to(sessions, referent.email)
    await send_outbox(sessions, mailbox.settings(settings), [summary.id])
    mail = await mailbox.wait_for(to=referent.email, subject_contains="à traiter")
    assert f"{open_items} élément(s) à traiter" in mail.subject
    assert f"Vous avez {open_items} élément(s) à traiter dans Parcours" in mail.body
    assert "/a-traiter" in mail.body
    for secret in await person_secrets(sessions, person_id):
        assert secret.casefold() not in f"{mail.subject}\n{mail.body}".casefold(), secret
    assert len(mailbox.received(to=referent.email)) == 1


# --- The producer itself ---


async def a_person(sessions: async_sessionmaker[AsyncSession], first: str, last: str) -> str:
    """A person in Savoie, without a journey: the projection is driven by hand."""
    async with transaction(sessions) as session:
        person = Beneficiary(
            first_name=first,
            last_name=f"{last}{uuid.uuid4().hex[:6]}",
            birth_date=datetime(1980, 1, 1).date(),
            territory="73",
        )
        session.add(person)
        await session.flush()
        return person.id


async def test_a_replayed_projection_writes_each_item_once_and_a_replaced_event_takes_its_own(
    staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    now = datetime.now(UTC)
    person_id = await a_person(sessions, "Rejoué", "Projection")
    state = JourneyState(
        beneficiary_id=person_id,
        territory="73",
        step=Step.ORIENTATION,
        step_since=now,
        deadline=now + timedelta(days=30),
        referent_id=staff.referent_id,
        seq=2,
    )
    batch = RecordJourneyEventsInput(
        journey=state,
        first_seq=1,
        events=[
            JourneyEvent(kind="journey_started", occurred_at=now, detail={"territory": "73"}),
            JourneyEvent(
                kind="decision_requested",
                occurred_at=now,
                step=Step.ORIENTATION,
                actor_id=staff.referent_id,
            ),
        ],
    )
    for _ in range(3):  # retried, replayed, reconciled
        async with transaction(sessions) as session:
            await JourneyRepository(session).project(batch, handoff_read_days=90)

    async def count() -> int:
        async with sessions() as session:
            total = await session.scalar(
                select(func.count())
                .select_from(InboxItem)
                .where(
                    InboxItem.beneficiary_id == person_id,
                    InboxItem.recipient_id == staff.orientation_id,
                )
            )
            return total or 0

    assert await count() == 1
    # The engine never recorded that event: a different one at its number replaces it.
    other = batch.model_copy(
        update={
            "first_seq": 2,
            "events": [JourneyEvent(kind="paused", occurred_at=now + timedelta(seconds=1))],
        }
    )
    async with transaction(sessions) as session:
        assert await JourneyRepository(session).project(other, handoff_read_days=90)
    assert await count() == 0


async def test_an_item_made_and_settled_by_the_same_transition_is_left_settled(
    staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The producer reads the journey's open items once per transition: what an event of the
    transition adds, a later event of the same transition still settles (and what was open
    before, too)."""
    now = datetime.now(UTC)
    person_id = await a_person(sessions, "Clos", "Transition")
    state = JourneyState(
        beneficiary_id=person_id,
        territory="73",
        step=Step.ORIENTATION,
        step_since=now,
        referent_id=staff.referent_id,
        seq=2,
    )
    asked = JourneyEvent(
        kind="decision_requested", occurred_at=now, step=Step.ORIENTATION, actor_id="someone"
    )
    started = JourneyEvent(kind="journey_started", occurred_at=now, detail={"territory": "73"})
    async with transaction(sessions) as session:
        await JourneyRepository(session).project(
            RecordJourneyEventsInput(journey=state, first_seq=1, events=[started, asked]),
            handoff_read_days=90,
        )
    later = now + timedelta(minutes=1)
    closed = state.model_copy(update={"step": Step.CLOSED, "step_since": later, "seq": 4})
    async with transaction(sessions) as session:
        await JourneyRepository(session).project(
            RecordJourneyEventsInput(
                journey=closed,
                first_seq=3,
                events=[
                    asked.model_copy(update={"occurred_at": later}),
                    JourneyEvent(kind="closed", occurred_at=later, step=Step.CLOSED),
                ],
            ),
            handoff_read_days=90,
        )
    async with sessions() as session:
        items = (
            await session.execute(
                select(InboxItem.journey_seq, InboxItem.settled_at).where(
                    InboxItem.beneficiary_id == person_id,
                    InboxItem.recipient_id == staff.orientation_id,
                )
            )
        ).all()
    assert sorted(seq or 0 for seq, _ in items) == [2, 3]
    assert all(settled_at is not None for _, settled_at in items), items


def test_the_rules_say_who_is_told_and_what_settles() -> None:
    now = datetime.now(UTC)
    state = JourneyState(
        beneficiary_id="p", territory="73", step=Step.ORIENTATION, step_since=now, seq=3
    )
    asked = JourneyEvent(kind="decision_requested", occurred_at=now, actor_id="r")
    (notice,) = notices(asked, state)
    assert (notice.kind, notice.audience.value) == (ItemKind.DECISION_REQUESTED, "orientation")
    question = JourneyEvent(
        kind="training_more_info_requested",
        occurred_at=now,
        detail={"request_id": "q1", "funder": "region"},
    )
    (notice,) = notices(question, state.model_copy(update={"referent_id": "r"}))
    assert (notice.kind, notice.ref) == (ItemKind.TRAINING_QUESTION, "q1")
    answered = JourneyEvent(
        kind="training_more_info_answered", occurred_at=now, detail={"request_id": "q1"}
    )
    assert any(s.ref == "q1" for s in settlements(answered, state))
    assert notices(JourneyEvent(kind="paused", occurred_at=now), state) == []
    decided = state.model_copy(update={"step": Step.ACCOMPANIMENT})
    (step_bound, *_) = settlements(
        JourneyEvent(kind="orientation_decided", occurred_at=now), decided
    )
    assert step_bound.step_not == "accompaniment"


async def test_a_person_withdrawing_her_consent_reaches_her_referente(
    stack: PartnerStack,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    new_account: NewAccount,
) -> None:
    person_id = await follow(sessions, stack.client, stack.settings, staff, consents=("region",))
    person = await new_account("beneficiary", beneficiary_id=person_id)
    async with api(stack, person) as client:
        response = await client.put(
            "/api/v1/me/consents", json={"partner": "region", "granted": False}
        )
    assert response.status_code in (200, 204), response.text
    item = await item_about(stack, staff["referent"], ItemKind.CONSENT_CHANGED, person_id)
    assert item["summary"] == "La personne a retiré son accord de partage avec la Région."
    assert item["person"] == await person_name(sessions, person_id)
    consent_items = [
        i
        for i in await inbox_of(stack, staff["referent"])
        if i["kind"] == "consent_changed" and i["beneficiary_id"] == person_id
    ]
    assert len(consent_items) == 1


async def test_a_deadline_within_a_week_is_one_item_until_the_journey_is_late(
    staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    now = datetime.now(UTC)
    async with transaction(sessions) as session:
        person = Beneficiary(
            first_name="Échéance",
            last_name=f"Proche{uuid.uuid4().hex[:6]}",
            birth_date=datetime(1985, 6, 1).date(),
            territory="73",
        )
        session.add(person)
        await session.flush()
        person_id = person.id
    state = JourneyState(
        beneficiary_id=person_id,
        territory="73",
        step=Step.DIAGNOSIS,
        step_since=now,
        deadline=now + timedelta(days=3),
        referent_id=staff.referent_id,
        seq=1,
    )
    started = JourneyEvent(kind="journey_started", occurred_at=now, detail={"territory": "73"})
    async with transaction(sessions) as session:
        await JourneyRepository(session).project(
            RecordJourneyEventsInput(journey=state, first_seq=1, events=[started]),
            handoff_read_days=90,
        )

    async def items(kind: ItemKind) -> list[InboxItem]:
        async with sessions() as session:
            rows = await session.scalars(
                select(InboxItem).where(
                    InboxItem.beneficiary_id == person_id, InboxItem.kind == kind.value
                )
            )
            return list(rows)

    for _ in range(2):  # the daily pass, run twice the same day
        async with transaction(sessions) as session:
            await InboxProducer(session).due_soon(now)
    (soon,) = await items(ItemKind.DEADLINE_SOON)
    assert (soon.recipient_id, soon.settled_at) == (staff.referent_id, None)

    # The deadline passes: the journey is late, its own item says so; the other is settled.
    late = state.model_copy(update={"stalled": True, "seq": 2})
    passed = JourneyEvent(
        kind="deadline_passed",
        occurred_at=now + timedelta(days=3),
        step=Step.DIAGNOSIS,
        detail={
            "step": "diagnosis",
            "deadline": late.deadline.isoformat() if late.deadline else "",
        },
    )
    async with transaction(sessions) as session:
        await JourneyRepository(session).project(
            RecordJourneyEventsInput(journey=late, first_seq=2, events=[passed]),
            handoff_read_days=90,
        )
    (soon,) = await items(ItemKind.DEADLINE_SOON)
    assert soon.settled_at is not None
    (overdue,) = await items(ItemKind.DEADLINE_PASSED)
    assert (overdue.recipient_id, overdue.settled_at) == (staff.referent_id, None)
