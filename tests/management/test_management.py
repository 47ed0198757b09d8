"""The managers' console: stalled journeys with their causes, actions on them, incidents and
"retry now", scope, and the daily digest.

- Deadlines and inactivity run on the time-skipping server: journeys are left alone for weeks
  and the console, asked at the server's time, says which are stalled, why and since when;
  the ``DailyDigest`` workflow then writes each recipient's digest.
- A partner kept down by the simulators' switches makes a real partner call fail until it is
  an incident; the manager retries it now and the call goes through at once.
- Reassigning several journeys at once goes through each journey's workflow, which moves its
  ``Referent`` search attribute; reminders, escalations and notes show in the carnet's
  timeline with who did them, and in the access log.
- A manager sees and acts on their own territory only: anything else is "introuvable".
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.management import DigestActivities
from parcours.access.models import AccessLogEntry, Structure
from parcours.carnet.models import Beneficiary, Consent
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.messages import REFERENT_KEY
from parcours.journey.models import JourneyRecord
from parcours.journey.schemas import BeneficiaryCreate
from parcours.journey.service import JourneyService
from parcours.management.messages import DailyDigestInput, SendDigestsInput
from parcours.management.models import Digest
from parcours.management.schemas import DigestRead, StallCause, StalledFilter
from parcours.management.service import StalledService, digest_read
from parcours.orientations.models import ServiceOrientationRecord
from parcours.training_requests.models import TrainingRequestRecord
from tests.support.accounts import NewAccount, Staff
from tests.support.api import act, enrol, read
from tests.support.carnet import carnet
from tests.support.clients import ApiClients, Browsers, api_clients, signed_in
from tests.support.mailbox import LocalMailbox
from tests.support.partners import PartnerStack, training_request
from tests.support.people import person_payload
from workflows.management import DailyDigest

Json = dict[str, Any]
NOT_FOUND = {"detail": "Personne introuvable."}


def new_territory() -> str:
    """A département code no other test uses: what its manager sees is this test's only."""
    return str(100 + uuid.uuid4().int % 900)


async def until(check: Callable[[], Awaitable[Any]], what: str, within_s: float = 30) -> Any:
    try:
        async with asyncio.timeout(within_s):
            while not (value := await check()):
                await asyncio.sleep(0.1)
            return value
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


# --- A département of its own, on the time-skipping server ---


@dataclass
class Departement:
    """A territory with a structure, its référent, its manager and its administrator, whose
    journeys run on the time-skipping server."""

    env: WorkflowEnvironment
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    territory: str
    structure_id: str
    referent_id: str
    manager_id: str
    manager_email: str
    admin_id: str

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def enrol(self, *, followed: bool = True) -> str:
        """A person whose journey starts now (server time), followed by the référent or not
        (then they wait for one)."""
        payload = person_payload(
            territory=self.territory,
            rsa_opened_on=(await self.now()).date().isoformat(),
            referent_id=self.referent_id if followed else None,
            structure_id=self.structure_id if followed else None,
        )
        async with transaction(self.sessions) as session:
            enrolment = await JourneyService(session, self.env.client, self.settings).enrol(
                BeneficiaryCreate.model_validate(payload), now=await self.now()
            )
        return enrolment.beneficiary.id

    async def stalled(self, **filters: Any) -> Any:
        async with self.sessions() as session:
            return await StalledService(session, self.settings).page(
                StalledFilter(territory=self.territory, **filters), now=await self.now()
            )

    async def wait_stalled(self, *ids: str) -> None:
        async def all_stalled() -> bool:
            async with self.sessions() as session:
                rows = await session.scalars(
                    select(JourneyRecord.stalled).where(JourneyRecord.beneficiary_id.in_(ids))
                )
                return all(rows)

        await until(all_stalled, "the journeys' deadlines passed")

    async def digest(self) -> None:
        await self.env.client.execute_workflow(
            DailyDigest.run,
            DailyDigestInput(),
            id=f"digest-test-{uuid.uuid4()}",
            task_queue=self.settings.task_queue,
        )

    async def digest_of(self, recipient_id: str) -> DigestRead:
        async with self.sessions() as session:
            found = await session.scalar(
                select(Digest)
                .where(Digest.recipient_id == recipient_id)
                .order_by(Digest.day.desc())
                .limit(1)
            )
            assert found is not None, "no digest written"
            return await digest_read(session, found)


