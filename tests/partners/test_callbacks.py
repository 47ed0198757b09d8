"""Partners' callbacks through HTTP, as the simulators send them: signed, sometimes twice.
A good one is applied once; a forged, tampered or stale one is refused and leaves nothing."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.partners.models import PartnerEvent
from simulators.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    partner_secret,
    sign,
    signed_headers,
)
from tests.support.partners import (
    CALLBACK_SECRET,
    CALLBACKS_PATH,
    PartnerStack,
    add_person,
    service_orientation,
    training_request,
    unique_nir,
)

Json = dict[str, Any]


async def recorded(
    sessions: async_sessionmaker[AsyncSession], callback_id: str
) -> list[PartnerEvent]:
    async with sessions() as session:
        rows = await session.scalars(
            select(PartnerEvent).where(PartnerEvent.callback_id == callback_id)
        )
        return list(rows)


async def count_events(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(PartnerEvent)) or 0)


def employment_callback(**overrides: Any) -> Json:
    return {
        "callback_id": str(uuid.uuid4()),
        "partner": "france_travail",
        "kind": "employment_entry",
        "identifier": None,
        "nir": unique_nir(),
        "birth_date": "1988-04-12",
        "started_on": "2026-05-04",
        "contract": "cdi",
        "sent_at": "2026-05-05T08:00:00+00:00",
        **overrides,
    }


async def test_an_entry_into_work_delivered_twice_is_applied_once(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    nir = unique_nir()
    await partners.sim.post(
        "/france-travail/_individus",
        json={
            "nir": nir,
            "birth_date": "1988-04-12",
            "first_name": "Léa",
            "last_name": "Rey",
            "identifier": "7654321B",
        },
    )
    person_id = await add_person(sessions, nir=nir, france_travail_id="7654321B")
    await partners.switches("france-travail", duplicate_callbacks=True)

    sent = await partners.sim.post(
        "/france-travail/_employment",
        params={"wait": "true"},
        json={
            "nir": nir,
            "birth_date": "1988-04-12",
            "started_on": "2026-05-04",
            "contract": "cdd",
            "employer": "Boulangerie des Alpes",
        },
    )
    callback = sent.json()["callback"]

    # Both copies were accepted (2xx: the partner stops sending), one was applied.
    assert [d["outcome"] for d in callback["deliveries"]] == ["delivered", "delivered"]
    (event,) = await recorded(sessions, callback["callback_id"])
    assert (event.partner, event.kind) == ("france_travail", "employment_entry")
    assert event.beneficiary_id == person_id
    assert event.body["employer"] == "Boulangerie des Alpes"
    assert event.handled_at is None  # the journey's hook sets it

    body = json.dumps(callback["body"]).encode()
    again = await partners.api.post(
        CALLBACKS_PATH, content=body, headers=signed_headers(CALLBACK_SECRET, body)
    )
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "callback_id": callback["callback_id"]}
    assert len(await recorded(sessions, callback["callback_id"])) == 1


async def test_a_signed_callback_for_nobody_known_is_kept_and_says_so(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = json.dumps(employment_callback()).encode()
    response = await partners.api.post(
        CALLBACKS_PATH, content=body, headers=signed_headers(CALLBACK_SECRET, body)
    )
    assert response.status_code == 200
    # Nobody in Parcours has that NIR: kept, and the receipt says it did not take effect.
    assert response.json() == {
        "status": "ignored",
        "callback_id": json.loads(body)["callback_id"],
        "reason": "Personne inconnue de Parcours : entrée en emploi gardée, non appliquée.",
    }
    (event,) = await recorded(sessions, response.json()["callback_id"])
    assert event.beneficiary_id is None


def forged(body: bytes) -> dict[str, str]:
    return signed_headers("not-the-shared-secret", body)


def stale(body: bytes) -> dict[str, str]:
    return signed_headers(CALLBACK_SECRET, body, now=time.time() - 301)


def from_the_future(body: bytes) -> dict[str, str]:
    return signed_headers(CALLBACK_SECRET, body, now=time.time() + 301)


def tampered(body: bytes) -> dict[str, str]:
    return signed_headers(CALLBACK_SECRET, body.replace(b"cdi", b"cdd"))


def unsigned(_body: bytes) -> dict[str, str]:
    return {}


def garbled(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(CALLBACK_SECRET, timestamp, body)[:-2],
    }


def with_the_master_secret(body: bytes) -> dict[str, str]:
    """Signed with the shared master secret itself, as every partner once did."""
    timestamp = str(int(time.time()))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(CALLBACK_SECRET, timestamp, body),
        KEY_ID_HEADER: "france_travail",
    }


def under_another_key(body: bytes) -> dict[str, str]:
    """The Région's key named, France Travail's signature."""
    return {
        **signed_headers(CALLBACK_SECRET, body, partner="france_travail"),
        KEY_ID_HEADER: "region",
    }


@pytest.mark.parametrize(
    "headers",
    [
        forged,
        stale,
        from_the_future,
        tampered,
        unsigned,
        garbled,
        with_the_master_secret,
        under_another_key,
    ],
)
async def test_a_forged_or_stale_callback_is_refused_and_leaves_nothing(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession], headers: Any
) -> None:
    payload = employment_callback()
    body = json.dumps(payload).encode()

    response = await partners.api.post(CALLBACKS_PATH, content=body, headers=headers(body))

    assert response.status_code == 401
    assert response.json()["detail"].startswith("Rappel refusé : signature absente ou invalide")
    assert await recorded(sessions, payload["callback_id"]) == []


@pytest.mark.security
async def test_a_partner_cannot_sign_as_another(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """France Travail's own key signs a callback that says it comes from the Région: refused,
    nothing recorded; the Région's key signs the Région's callbacks."""
    payload = employment_callback(partner="region")
    body = json.dumps(payload).encode()
    as_region = await partners.api.post(
        CALLBACKS_PATH,
        content=body,
        headers=signed_headers(CALLBACK_SECRET, body, partner="france_travail"),
    )
    assert as_region.status_code == 403
    assert "celui dont la clé l'a signé" in as_region.json()["detail"]
    assert await recorded(sessions, payload["callback_id"]) == []
    # Each partner's secret is its own: the master secret's, France Travail's and the
    # Région's all differ.
    secrets = {CALLBACK_SECRET, partner_secret(CALLBACK_SECRET, "france_travail")}
    secrets.add(partner_secret(CALLBACK_SECRET, "region"))
    assert len(secrets) == 3


async def test_an_unreadable_callback_is_refused_after_its_signature(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    before = await count_events(sessions)
    for body in (b"{not json", json.dumps({"callback_id": "x", "kind": "gossip"}).encode()):
        response = await partners.api.post(
            CALLBACKS_PATH,
            content=body,
            headers=signed_headers(CALLBACK_SECRET, body, partner="france_travail"),
        )
        assert response.status_code == 422
        assert response.json()["detail"].startswith("Rappel illisible")
    assert await count_events(sessions) == before


async def test_a_funders_decision_and_a_structures_answer_are_kept_for_their_requests(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    person_id = await add_person(sessions, consents=("region", "structures"))
    request = training_request(person_id, "region")
    handle = await partners.probe("submit_training_request_region", request)
    reference = (await handle.result())["reference"]
    oriented = service_orientation(person_id)
    orientation = await (await partners.probe("send_structure_orientation", oriented)).result()

    decision = await partners.sim.post(f"/region/_decide/{reference}", params={"wait": "true"})
    answer = await partners.sim.post(
        f"/structures/_answer/{orientation['reference']}",
        params={"wait": "true"},
        json={"accepted": False, "reason": "Plus de place avant septembre."},
    )

    (decided,) = await recorded(sessions, decision.json()["callback"]["callback_id"])
    assert (decided.kind, decided.reference, decided.subject_id) == (
        "training_decision",
        reference,
        request["request_id"],
    )
    assert decided.body["decision"] == "approved"
    (answered,) = await recorded(sessions, answer.json()["callback"]["callback_id"])
    assert (answered.kind, answered.subject_id) == (
        "orientation_answer",
        oriented["orientation_id"],
    )
    assert answered.body["reason"] == "Plus de place avant septembre."
