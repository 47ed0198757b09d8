"""France Travail's « Rendez-vous partenaire » as the simulator serves it, over HTTP: an
appointment and each of its statuses recorded once per idempotency key, refused without the
person's consent or when malformed (with France Travail-like error codes), and recorded even
when the answer is lost (switch ``fail_after_next``)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.appointments

PATH = "/france-travail/rendez-vous-partenaire/v1/rendez-vous"
STATE = "/france-travail/_state"


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def appointment(appointment_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": appointment_id or f"rdv-{uuid.uuid4().hex[:8]}",
        "person": {"nir": "188047311512352", "birth_date": "1988-04-12"},
        "date": "2026-12-15T09:30:00+01:00",
        "duree": 45,
        "theme": "RSA orientation",
        "motif": "ORI",
        "modaliteContact": "PHYSIQUE",
        "typeReception": "IND",
        "initiateur": "PARTENAIRE",
        "organisme": {"code": "CD", "libelle": "Département de la Savoie"},
        "statut": "PRIS",
        "origine": "PARCOURS",
        "consentement": {"recueilli": True, "dateRecueil": "2026-11-02"},
    }
    body.update(overrides)
    return body


async def test_each_status_is_recorded_once_per_key(sim: httpx.AsyncClient) -> None:
    planned = appointment()
    url = f"{PATH}/{planned['id']}"
    planned_key, attended_key = key(), key()

    first = await sim.put(url, json=planned, headers=planned_key)
    again = await sim.put(url, json=planned, headers=planned_key)
    attended = await sim.put(url, json={**planned, "statut": "EFFECTUE"}, headers=attended_key)

    assert first.status_code == again.status_code == attended.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["statut"] == "PRIS" and attended.json()["statut"] == "EFFECTUE"
    state = (await sim.get(STATE)).json()
    assert [u["appointment"]["statut"] for u in state["appointment_updates"]] == [
        "PRIS",
        "EFFECTUE",
    ]
    current = state["appointments"][planned["id"]]["appointment"]
    assert current["statut"] == "EFFECTUE" and current["date"] == "2026-12-15T09:30:00+01:00"
    assert state["appointments_by_key"][planned_key["Idempotency-Key"]]["attempts"] == 2


async def test_an_excused_absence_carries_its_reason(sim: httpx.AsyncClient) -> None:
    body = appointment(statut="ABSENT_EXCUSE", motifAbsence="WORK_OR_TRAINING")
    response = await sim.put(f"{PATH}/{body['id']}", json=body, headers=key())
    assert response.status_code == 200

    without_reason = appointment(statut="ABSENT_EXCUSE")
    refused = await sim.put(f"{PATH}/{without_reason['id']}", json=without_reason, headers=key())
    assert refused.status_code == 400 and refused.json()["code"] == "REQUETE_INVALIDE"


@pytest.mark.parametrize(
    "consent",
    [None, {"recueilli": False}],
    ids=["no-marker", "not-given"],
)
async def test_without_the_consent_marker_nothing_is_recorded(
    sim: httpx.AsyncClient, consent: dict[str, Any] | None
) -> None:
    body = appointment(consentement=consent)
    response = await sim.put(f"{PATH}/{body['id']}", json=body, headers=key())

    assert response.status_code == 403
    assert response.json()["code"] == "CONSENTEMENT_ABSENT"
    assert "consentement" in response.json()["detail"]
    assert (await sim.get(STATE)).json()["appointment_updates"] == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"statut": "HONORE"},
        {"date": "2026-12-15T09:30:00"},
        {"duree": 0},
        {"person": {"nir": "123", "birth_date": "1988-04-12"}},
        {"motifAbsence": "OTHER"},
    ],
    ids=["unknown-status", "naive-date", "no-duration", "bad-nir", "reason-without-absence"],
)
async def test_a_malformed_appointment_is_refused_with_its_fields(
    sim: httpx.AsyncClient, overrides: dict[str, Any]
) -> None:
    body = appointment(**overrides)
    response = await sim.put(f"{PATH}/{body['id']}", json=body, headers=key())

    assert response.status_code == 400
    assert response.json()["code"] == "REQUETE_INVALIDE"
    assert "Requête invalide" in response.json()["detail"]
    assert (await sim.get(STATE)).json()["appointment_updates"] == []


async def test_an_id_that_differs_from_the_address_is_refused(sim: httpx.AsyncClient) -> None:
    response = await sim.put(f"{PATH}/rdv-autre", json=appointment(), headers=key())
    assert response.status_code == 400 and response.json()["code"] == "IDENTIFIANT_INCOHERENT"


async def test_a_lost_answer_was_recorded_and_the_retry_gets_it(sim: httpx.AsyncClient) -> None:
    await sim.put("/_switches/france-travail", json={"fail_after_next": 1})
    body, headers = appointment(), key()

    lost = await sim.put(f"{PATH}/{body['id']}", json=body, headers=headers)
    retried = await sim.put(f"{PATH}/{body['id']}", json=body, headers=headers)

    assert lost.status_code == 500
    assert retried.status_code == 200 and retried.headers["Idempotent-Replayed"] == "true"
    state = (await sim.get(STATE)).json()
    assert [u["reference"] for u in state["appointment_updates"]] == [retried.json()["reference"]]
    assert state["traffic"] == {"calls": 2, "failed": 1, "held": 0}