@pytest.fixture
async def departement(
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    new_account: NewAccount,
) -> Departement:
    territory = new_territory()
    async with transaction(sessions) as session:
        structure = Structure(name=f"CCAS {territory}", kind="ccas", territory=territory)
        session.add(structure)
    referent = await new_account("referent", territory=territory, structure_id=structure.id)
    manager = await new_account("manager", territory=territory)
    admin = await new_account("admin", territory=territory, structure_id=structure.id)
    return Departement(
        time_env,
        sessions,
        settings,
        territory,
        structure.id,
        referent.id,
        manager.id,
        manager.email,
        admin.id,
    )


def causes_of(page: Any) -> dict[str, set[StallCause]]:
    return {item.beneficiary_id: {c.cause for c in item.causes} for item in page.items}


async def test_deadlines_and_inactivity_make_journeys_stalled_and_the_digest_says_so(
    departement: Departement, sessions: async_sessionmaker[AsyncSession]
) -> None:
    d = departement
    # Step deadlines and inactivity only: France Travail's takeover at 6 weeks (the legal
    # orientation delay) would move these journeys; it has its own tests.
    d.settings = d.settings.model_copy(update={"france_travail_orients_after_weeks": 0})
    t0 = await d.now()
    waiting = await d.enrol(followed=False)  # nobody follows this person
    followed = await d.enrol()
    assert (await d.stalled()).total == 0

    # A quarter of a day past the intake deadline (15 days): both are late.
    await d.env.sleep(timedelta(days=15, hours=6))
    await d.wait_stalled(waiting, followed)
    page = await d.stalled()
    assert causes_of(page) == {waiting: {StallCause.DEADLINE}, followed: {StallCause.DEADLINE}}
    assert page.counts == {
        StallCause.DEADLINE: 2,
        StallCause.INACTIVE: 0,
        StallCause.REQUEST: 0,
        StallCause.INCIDENT: 0,
    }
    deadline = t0 + timedelta(days=15)
    for item in page.items:
        assert abs(item.since - deadline) < timedelta(minutes=1)
        assert item.causes[0].detail.startswith("L'étape « Accueil » devait être franchie")
    # Filters: the référent's journeys, a cause, how long overdue.
    assert causes_of(await d.stalled(referent_id=d.referent_id)).keys() == {followed}
    assert (await d.stalled(cause=StallCause.INACTIVE)).total == 0
    assert (await d.stalled(min_overdue_days=1)).total == 0

    # The morning digest: who waits for a référent (enrolled 15 days ago), what stalled.
    await d.digest()
    manager = await d.digest_of(d.manager_id)
    assert [line.beneficiary_id for line in manager.waiting] == [waiting]
    assert manager.waiting[0].days == 15
    assert {line.beneficiary_id for line in manager.newly_stalled} == {waiting, followed}
    assert {line.detail for line in manager.newly_stalled} == {"Étape en retard"}
    # The structure's administrator hears of the structure's journeys only.
    admin = await d.digest_of(d.admin_id)
    assert admin.waiting == []
    assert [line.beneficiary_id for line in admin.newly_stalled] == [followed]

    later = await d.enrol()  # enrolled after the first digest, late 15 days later
    # 80 days in: nothing happened since the deadlines (day 15) for more than 60 days; a note
    # was added to one carnet 5 days ago, which keeps it off the "inactive" cause.
    await d.env.sleep(timedelta(days=64, hours=18))
    await d.wait_stalled(later)
    async with transaction(sessions) as session:
        session.add(
            AccessLogEntry(
                at=await d.now() - timedelta(days=5),
                user_id=d.referent_id,
                beneficiary_id=followed,
                action="update",
                what="carnet.note",
            )
        )
    page = await d.stalled()
    assert causes_of(page) == {
        waiting: {StallCause.DEADLINE, StallCause.INACTIVE},
        followed: {StallCause.DEADLINE},
        later: {StallCause.DEADLINE},
    }
    assert page.counts[StallCause.INACTIVE] == 1
    # The most overdue first: the two from day 15, then the later one.
    assert [item.beneficiary_id for item in page.items][-1] == later
    (item,) = [i for i in page.items if i.beneficiary_id == waiting]
    since = {c.cause: c.since for c in item.causes}
    assert abs(since[StallCause.INACTIVE] - (deadline + timedelta(days=60))) < timedelta(minutes=1)
    assert causes_of(await d.stalled(cause=StallCause.INACTIVE)).keys() == {waiting}

    # The next digest lists only what stalled since the previous one.
    await d.digest()
    manager = await d.digest_of(d.manager_id)
    assert [line.beneficiary_id for line in manager.newly_stalled] == [later]
    assert manager.covers_from.date() == (t0 + timedelta(days=15, hours=6)).date()
    assert [line.beneficiary_id for line in manager.waiting] == [waiting]


