"""A move between départements (« transfert »), through the real app, the real Temporal dev
server and worker, as the people involved notice it.

- A hand-off goes only to a département the platform hosts: to a département it does not
  host, or to a code that is no département, it is refused with the reason, on the API and on
  the journey's page, and the journey stays as it was.
- The receiving département's chargé d'orientation finds the journey in his list, and the
  arrival in his « Résumé du jour » (the page names the person and links to the journey; the
  e-mail gives counts and links, never the person's name); so does its manager.
- The former référente, and the référents of her structure, still read the carnet (with a
  banner saying until when), cannot change anything (403, in French), and once the period is
  over get « introuvable » like anyone else. Their reads go to the access log.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import AccessLogEntry, User
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.models import JourneyHandover
from parcours.management.models import Digest
from parcours.management.service import DigestService, digest_read, digest_text
from parcours.territories.models import Territory
from tests.support.accounts import Account, NewAccount, Staff
from tests.support.api import act, enrol, kinds, read
from tests.support.clients import ApiClients, Browsers, signed_in
from tests.support.people import person_payload

pytestmark = pytest.mark.onboarding

PARIS = ZoneInfo("Europe/Paris")
NOT_FOUND = {"detail": "Personne introuvable."}


def text(response: httpx.Response) -> str:
    """The page as read: HTML entities decoded (apostrophes, guillemets)."""
    assert response.headers["content-type"].startswith("text/html")
    return html.unescape(response.text)


def offered(page: str, beneficiary_id: str) -> list[str]:
    return re.findall(rf'action="/parcours/{beneficiary_id}/actions/(\w+)"', page)


def day_fr(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%d/%m/%Y")


async def handovers_of(
    sessions: async_sessionmaker[AsyncSession], beneficiary_id: str
) -> list[JourneyHandover]:
    async with sessions() as session:
        rows = await session.scalars(
            select(JourneyHandover).where(JourneyHandover.beneficiary_id == beneficiary_id)
        )
        return list(rows)


async def compose_digest(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, recipient: Account
) -> tuple[Digest, str, str]:
    """The recipient's digest of today, composed as the morning's activity does, and its
    e-mail (subject, body)."""
    async with transaction(sessions) as session:
        assert await DigestService(session, settings).compose(recipient.id, datetime.now(UTC))
    async with sessions() as session:
        digest = await session.scalar(select(Digest).where(Digest.recipient_id == recipient.id))
        assert digest is not None
        read_ = await digest_read(session, digest)
        user = await session.get(User, recipient.id)
        assert user is not None
        subject, body = digest_text(
            read_, user, settings.public_app_url, settings.digest_waiting_days
        )
    return digest, subject, body


async def test_a_journey_moves_to_a_hosted_departement_its_team_told_the_former_team_reading(
    api: ApiClients,
    browsers: Browsers,
    staff: Staff,
    new_account: NewAccount,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    api_url: str,
) -> None:
    # A journey in Savoie, followed by a référente of a structure, with a note of hers.
    payload = person_payload(referent_id=staff.referent_id, structure_id=staff.structure_id)
    first_name, last_name = str(payload["first_name"]), str(payload["last_name"])
    full_name = f"{first_name} {last_name}"
    moving = await enrol(api.referent, **payload)
    await act(api.referent, moving, "begin-diagnosis")
    note = await api.referent.post(
        f"/api/v1/beneficiaries/{moving}/notes", json={"body": "Premier entretien fait."}
    )
    assert note.status_code == 204, note.text
    annecy_orientation = await new_account("orientation", territory="74")
    annecy_manager = await new_account("manager", territory="74")

    # --- Only to a hosted département ---
    async with sessions() as session:
        isere = await session.get(Territory, "38")
    assert isere is not None and not isere.active, "the test expects Isère not hosted"
    refusals = {
        "38": "Le département 38 (Isère) n'est pas accueilli sur la plateforme.",
        "99": "Département « 99 » inconnu.",
    }
    for code, reason in refusals.items():
        refused = await api.orientation.post(
            f"/api/v1/journeys/{moving}/actions/hand-off", json={"territory": code}
        )
        assert (refused.status_code, refused.json()) == (422, {"detail": reason})
    orientation = await browsers("orientation")
    on_page = await orientation.post(
        f"/parcours/{moving}/actions/hand_off", data={"territory": "38"}
    )
    assert on_page.status_code == 422
    page = text(on_page)
    assert "L'action n'a pas été enregistrée" in page
    assert refusals["38"] in page
    assert 'name="territory" value="38"' in page
    # The form says where a journey may go (other tests may host more départements).
    hint = re.search(r"Code du département accueilli sur la plateforme : ([^<]*)<", page)
    assert hint and "74 (Haute-Savoie)" in hint.group(1).split(", "), hint
    unchanged = await read(api.orientation, moving)
    assert unchanged["journey"]["territory"] == "73"
    assert unchanged["journey"]["referent_id"] == staff.referent_id
    assert "handed_off" not in kinds(unchanged)
    assert await handovers_of(sessions, moving) == []

    # --- The chargée d'orientation of Savoie hands it off to Haute-Savoie ---
    moved = await act(api.orientation, moving, "hand-off", territory="74")
    assert (moved["territory"], moved["referent_id"], moved["step"]) == ("74", None, "orientation")
    (handover,) = await handovers_of(sessions, moving)
    assert (handover.from_territory, handover.to_territory) == ("73", "74")
    assert (handover.from_referent_id, handover.from_structure_id) == (
        staff.referent_id,
        staff.structure_id,
    )
    assert handover.readable_until - handover.handed_off_at == timedelta(days=90)

    # --- The receiving team: the journey in its list, the arrival in its digest ---
    listed = await api(annecy_orientation).get("/api/v1/journeys", params={"limit": 200})
    assert moving in [item["beneficiary_id"] for item in listed.json()["items"]]
    async with signed_in(api_url, annecy_orientation.email) as browser:
        assert full_name in text(await browser.get(f"/parcours?q={last_name}"))
        received = text(await browser.get(f"/parcours/{moving}"))
        assert "decide_orientation" in offered(received, moving)
    arrived = f"Arrivé du département 73 (Savoie), le {day_fr(handover.handed_off_at)}"
    for recipient in (annecy_orientation, annecy_manager):
        _, subject, body = await compose_digest(sessions, settings, recipient)
        assert "arrivé(s) d'un autre département" in subject
        assert "Parcours arrivés d'un autre département (" in body
        assert f"  - {arrived} : {settings.public_app_url}/parcours/{moving}" in body
        assert last_name not in body and first_name not in body
    async with signed_in(api_url, annecy_orientation.email) as browser:
        digest_page = text(await browser.get("/gestion/resume"))
    assert "Arrivés d'un autre département (" in digest_page
    assert f'<a href="/parcours/{moving}">{full_name}</a> — {arrived}' in digest_page
    # A chargé d'orientation's digest leaves stalled journeys to the managers' console.
    assert "Parcours nouvellement bloqués" not in digest_page

    # --- The former référente reads, read only, with the reason on the carnet ---
    banner = (
        f"Parcours transféré au département 74 (Haute-Savoie) le "
        f"{day_fr(handover.handed_off_at)} : vous le lisez jusqu'au "
        f"{day_fr(handover.readable_until)}, sans pouvoir le modifier."
    )
    former = await browsers("referent")
    situation = await former.get(f"/beneficiaires/{moving}/situation")
    assert situation.status_code == 200
    assert banner in text(situation)
    notes = text(await former.get(f"/beneficiaires/{moving}/notes"))
    assert "Premier entretien fait." in notes
    assert 'id="note-form"' not in notes
    journey_tab = text(await former.get(f"/parcours/{moving}"))
    assert banner in journey_tab
    assert offered(journey_tab, moving) == []
    carnet = await api.referent.get(f"/api/v1/beneficiaries/{moving}/carnet")
    assert carnet.status_code == 200
    assert (carnet.json()["can_write"], carnet.json()["handed_off"]["to_territory"]) == (
        False,
        "74",
    )
    # Her structure's other référent too; another structure's référent, never.
    assert (await api.other_referent.get(f"/api/v1/beneficiaries/{moving}/carnet")).is_success
    outsider = await api.outsider.get(f"/api/v1/beneficiaries/{moving}/carnet")
    assert (outsider.status_code, outsider.json()) == (404, NOT_FOUND)

    read_only = (
        f"Parcours transféré au département 74 le {day_fr(handover.handed_off_at)} : vous "
        f"pouvez le lire jusqu'au {day_fr(handover.readable_until)}, sans pouvoir le modifier "
        "ni agir sur le parcours."
    )
    for attempt in (
        api.referent.post(f"/api/v1/beneficiaries/{moving}/notes", json={"body": "Encore moi."}),
        api.referent.post(f"/api/v1/journeys/{moving}/actions/pause", json={}),
        api.referent.put(f"/api/v1/beneficiaries/{moving}/contact", json={"phone": "0600000000"}),
    ):
        refused = await attempt
        assert (refused.status_code, refused.json()) == (403, {"detail": read_only})
    on_page = await former.post(f"/beneficiaires/{moving}/notes", data={"body": "Encore moi."})
    assert on_page.status_code == 403
    assert read_only in text(on_page)
    after = (await api(annecy_orientation).get(f"/api/v1/beneficiaries/{moving}/carnet")).json()
    assert [n["body"] for n in after["notes"]] == ["Premier entretien fait."]
    assert after["journey"]["paused"] is False
    # Her reads are in the access log, like every read.
    async with sessions() as session:
        logged = await session.scalars(
            select(AccessLogEntry.what).where(
                AccessLogEntry.beneficiary_id == moving,
                AccessLogEntry.user_id == staff.referent_id,
                AccessLogEntry.action == "read",
                AccessLogEntry.at >= handover.handed_off_at,
            )
        )
        assert {"carnet.situation", "carnet.notes", "journey", "carnet"} <= set(logged)

    # --- Once the period is over: « introuvable », like anyone else ---
    async with transaction(sessions) as session:
        await session.execute(
            update(JourneyHandover)
            .where(JourneyHandover.id == handover.id)
            .values(readable_until=datetime.now(UTC) - timedelta(minutes=1))
        )
    gone = await api.referent.get(f"/api/v1/beneficiaries/{moving}/carnet")
    assert (gone.status_code, gone.json()) == (404, NOT_FOUND)
    write = await api.referent.post(
        f"/api/v1/beneficiaries/{moving}/notes", json={"body": "Encore moi."}
    )
    assert (write.status_code, write.json()) == (404, NOT_FOUND)
    assert (await former.get(f"/beneficiaires/{moving}/situation")).status_code == 404
    # The receiving département goes on as usual.
    assert (await api(annecy_orientation).get(f"/api/v1/journeys/{moving}")).is_success
