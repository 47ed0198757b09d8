"""Who sees and does what, through HTTP.

A carnet is seen by its follow-up group only: the référent and their structure (who write
it), the département's chargée d'orientation and managers (who read it). Anyone else is told
"introuvable", exactly as for a person who does not exist. Each action on a journey belongs to
a role. Every read and every change is written to the access log, with who, when and what.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import AccessLogEntry
from tests.support.accounts import NewAccount, Staff
from tests.support.api import act, enrol, read
from tests.support.carnet import PDF, carnet, carnet_of, upload, write
from tests.support.clients import ApiClients, Browsers

Json = dict[str, Any]

NOT_FOUND = {"detail": "Personne introuvable."}
READ_ONLY = {"detail": "Votre rôle vous permet de lire ce carnet, pas de le modifier."}
NOT_YOUR_ACTION = {"detail": "Votre rôle ne permet pas cette action sur le parcours."}


def answer(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


async def followed_person_with_a_document(api: ApiClients) -> tuple[str, str]:
    beneficiary_id = await enrol(api.referent)
    assert (await upload(api.referent, beneficiary_id, PDF)).status_code == 204
    (document,) = (await carnet(api.referent, beneficiary_id))["documents"]
    return beneficiary_id, document["id"]


async def attempts(client: httpx.AsyncClient, beneficiary_id: str, document_id: str) -> list[Any]:
    """Everything one could try on a person's journey and carnet."""
    person = carnet_of(beneficiary_id)
    return [
        answer(response)
        for response in (
            await client.get(f"/api/v1/journeys/{beneficiary_id}"),
            await client.post(f"/api/v1/journeys/{beneficiary_id}/actions/pause", json={}),
            await client.get(f"{person}/carnet"),
            await client.get(f"{person}/documents/{document_id}"),
            await client.get(f"{person}/access-log"),
            await client.post(f"{person}/notes", json={"body": "Je passe par là"}),
        )
    ]


async def test_a_referent_of_another_structure_finds_nothing(api: ApiClients) -> None:
    beneficiary_id, document_id = await followed_person_with_a_document(api)
    nobody, no_document = str(uuid.uuid4()), str(uuid.uuid4())

    tried = await attempts(api.outsider, beneficiary_id, document_id)

    # Word for word what a person who does not exist gives: nothing tells them apart.
    assert tried == [(404, NOT_FOUND)] * 6
    assert await attempts(api.outsider, nobody, no_document) == tried
    found = await carnet(api.referent, beneficiary_id)
    assert (found["journey"]["step"], found["journey"]["paused"], found["notes"]) == (
        "intake",
        False,
        [],
    )


async def test_a_funder_sees_no_carnet(api: ApiClients) -> None:
    beneficiary_id, document_id = await followed_person_with_a_document(api)

    tried = await attempts(api.funder, beneficiary_id, document_id)

    assert tried == [(404, NOT_FOUND)] * 6
    listed = await api.funder.get("/api/v1/journeys")
    assert (listed.status_code, listed.json()["total"]) == (200, 0)


async def test_the_chargee_d_orientation_reads_the_carnet_and_decides_the_orientation(
    api: ApiClients, staff: Staff
) -> None:
    beneficiary_id = await enrol(api.referent)
    await act(api.referent, beneficiary_id, "begin-diagnosis")
    await act(api.referent, beneficiary_id, "complete-diagnosis")
    fact = {"theme": "housing", "label": "Hébergement", "value": "Chez un tiers"}

    found = await carnet(api.orientation, beneficiary_id)
    assert found["can_write"] is False
    writes = [
        await write(api.orientation, beneficiary_id, "facts", fact),
        await write(api.orientation, beneficiary_id, "notes", {"body": "Vue en commission"}),
        await write(api.orientation, beneficiary_id, "diagnosis", {"summary": "Revu"}),
        await upload(api.orientation, beneficiary_id, PDF),
    ]
    assert [answer(r) for r in writes] == [(403, READ_ONLY)] * 4
    # A manager reads it too, and writes no more.
    assert (await carnet(api.manager, beneficiary_id))["can_write"] is False
    assert answer(await write(api.manager, beneficiary_id, "facts", fact)) == (403, READ_ONLY)
    found = await carnet(api.referent, beneficiary_id)
    assert found["can_write"] is True
    assert (found["facts"], found["notes"], found["diagnosis"], found["documents"]) == (
        [],
        [],
        None,
        [],
    )

    # Deciding the orientation is hers, not the référent's.
    orientation = {"kind": "social", "structure_id": staff.structure_id}
    by_referent = await api.referent.post(
        f"/api/v1/journeys/{beneficiary_id}/actions/decide-orientation", json=orientation
    )
    assert answer(by_referent) == (403, NOT_YOUR_ACTION)
    assert (await read(api.referent, beneficiary_id))["journey"]["step"] == "orientation"
    offered = (await read(api.referent, beneficiary_id))["journey"]["available_actions"]
    assert "decide_orientation" not in [a["name"] for a in offered]

    decided = await act(api.orientation, beneficiary_id, "decide-orientation", **orientation)
    assert (decided["step"], decided["orientation"]) == ("accompaniment", "social")