async def test_a_request_waiting_on_its_funder_or_a_structure_stalls_the_journey(
    departement: Departement, sessions: async_sessionmaker[AsyncSession]
) -> None:
    d = departement
    training, orientation, answered = await d.enrol(), await d.enrol(), await d.enrol()
    now = await d.now()
    late = now - timedelta(days=3)
    async with transaction(sessions) as session:
        # What the TrainingRequest and ServiceOrientation workflows write when the funder or
        # the structure has not answered in time.
        session.add(
            TrainingRequestRecord(
                id=str(uuid.uuid4()),
                beneficiary_id=training,
                training_id=str(uuid.uuid4()),
                funder="region",
                territory=d.territory,
                workflow_id=f"training-request-{uuid.uuid4()}",
                status="submitted",
                requested_at=now - timedelta(days=18),
                deadline=late,
                stalled_since=late,
            )
        )
        for beneficiary_id, answered_at in ((orientation, None), (answered, now)):
            session.add(
                ServiceOrientationRecord(
                    id=str(uuid.uuid4()),
                    beneficiary_id=beneficiary_id,
                    status="sent" if answered_at is None else "accepted",
                    requested_at=now - timedelta(days=12),
                    reminded_at=now - timedelta(days=2),
                    answered_at=answered_at,
                )
            )
    page = await d.stalled()
    assert causes_of(page) == {
        training: {StallCause.REQUEST},
        orientation: {StallCause.REQUEST},
    }
    assert page.counts[StallCause.REQUEST] == 2
    assert [item.beneficiary_id for item in page.items] == [training, orientation]
    assert page.items[0].overdue_days == 3


# --- Through HTTP, on the dev server ---


async def stalled(client: httpx.AsyncClient, **params: Any) -> Json:
    response = await client.get("/api/v1/management/stalled", params=params)
    assert response.status_code == 200, response.text
    found: Json = response.json()
    return found


def ids_of(page: Json) -> list[str]:
    return [item["beneficiary_id"] for item in page["items"]]


async def late_in_orientation(api: ApiClients) -> str:
    """A person whose RSA opened two months ago, now waiting for their orientation: past the
    6 weeks the law gives, so stalled at once."""
    opened = (date.today() - timedelta(days=60)).isoformat()
    beneficiary_id = await enrol(api.referent, rsa_opened_on=opened)
    await act(api.referent, beneficiary_id, "begin-diagnosis")
    await act(api.referent, beneficiary_id, "complete-diagnosis")
    return beneficiary_id


