"""The agents' appointment pages through HTTP, as a signed-in browser posts their forms (the
real app, the dev server and its worker): the référente declares a place and a weekly slot,
a slot without its day is refused in French; a structure with no slot of a kind cannot invite
(the carnet's tab says why); she invites from the carnet's « Rendez-vous » tab and sees the
invitation with its history; she convokes to a free slot, which the week's agenda shows. And
through the JSON API: a structure without any slot is refused with a 409 and its reason. The
person finds her booking link in her own space."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.accounts import NewAccount, Staff
from tests.support.api import enrol
from tests.support.appointments import booking_link
from tests.support.clients import ApiClients, Browsers, signed_in
from tests.support.training_requests import until

pytestmark = pytest.mark.appointments


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", page))


async def test_places_slots_invitation_convocation_and_agenda_through_the_pages(
    browsers: Browsers, api: ApiClients, staff: Staff
) -> None:
    referente = await browsers("referent")
    person_id = await enrol(api.referent)

    # No slot yet: the invitation is refused, and the tab says why.
    refused = await referente.post(
        f"/beneficiaires/{person_id}/invitations", data={"kind": "orientation"}
    )
    assert refused.status_code == 409
    assert "aucun créneau libre" in text_of(refused.text)

    placed = await referente.post(
        "/rendez-vous/lieux",
        data={"name": "Maison France services", "address": "2 rue Favre, 73000 Chambéry"},
    )
    assert placed.status_code == 303, placed.text
    page = await referente.get("/rendez-vous/lieux-et-creneaux")
    place_id = re.search(r'<option value="([0-9a-f-]{36})">Maison France services', page.text)
    assert place_id is not None
    half = await referente.post(
        "/rendez-vous/creneaux",
        data={"place_id": place_id.group(1), "kind": "orientation", "start_time": "09:30"},
    )
    assert half.status_code == 422
    assert "soit une date, soit un jour de la semaine" in text_of(half.text)
    for weekday in range(7):
        slot = await referente.post(
            "/rendez-vous/creneaux",
            data={
                "place_id": place_id.group(1),
                "kind": "orientation",
                "start_time": "09:30",
                "weekday": str(weekday),
            },
        )
        assert slot.status_code == 303, slot.text
    assert "chaque lundi à 09h30" in text_of(
        (await referente.get("/rendez-vous/lieux-et-creneaux")).text
    )

    invited = await referente.post(
        f"/beneficiaires/{person_id}/invitations", data={"kind": "orientation"}
    )
    assert invited.status_code == 303, invited.text

    async def tab_with_history() -> str | None:
        tab = text_of((await referente.get(f"/beneficiaires/{person_id}/rendez-vous")).text)
        return tab if "Invitation envoyée" in tab and "Rendez-vous d'orientation" in tab else None

    await until(tab_with_history)

    # A convocation to a free slot in a week's time: the agenda of that week shows it.
    tab = (await referente.get(f"/beneficiaires/{person_id}/rendez-vous")).text
    options = re.findall(r'<option value="([0-9a-f-]{36}\|[^"]+)">', tab)
    soon = datetime.now(UTC) + timedelta(days=7)
    chosen = next(o for o in options if datetime.fromisoformat(o.split("|")[1]) > soon)
    convoked = await referente.post(
        f"/beneficiaires/{person_id}/convocations", data={"creneau": chosen, "with_letter": "oui"}
    )
    assert convoked.status_code == 303, convoked.text
    day = datetime.fromisoformat(chosen.split("|")[1]).date().isoformat()
    agenda = text_of((await referente.get(f"/rendez-vous/agenda?vue=semaine&jour={day}")).text)
    assert "Convocation" in agenda and "Maison France services" in agenda
    # Its attendance is recorded after it, not before.
    appointments = (
        await api.referent.get(f"/api/v1/beneficiaries/{person_id}/appointments")
    ).json()
    convocation = next(a for a in appointments if a["mode"] == "convocation")
    early = await api.referent.post(
        f"/api/v1/appointments/{convocation['id']}/attendance", json={"status": "attended"}
    )
    assert early.status_code == 409
    assert "après le rendez-vous" in early.json()["detail"]


async def test_a_structure_without_slots_cannot_invite_through_the_api(api: ApiClients) -> None:
    person_id = await enrol(api.referent)
    refused = await api.referent.post(
        "/api/v1/appointments/invitations", json={"beneficiary_id": person_id, "kind": "suivi"}
    )
    assert refused.status_code == 409
    assert "aucun créneau libre" in refused.json()["detail"]
    assert "Rendez-vous de suivi" in refused.json()["detail"]


async def test_the_person_finds_her_booking_link_in_her_own_space(
    api: ApiClients, api_url: str, new_account: NewAccount
) -> None:
    person_id = await enrol(api.referent)
    token = await booking_link(api, person_id, kind="orientation")
    account = await new_account("beneficiary", beneficiary_id=person_id)
    async with signed_in(api_url, account.email) as her:
        space = (await her.get("/mon-espace")).text
    assert f'href="/rdv/{token}"' in space
    assert "Choisir mon créneau" in space
    # Her référente sees the invitation, not the link.
    carnet = (await api.referent.get(f"/api/v1/beneficiaries/{person_id}/carnet")).json()
    assert [a["link"] for a in carnet["appointments"]] == [None]