async def test_lists_show_only_the_callers_journeys(
    api: ApiClients, staff: Staff, new_account: NewAccount
) -> None:
    family = f"Portee{uuid.uuid4().hex[:8]}"
    elsewhere_referent = await new_account("referent", territory="74")
    elsewhere_manager = await new_account("manager", territory="74")

    mine = await enrol(api.referent, last_name=family, first_name="Mine")
    colleagues = await enrol(api.other_referent, last_name=family, first_name="Collegue")
    other_structure = await enrol(api.outsider, last_name=family, first_name="Ailleurs")
    other_territory = await enrol(
        api(elsewhere_referent),
        last_name=family,
        first_name="Savoie",
        territory="74",
        postal_code="74000",
    )

    async def listed(client: httpx.AsyncClient, **params: str) -> set[str]:
        response = await client.get("/api/v1/journeys", params={"q": family, **params})
        assert response.status_code == 200, response.text
        return {item["beneficiary_id"] for item in response.json()["items"]}

    in_structure = {mine, colleagues}
    in_73 = {mine, colleagues, other_structure}
    assert await listed(api.referent) == in_structure
    assert await listed(api.other_referent) == in_structure
    assert await listed(api.outsider) == {other_structure}
    assert await listed(api.manager) == in_73
    assert await listed(api.orientation) == in_73
    assert await listed(api(elsewhere_referent)) == {other_territory}
    assert await listed(api(elsewhere_manager)) == {other_territory}
    assert await listed(api.funder) == set()
    # A filter narrows what one sees; it never widens it.
    assert await listed(api.manager, territory="74") == set()
    assert await listed(api.referent, referent_id=staff.outsider_id) == set()
    assert await listed(api.referent, referent_id=staff.other_referent_id) == {colleagues}


async def test_every_read_and_change_is_in_the_access_log(
    api: ApiClients, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=5)
    beneficiary_id = await enrol(api.referent)
    fact = {"theme": "mobility", "label": "Permis B", "value": "Oui"}
    assert (await write(api.referent, beneficiary_id, "facts", fact)).status_code == 204
    assert (await upload(api.referent, beneficiary_id, PDF)).status_code == 204
    (document,) = (await carnet(api.other_referent, beneficiary_id))["documents"]
    await api.orientation.get(f"{carnet_of(beneficiary_id)}/documents/{document['id']}")
    await read(api.manager, beneficiary_id)
    await act(api.referent, beneficiary_id, "pause")
    # Refused attempts change nothing and read nothing: they are not reads of the carnet.
    await api.outsider.get(f"{carnet_of(beneficiary_id)}/carnet")

    response = await api.referent.get(f"{carnet_of(beneficiary_id)}/access-log")

    assert response.status_code == 200, response.text
    log = response.json()
    assert [(e["user_id"], e["action"], e["what"]) for e in reversed(log)] == [
        (staff.referent_id, "update", "journey.enrol"),
        (staff.referent_id, "update", "carnet.fact"),
        (staff.referent_id, "update", "carnet.document"),
        (staff.other_referent_id, "read", "carnet"),
        (staff.orientation_id, "read", "carnet.document"),
        (staff.manager_id, "read", "journey"),
        (staff.referent_id, "update", "journey.pause"),
        (staff.referent_id, "read", "carnet.access_log"),
    ]
    stamps = [datetime.fromisoformat(e["at"]) for e in log]
    assert stamps == sorted(stamps, reverse=True)
    assert started <= stamps[-1] and stamps[0] <= datetime.now(UTC)

    # The table itself: the same lines, kept apart from the carnet (ids, never names).
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(AccessLogEntry)
                .where(AccessLogEntry.beneficiary_id == beneficiary_id)
                .order_by(AccessLogEntry.id)
            )
        ).all()
    assert [(r.user_id, r.action, r.what, r.at.isoformat()) for r in rows] == [
        (e["user_id"], e["action"], e["what"], e["at"]) for e in reversed(log)
    ]


async def test_an_unauthenticated_call_is_refused_in_french(
    http: httpx.AsyncClient, api: ApiClients
) -> None:
    beneficiary_id = await enrol(api.referent)
    expected = (401, {"detail": "Authentification requise (jeton d'API ou session)."})

    for response in (
        await http.get("/api/v1/journeys"),
        await http.get(f"/api/v1/journeys/{beneficiary_id}"),
        await http.post("/api/v1/beneficiaries", json={}),
        await http.post(f"/api/v1/journeys/{beneficiary_id}/actions/pause", json={}),
        await http.get(f"{carnet_of(beneficiary_id)}/carnet"),
        await http.get("/api/v1/me/carnet"),
        await http.get("/api/v1/journeys", headers={"Authorization": "Basic dXNlcjpwYXNz"}),
    ):
        assert answer(response) == expected, response.request.url
    # What is public stays public.
    assert (await http.get("/healthz")).status_code == 200
    assert (await http.get("/openapi.json")).status_code == 200


async def test_a_browser_session_writes_to_the_api_only_with_its_csrf_token(
    api: ApiClients, browsers: Browsers
) -> None:
    beneficiary_id = await enrol(api.referent)
    browser = await browsers("referent")
    facts = f"{carnet_of(beneficiary_id)}/facts"
    fact = {"theme": "digital", "label": "Adresse électronique", "value": "Oui"}
    csrf_refused = (403, {"detail": "Jeton CSRF manquant ou invalide (en-tête X-CSRF-Token)."})

    # Reading with the session cookie alone is fine (a GET changes nothing).
    assert (await browser.get(f"{carnet_of(beneficiary_id)}/carnet")).status_code == 200
    without = await browser.client.post(facts, json=fact)
    wrong = await browser.client.post(facts, json=fact, headers={"X-CSRF-Token": "devine"})
    assert answer(without) == csrf_refused
    assert answer(wrong) == csrf_refused
    assert (await carnet(api.referent, beneficiary_id))["facts"] == []

    assert browser.csrf, "the signed-in page carries the session's token"
    right = await browser.client.post(facts, json=fact, headers={"X-CSRF-Token": browser.csrf})
    assert right.status_code == 204, right.text
    assert [f["label"] for f in (await carnet(api.referent, beneficiary_id))["facts"]] == [
        "Adresse électronique"
    ]