async def test_a_manager_reassigns_several_journeys_at_once_through_their_workflows(
    api: ApiClients,
    staff: Staff,
    dev_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, second = await late_in_orientation(api), await late_in_orientation(api)
    closed = await enrol(api.referent)
    await act(api.manager, closed, "close", exit_reason="declined")

    page = await stalled(api.manager, referent_id=staff.referent_id)
    assert set(ids_of(page)) == {first, second}
    assert {c["cause"] for item in page["items"] for c in item["causes"]} == {"deadline"}
    assert page["counts"]["deadline"] == 2

    unknown = str(uuid.uuid4())
    response = await api.manager.post(
        "/api/v1/management/reassignments",
        json={
            "beneficiary_ids": [first, second, closed, unknown],
            "referent_id": staff.other_referent_id,
        },
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["done"] == [first, second]
    assert {(r["beneficiary_id"], r["reason"]) for r in result["refused"]} == {
        (closed, "Le parcours est clôturé : aucune action n'est plus possible."),
        (unknown, "Personne introuvable."),
    }

    for beneficiary_id in (first, second):
        detail = await read(api.manager, beneficiary_id)
        assert detail["journey"]["referent_id"] == staff.other_referent_id
        assert detail["journey"]["structure_id"] == staff.structure_id  # the référent's
        # The last the manager did (France Travail, asked past the legal delay, may follow).
        last = next(e for e in reversed(detail["timeline"]) if e["kind"] == "referent_reassigned")
        assert last["actor"]["id"] == staff.manager_id
        # Temporal's visibility follows: operators find the journey under its new référent.
        described = await dev_env.client.get_workflow_handle(f"journey-{beneficiary_id}").describe()
        assert described.typed_search_attributes.get(REFERENT_KEY) == staff.other_referent_id
    assert set(ids_of(await stalled(api.manager, referent_id=staff.other_referent_id))) >= {
        first,
        second,
    }
    async with sessions() as session:
        logged = await session.scalars(
            select(AccessLogEntry.beneficiary_id).where(
                AccessLogEntry.user_id == staff.manager_id,
                AccessLogEntry.what == "journey.reassign_referent",
            )
        )
        assert set(logged) == {first, second}

    # A référent who is not of the manager's département is refused before anything moves.
    stranger = await api.manager.post(
        "/api/v1/management/reassignments",
        json={"beneficiary_ids": [first], "referent_id": str(uuid.uuid4())},
    )
    assert stranger.status_code == 422
    assert stranger.json() == {"detail": "Référent inconnu dans votre département."}


async def test_reminders_escalations_and_notes_show_in_the_timeline_with_who_did_them(
    api: ApiClients,
    staff: Staff,
    new_account: NewAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    person = await late_in_orientation(api)
    unfollowed = await enrol(api.orientation)  # no référent yet, no structure

    reminded = await api.manager.post(
        "/api/v1/management/reminders",
        json={"beneficiary_ids": [person, unfollowed], "message": "Merci de la recevoir."},
    )
    assert reminded.json() == {
        "done": [person],
        "refused": [
            {
                "beneficiary_id": unfollowed,
                "full_name": reminded.json()["refused"][0]["full_name"],
                "reason": "Ce parcours n'a pas encore de référent : réaffectez-le d'abord.",
            }
        ],
    }
    assert reminded.json()["refused"][0]["full_name"].startswith("Prenomtest")
    escalated = await api.manager.post(
        "/api/v1/management/escalations",
        json={"beneficiary_ids": [person], "reason": "Aucun rendez-vous depuis deux mois."},
    )
    assert escalated.json()["done"] == [person]
    noted = await api.manager.post(
        f"/api/v1/management/journeys/{person}/notes", json={"body": "Appelé la structure."}
    )
    assert noted.status_code == 201, noted.text
    assert noted.json()["by"] == {"id": staff.manager_id, "label": "Manager 1"}
    empty = await api.manager.post(
        f"/api/v1/management/journeys/{person}/notes", json={"body": " "}
    )
    assert empty.status_code == 422

    # The référent reads it in the carnet's timeline, with who did it.
    timeline = (await carnet(api.referent, person))["timeline"]
    by_manager = [(e["label"], e["by"]["label"]) for e in timeline if e["origin"] == "management"]
    assert by_manager == [
        ("Note du responsable", "Manager 1"),
        ("Signalement à la structure", "Manager 1"),
        ("Relance du référent", "Manager 1"),
    ]
    # The reminder reaches the référent; the escalation, the structure's administrator.
    to_referent = (await api.referent.get("/api/v1/management/addressed-to-me")).json()
    assert [(i["label"], i["body"]) for i in to_referent if i["beneficiary_id"] == person] == [
        ("Relance du référent", "Merci de la recevoir.")
    ]
    structure_admin = await new_account("admin", structure_id=staff.structure_id)
    async with api_clients(str(api.manager.base_url), staff) as clients:
        to_admin = (await clients(structure_admin).get("/api/v1/management/addressed-to-me")).json()
    assert [(i["label"], i["body"]) for i in to_admin] == [
        ("Signalement à la structure", "Aucun rendez-vous depuis deux mois.")
    ]
    listed = await stalled(api.manager, referent_id=staff.referent_id)
    (item,) = [i for i in listed["items"] if i["beneficiary_id"] == person]
    assert item["last_intervention"]["label"] == "Note du responsable"
    async with sessions() as session:
        logged = await session.scalars(
            select(AccessLogEntry.what)
            .where(
                AccessLogEntry.beneficiary_id == person, AccessLogEntry.user_id == staff.manager_id
            )
            .order_by(AccessLogEntry.id)
        )
        assert [w for w in logged if w.startswith("management.")] == [
            "management.reminder",
            "management.escalation",
            "management.note",
        ]


async def test_a_manager_sees_and_acts_on_their_territory_only(
    api: ApiClients, staff: Staff, new_account: NewAccount, browsers: Browsers
) -> None:
    person = await late_in_orientation(api)
    elsewhere = await new_account("manager", territory="74")
    async with api_clients(str(api.manager.base_url), staff) as clients:
        other = clients(elsewhere)
        assert person not in ids_of(await stalled(other, limit=200))
        assert person not in ids_of(await stalled(other, territory="73", limit=200))
        refused = await other.post(
            "/api/v1/management/reminders", json={"beneficiary_ids": [person]}
        )
        assert refused.json()["refused"] == [
            {"beneficiary_id": person, "full_name": None, "reason": "Personne introuvable."}
        ]
        note = await other.post(f"/api/v1/management/journeys/{person}/notes", json={"body": "x"})
        assert (note.status_code, note.json()) == (404, NOT_FOUND)
        listed = await other.get(f"/api/v1/management/journeys/{person}/interventions")
        assert (listed.status_code, listed.json()) == (404, NOT_FOUND)
        moved = await other.post(
            "/api/v1/management/reassignments",
            json={"beneficiary_ids": [person], "referent_id": staff.other_referent_id},
        )
        assert moved.status_code == 422  # their référents are not this manager's
        browser = await browsers(elsewhere)
        page = await browser.get(f"/gestion/parcours/{person}")
        assert page.status_code == 404
        assert "Personne introuvable." in page.text
    assert person in ids_of(await stalled(api.manager, referent_id=staff.referent_id))
    # The console is the managers'.
    for who in ("referent", "orientation", "admin"):
        response = await api(who).get("/api/v1/management/stalled")
        assert response.status_code == 403
        assert response.json() == {
            "detail": "Cette page est réservée aux responsables de territoire."
        }


async def test_pages_list_stalled_journeys_and_act_on_the_checked_ones(
    api: ApiClients, staff: Staff, browsers: Browsers
) -> None:
    first, second = await late_in_orientation(api), await late_in_orientation(api)
    manager = await browsers("manager")
    page = await manager.get("/gestion/bloques", params={"referent": staff.referent_id})
    assert page.status_code == 200
    for beneficiary_id in (first, second):
        assert f'name="beneficiary_ids" value="{beneficiary_id}"' in page.text
    assert 'data-cause="deadline">Étape en retard : ' in page.text

    nothing = await manager.post("/gestion/bloques", data={"action": "relancer"})
    assert nothing.status_code == 422
    assert "Cochez au moins un parcours dans la liste." in nothing.text

    # One refused among the checked: the list says which and why, the others are done.
    unknown = str(uuid.uuid4())
    partly = await manager.client.post(
        "/gestion/bloques",
        params={"referent": staff.referent_id},
        data={
            "csrf_token": manager.csrf,
            "action": "relancer",
            "beneficiary_ids": [first, unknown],
        },
    )
    assert partly.status_code == 200
    assert "1 parcours traité(s), 1 refusé(s)" in partly.text
    assert "Parcours inconnu : Personne introuvable." in partly.text
    assert f'value="{first}" checked' in partly.text

    done = await manager.client.post(
        "/gestion/bloques",
        data={
            "csrf_token": manager.csrf,
            "action": "reaffecter",
            "referent_id": staff.other_referent_id,
            "beneficiary_ids": [first, second],
            "retour": f"referent={staff.referent_id}",
        },
    )
    assert done.status_code == 303, done.text
    shown = await manager.get(done.headers["location"])
    assert "Parcours réaffecté(s) : 2." in shown.text
    assert first not in shown.text and second not in shown.text  # no longer this référent's
    for beneficiary_id in (first, second):
        detail = await read(api.manager, beneficiary_id)
        assert detail["journey"]["referent_id"] == staff.other_referent_id

    # One journey's page: remind its référent, and see it in its interventions.
    reminded = await manager.post(
        f"/gestion/parcours/{first}/relance", data={"message": "Où en est-on ?"}
    )
    assert reminded.status_code == 303
    journey_page = await manager.get(reminded.headers["location"])
    assert "Relance du référent" in journey_page.text and "Où en est-on ?" in journey_page.text
    assert "Referent 2" in journey_page.text
    missing = await manager.post(f"/gestion/parcours/{first}/signalement", data={"reason": ""})
    assert missing.status_code == 422
    assert "Motif du signalement : ce champ est obligatoire." in missing.text

    # The reminder reaches the journey's référent now, in their "Résumé du jour".
    other_referent = await browsers("other_referent")
    summary = await other_referent.get("/gestion/resume")
    assert "Relance du référent" in summary.text and "Où en est-on ?" in summary.text
    referent = await browsers("referent")
    assert (await referent.get("/gestion/bloques")).status_code == 403
    assert "Où en est-on ?" not in (await referent.get("/gestion/resume")).text
    console = await manager.get("/gestion")
    assert console.headers["location"] == "/gestion/bloques"


# --- A partner that keeps failing: an incident, retried now ---


@contextlib.asynccontextmanager
async def signed_in_browsers(base_url: str, staff: Staff) -> AsyncIterator[Browsers]:
    opened = Browsers(base_url, staff)
    try:
        yield opened
    finally:
        await opened.aclose()


async def test_a_failing_partner_call_becomes_an_incident_the_manager_retries_now(
    partners: PartnerStack,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    async with (
        api_clients(partners.api_url, staff) as api,
        signed_in_browsers(partners.api_url, staff) as browsers,
    ):
        person = await enrol(api.referent)
        async with transaction(sessions) as session:
            session.add(Consent(beneficiary_id=person, partner="region", granted=True))
        # The Région is down for three calls: attempts at 0, 2 and 6 s fail; the policy would
        # try again 8 s later.
        await partners.switches("region", fail_next=3)
        handle = await partners.probe(
            "submit_training_request_region", training_request(person, "region")
        )

        async def incident() -> Json | None:
            page = await stalled(api.manager, cause="incident", referent_id=staff.referent_id)
            items = [i for i in page["items"] if i["beneficiary_id"] == person]
            return items[0] if items else None

        item = await until(incident, "the third failure opened an incident", within_s=30)
        (found,) = item["incidents"]
        assert found["attempts"] == 3
        assert (found["partner_label"], found["call_label"]) == (
            "Région",
            "Demande de financement de formation",
        )
        assert found["workflow_id"] == handle.id
        assert (
            found["temporal_url"]
            == f"http://127.0.0.1:8233/namespaces/default/workflows/{handle.id}"
        )
        assert "503" in found["last_failure"] or "indisponible" in found["last_failure"]
        (cause,) = item["causes"]
        assert cause["cause"] == "incident"

        # The manager's page of the journey: the incident, its link to Temporal, "retry now".
        manager = await browsers("manager")
        page = await manager.get(f"/gestion/parcours/{person}")
        assert "3 essais en échec" in page.text
        assert f'href="{found["temporal_url"]}"' in page.text
        assert f'href="/gestion/parcours/{person}/histoire"' in page.text
        retried = await manager.post(f"/gestion/incidents/{found['id']}/relancer")
        assert retried.status_code == 303, retried.text
        assert retried.headers["location"] == (f"/gestion/parcours/{person}?fait=appel#resultat")
        receipt = await asyncio.wait_for(handle.result(), timeout=20)
        # At once, not at the next attempt the retry policy had planned (its 4th, 8 s after
        # the 3rd): the call that went through is a first attempt again.
        (started,) = [
            e.activity_task_started_event_attributes
            for e in (await handle.fetch_history()).events
            if e.HasField("activity_task_started_event_attributes")
        ]
        assert started.attempt == 1
        assert receipt["reference"]
        state = await partners.state("region")
        assert state["traffic"] == {"calls": 4, "failed": 3, "held": 0}
        shown = await manager.get(retried.headers["location"])
        assert "Nouvel essai lancé : l&#39;appel au partenaire est refait maintenant." in shown.text

        async def closed() -> bool:
            listed = await api.manager.get(f"/api/v1/management/journeys/{person}/incidents")
            return listed.json() == []

        await until(closed, "the call that went through closed the incident")
        assert person not in ids_of(await stalled(api.manager, cause="incident"))
        interventions = (
            await api.manager.get(f"/api/v1/management/journeys/{person}/interventions")
        ).json()
        assert [(i["label"], i["by"]["id"]) for i in interventions] == [
            ("Appel au partenaire relancé", staff.manager_id)
        ]
        gone = await api.manager.post(f"/api/v1/management/incidents/{found['id']}/retry")
        assert gone.status_code == 404


# --- The digest by e-mail ---


@pytest.mark.onboarding
async def test_the_digest_is_emailed_when_an_smtp_host_is_set(
    departement: Departement,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mailbox: LocalMailbox,
    api_url: str,
) -> None:
    d = departement
    waiting = await d.enrol(followed=False)
    await d.env.sleep(timedelta(days=8))
    await d.digest()  # SMTP not configured: the digest stays in the app
    digest = await d.digest_of(d.manager_id)
    assert [line.beneficiary_id for line in digest.waiting] == [waiting]
    assert digest.sent_at is None

    mailing = DigestActivities(sessions, mailbox.settings(settings))
    result = await ActivityEnvironment().run(mailing.send_digests, SendDigestsInput(day=digest.day))
    assert result.sent >= 1
    mine = await mailbox.wait_for(to=d.manager_email)
    assert mine.subject.startswith(f"Parcours — résumé du {digest.day.strftime('%d/%m/%Y')}")
    body = mine.body
    assert "Personnes en attente d'un référent depuis plus de 7 jours (1)" in body
    assert f"{settings.public_app_url}/gestion/parcours/{waiting}" in mine.links
    # Counts and links: nothing about the person followed leaves by mail.
    async with sessions() as session:
        person = await session.get(Beneficiary, waiting)
    assert person is not None
    assert person.last_name not in body and person.first_name not in body
    assert (await d.digest_of(d.manager_id)).sent_at is not None
    async with signed_in(api_url, d.manager_email) as browser:
        page = await browser.get("/gestion/resume")
    assert "Personnes en attente d'un référent (1)" in page.text
    assert f'href="/gestion/parcours/{waiting}"' in page.text
    assert "Envoyé par courriel le" in page.text
    # Sent once: the next run sends nothing again.
    before = len(mailbox.received())
    await ActivityEnvironment().run(mailing.send_digests, SendDigestsInput(day=digest.day))
    assert len(mailbox.received()) == before
    assert len(mailbox.received(to=d.manager_email)) == 1
