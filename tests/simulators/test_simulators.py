"""The partner simulators, through HTTP as Parcours will use them: idempotency, every switch,
signed callbacks, the CAF feed and its file form."""

from __future__ import annotations

import asyncio
import csv
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.app import create_app
from simulators.caf_feed import (
    CLOSED_STATES,
    FEED_COLUMNS,
    FEED_HEADER,
    Defect,
    EventKind,
    RightsState,
    generate_events,
    generate_feed_lines,
    write_feed_file,
)
from simulators.signing import sign, signed_headers, verify
from simulators.synthetic import nir_key
from tests.support.simulators import CallbackReceiver, serve, simulator_config

TODAY = date(2026, 3, 2)
NIR = "188047311512352"


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def training_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": f"tr-{uuid.uuid4().hex[:8]}",
        "person": {"nir": NIR, "birth_date": "1988-04-12", "first_name": "Léa", "last_name": "Rey"},
        "training": {
            "title": "Titre professionnel Agent de restauration",
            "provider": "AFPA Chambéry",
            "starts_on": "2026-09-07",
            "hours": 420,
        },
        "requested_amount": "1850.00",
        "referent": {"name": "Camille Durand", "email": "camille.durand@savoie.fr"},
    }
    body.update(overrides)
    return body


def professional_orientation() -> dict[str, Any]:
    return {
        "orientation_id": f"or-{uuid.uuid4().hex[:8]}",
        "person": {"nir": NIR, "birth_date": "1988-04-12"},
        "decided_on": "2026-03-01",
        "agency": "France Travail Chambéry",
    }


def orientation_request() -> dict[str, Any]:
    return {
        "journey_id": str(uuid.uuid4()),
        "person": {"nir": NIR, "birth_date": "1988-04-12"},
        "due_on": "2026-02-20",
        "departement": "73",
    }


def service_orientation() -> dict[str, Any]:
    return {
        "orientation_id": f"os-{uuid.uuid4().hex[:8]}",
        "structure_id": "ccas-chambery",
        "service_id": "aide-mobilite",
        "person": {"first_name": "Léa", "last_name": "Rey", "phone": "0612345678"},
        "message": "Besoin d'une aide au permis.",
    }


# (path, body factory, partner state path, stored list, by-key map)
IDEMPOTENT_OPERATIONS = [
    pytest.param(
        "/france-travail/training-requests",
        training_request,
        "/france-travail/_state",
        "training_requests",
        "training_requests_by_key",
        id="france-travail-aif",
    ),
    pytest.param(
        "/region/training-requests",
        training_request,
        "/region/_state",
        "training_requests",
        "training_requests_by_key",
        id="region-training",
    ),
    pytest.param(
        "/france-travail/orientations",
        professional_orientation,
        "/france-travail/_state",
        "orientations",
        "orientations_by_key",
        id="france-travail-orientation",
    ),
    pytest.param(
        "/france-travail/orientations/demandes",
        orientation_request,
        "/france-travail/_state",
        "orientation_requests",
        "orientation_requests_by_key",
        id="france-travail-orientation-request",
    ),
    pytest.param(
        "/structures/orientations",
        service_orientation,
        "/structures/_state",
        "orientations",
        "orientations_by_key",
        id="structure-orientation",
    ),
]


# --- Idempotency ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "make_body", "state_path", "stored", "by_key"), IDEMPOTENT_OPERATIONS
)
async def test_same_key_twice_stores_one_request_and_gives_the_same_answer(
    sim: httpx.AsyncClient,
    path: str,
    make_body: Any,
    state_path: str,
    stored: str,
    by_key: str,
) -> None:
    body, headers = make_body(), key()

    first = await sim.post(path, json=body, headers=headers)
    second = await sim.post(path, json=body, headers=headers)

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.json()["status"] == "received"
    assert (first.headers["Idempotent-Replayed"], second.headers["Idempotent-Replayed"]) == (
        "false",
        "true",
    )
    state = (await sim.get(state_path)).json()
    assert len(state[stored]) == 1
    assert state[by_key][headers["Idempotency-Key"]]["attempts"] == 2


async def test_a_new_key_is_a_new_request(sim: httpx.AsyncClient) -> None:
    body = training_request()
    first = await sim.post("/region/training-requests", json=body, headers=key())
    second = await sim.post("/region/training-requests", json=body, headers=key())

    assert first.json()["reference"] != second.json()["reference"]
    assert len((await sim.get("/region/_state")).json()["training_requests"]) == 2


async def test_a_key_reused_for_another_request_is_refused(sim: httpx.AsyncClient) -> None:
    headers = key()
    await sim.post("/region/training-requests", json=training_request(), headers=headers)

    reused = await sim.post("/region/training-requests", json=training_request(), headers=headers)

    assert reused.status_code == 422
    assert "déjà servi" in reused.json()["detail"]
    assert len((await sim.get("/region/_state")).json()["training_requests"]) == 1


async def test_a_request_without_key_is_refused(sim: httpx.AsyncClient) -> None:
    response = await sim.post("/structures/orientations", json=service_orientation())

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert (await sim.get("/structures/_state")).json()["orientations"] == []


# --- Switches -------------------------------------------------------------------------------


async def test_latency_slows_down_that_partner_only(sim: httpx.AsyncClient) -> None:
    await sim.put("/_switches/caf", json={"latency_ms": 5_000})

    # A call to the CAF, received (counted) and made to wait…
    slowed = asyncio.create_task(sim.get("/caf/feed"))
    async with asyncio.timeout(5):
        while (await sim.get("/caf/_state")).json()["traffic"]["calls"] == 0:
            await asyncio.sleep(0.02)
    # …while the Région answers, and creates what it is asked to.
    assert (await sim.get("/region/_state")).status_code == 200
    created = await sim.post("/region/training-requests", json=training_request(), headers=key())
    assert created.status_code == 200
    assert not slowed.done()  # the Région answered before the CAF
    assert (await slowed).status_code == 200


async def test_fail_next_answers_503_then_recovers_having_stored_nothing(
    sim: httpx.AsyncClient,
) -> None:
    await sim.put("/_switches/france-travail", json={"fail_next": 2})
    body, headers = training_request(), key()

    statuses = [
        (
            await sim.post("/france-travail/training-requests", json=body, headers=headers)
        ).status_code
        for _ in range(3)
    ]

    assert statuses == [503, 503, 200]
    # Control endpoints ignore the switches: the state stays readable during an outage.
    state = (await sim.get("/france-travail/_state")).json()
    assert len(state["training_requests"]) == 1
    assert state["training_requests_by_key"][headers["Idempotency-Key"]]["attempts"] == 1
    assert state["traffic"] == {"calls": 3, "failed": 2, "held": 0}
    assert (await sim.get("/_switches")).json()["france_travail"]["fail_next"] == 0


async def test_a_fault_aimed_at_one_path_spares_the_partner_s_other_calls(
    sim: httpx.AsyncClient,
) -> None:
    await sim.put(
        "/_switches/france-travail",
        json={"fail_next": 1, "path_prefix": "/france-travail/training-requests"},
    )
    # Another operation of the same partner passes, and leaves the failure in store…
    other = await sim.post(
        "/france-travail/individus/recherche",
        json={"nir": "1840573123456", "birth_date": "1984-05-07"},
    )
    assert other.status_code == 404  # answered (nobody by that NIR), not failed
    assert (await sim.get("/_switches")).json()["france_travail"]["fail_next"] == 1
    # …for the call it was aimed at.
    body, headers = training_request(), key()
    aimed = await sim.post("/france-travail/training-requests", json=body, headers=headers)
    assert aimed.status_code == 503
    assert (await sim.get("/_switches")).json()["france_travail"]["fail_next"] == 0


async def test_fail_rate_fails_calls_with_500(sim: httpx.AsyncClient) -> None:
    await sim.put("/_switches/caf", json={"fail_rate": 1.0})
    assert (await sim.get("/caf/beneficiaries/1234567")).status_code == 500

    await sim.put("/_switches/caf", json={"fail_rate": 0.0})
    assert (await sim.get("/caf/beneficiaries/1234567")).status_code == 404


async def test_timeout_next_does_the_work_then_holds_the_answer(sim: httpx.AsyncClient) -> None:
    await sim.put("/_switches/region", json={"timeout_next": 1, "hold_ms": 1000})
    body, headers = training_request(), key()

    with pytest.raises(httpx.ReadTimeout):
        await sim.post("/region/training-requests", json=body, headers=headers, timeout=0.3)

    # The Région did the work before the client gave up: the retry finds it.
    held = (await sim.get("/region/_state")).json()
    assert len(held["training_requests"]) == 1
    retry = await sim.post("/region/training-requests", json=body, headers=headers, timeout=0.3)
    assert retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["reference"] == held["training_requests"][0]["reference"]
    state = (await sim.get("/region/_state")).json()
    assert len(state["training_requests"]) == 1
    assert state["traffic"]["held"] == 1


async def test_switches_are_read_and_checked(sim: httpx.AsyncClient) -> None:
    switches = {"latency_ms": 10, "fail_rate": 0.25, "duplicate_callbacks": True}
    assert (await sim.put("/_switches/structures", json=switches)).status_code == 200

    everything = (await sim.get("/_switches")).json()
    assert set(everything) == {"caf", "france_travail", "region", "structures", "sms"}
    assert everything["structures"] | switches == everything["structures"]
    assert (await sim.put("/_switches/msa", json={})).status_code == 404
    assert (await sim.put("/_switches/caf", json={"fail_rate": 2})).status_code == 422
    assert (await sim.put("/_switches/caf", json={"slow": True})).status_code == 422


async def test_reset_forgets_requests_and_switches(sim: httpx.AsyncClient) -> None:
    await sim.post("/region/training-requests", json=training_request(), headers=key())
    await sim.put("/_switches/region", json={"fail_next": 5})

    await sim.post("/_reset")

    assert (await sim.get("/region/_state")).json()["training_requests"] == []
    assert (await sim.get("/_switches")).json()["region"]["fail_next"] == 0


# --- Callbacks ------------------------------------------------------------------------------


async def _training_reference(sim: httpx.AsyncClient, funder: str, **overrides: Any) -> str:
    response = await sim.post(
        f"/{funder}/training-requests", json=training_request(**overrides), headers=key()
    )
    reference: str = response.json()["reference"]
    return reference


async def test_a_decision_is_sent_back_signed(
    sim: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    body = training_request()
    created = await sim.post("/france-travail/training-requests", json=body, headers=key())
    reference = created.json()["reference"]

    sent = await sim.post(
        f"/france-travail/_decide/{reference}?wait=true",
        json={"decision": "approved", "start_date": "2026-09-14", "amount": "1500"},
    )

    assert sent.status_code == 200
    [callback] = receiver.received
    assert callback.signature_valid
    assert (
        callback.body
        | {
            "partner": "france_travail",
            "kind": "training_decision",
            "reference": reference,
            "request_id": body["request_id"],
            "decision": "approved",
            "start_date": "2026-09-14",
            "amount": "1500.00",
            "reason": None,
        }
        == callback.body
    )
    state = (await sim.get("/france-travail/_state")).json()
    assert state["training_requests"][0]["status"] == "approved"
    assert state["callbacks"][0]["delivered"] == 1


async def test_a_refusal_carries_its_reason_and_cannot_be_decided_again(
    sim: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    reference = await _training_reference(sim, "region")

    unmotivated = await sim.post(f"/region/_decide/{reference}", json={"decision": "refused"})
    refused = await sim.post(
        f"/region/_decide/{reference}?wait=true",
        json={"decision": "refused", "reason": "Formation non éligible au programme régional."},
    )
    again = await sim.post(f"/region/_decide/{reference}", json={"decision": "approved"})

    assert (unmotivated.status_code, refused.status_code, again.status_code) == (422, 200, 409)
    [callback] = receiver.received
    assert callback.body["decision"] == "refused"
    assert callback.body["reason"] == "Formation non éligible au programme régional."
    assert callback.body["amount"] is None


async def test_duplicate_callbacks_deliver_each_callback_twice(
    sim: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    await sim.put("/_switches/region", json={"duplicate_callbacks": True})
    reference = await _training_reference(sim, "region")

    await sim.post(f"/region/_decide/{reference}?wait=true", json={"decision": "approved"})

    first, second = receiver.received
    assert first.body == second.body  # same callback_id: Parcours can tell it is a copy
    assert first.signature_valid and second.signature_valid
    [record] = (await sim.get("/region/_state")).json()["callbacks"]
    assert record["delivered"] == 2
    assert [delivery["copy_number"] for delivery in record["deliveries"]] == [1, 2]


async def test_a_callback_is_retried_while_parcours_fails(
    sim: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    receiver.fail_next = 2
    reference = await _training_reference(sim, "region")

    await sim.post(f"/region/_decide/{reference}?wait=true", json={"decision": "approved"})

    assert receiver.refused == 2
    assert len(receiver.received) == 1
    [record] = (await sim.get("/region/_state")).json()["callbacks"]
    [delivery] = record["deliveries"]
    assert delivery["outcome"] == "delivered"
    assert [attempt["status_code"] for attempt in delivery["attempts"]] == [500, 500, 200]


async def test_a_callback_gives_up_after_its_attempts(
    sim: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    receiver.fail_next = 10
    reference = await _training_reference(sim, "region")

    await sim.post(f"/region/_decide/{reference}?wait=true", json={"decision": "approved"})

    [record] = (await sim.get("/region/_state")).json()["callbacks"]
    assert record["deliveries"][0]["outcome"] == "failed"
    assert receiver.refused == 3


async def test_funders_decide_on_their_own_after_the_delay(receiver: CallbackReceiver) -> None:
    receiver.reset()
    app = create_app(simulator_config(receiver, decision_delay_s=0.1))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        small = await client.post(
            "/france-travail/training-requests", json=training_request(), headers=key()
        )
        large = await client.post(
            "/france-travail/training-requests",
            json=training_request(requested_amount="4500.00"),
            headers=key(),
        )
        callbacks = await receiver.wait_for(2)

    decisions = {callback.body["reference"]: callback.body for callback in callbacks}
    assert decisions[small.json()["reference"]]["decision"] == "approved"
    assert decisions[small.json()["reference"]]["amount"] == "1850.00"
    assert decisions[large.json()["reference"]]["decision"] == "refused"
    assert "plafond" in decisions[large.json()["reference"]]["reason"]


async def test_a_structure_accepts_or_refuses_with_a_reason(
    sim: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    body = service_orientation()
    created = await sim.post("/structures/orientations", json=body, headers=key())
    reference = created.json()["reference"]

    unmotivated = await sim.post(f"/structures/_answer/{reference}", json={"accepted": False})
    refused = await sim.post(
        f"/structures/_answer/{reference}?wait=true",
        json={"accepted": False, "reason": "Plus de place avant septembre."},
    )
    again = await sim.post(f"/structures/_answer/{reference}", json={"accepted": True})
    unknown = await sim.post("/structures/_answer/STR-ORI-0", json={"accepted": True})

    assert [r.status_code for r in (unmotivated, refused, again, unknown)] == [422, 200, 409, 404]
    [callback] = receiver.received
    assert callback.signature_valid
    assert (
        callback.body
        | {
            "partner": "structures",
            "kind": "orientation_answer",
            "reference": reference,
            "orientation_id": body["orientation_id"],
            "structure_id": "ccas-chambery",
            "service_id": "aide-mobilite",
            "accepted": False,
            "reason": "Plus de place avant septembre.",
        }
        == callback.body
    )
    state = (await sim.get("/structures/_state")).json()
    assert state["orientations"][0]["status"] == "refused"


async def test_an_entry_into_work_is_reported_to_parcours(
    sim: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    registered = await sim.post(
        "/france-travail/_individus",
        json={"nir": NIR, "birth_date": "1988-04-12", "first_name": "Léa", "last_name": "Rey"},
    )

    await sim.post(
        "/france-travail/_employment?wait=true",
        json={
            "nir": NIR,
            "started_on": "2026-04-01",
            "contract": "cdd",
            "employer": "Savoie Hôtel",
        },
    )

    [callback] = receiver.received
    assert callback.signature_valid
    assert callback.body["kind"] == "employment_entry"
    assert callback.body["identifier"] == registered.json()["identifier"]
    assert (callback.body["started_on"], callback.body["contract"]) == ("2026-04-01", "cdd")


@pytest.mark.law
async def test_france_travail_orients_a_person_it_is_asked_to_and_calls_back_signed(
    sim: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    await sim.post(
        "/france-travail/_individus",
        json={
            "nir": NIR,
            "birth_date": "1988-04-12",
            "first_name": "Léa",
            "last_name": "Rey",
            "agency": "France Travail Albertville",
        },
    )
    body = orientation_request()
    asked = await sim.post("/france-travail/orientations/demandes", json=body, headers=key())
    assert asked.status_code == 200
    reference = asked.json()["reference"]

    decided = await sim.post(f"/france-travail/_orientations/{reference}/decide?wait=true")
    again = await sim.post(f"/france-travail/_orientations/{reference}/decide?wait=true")

    assert decided.status_code == 200 and again.status_code == 409
    [callback] = receiver.received
    assert callback.signature_valid
    assert callback.body["kind"] == "orientation_decision"
    assert callback.body["journey_id"] == body["journey_id"]
    # On its own: a professional track, to the person's own agency.
    assert (callback.body["track"], callback.body["agency"]) == (
        "professional",
        "France Travail Albertville",
    )


@pytest.mark.law
async def test_france_travail_orients_on_its_own_after_the_delay(
    receiver: CallbackReceiver,
) -> None:
    receiver.reset()
    app = create_app(simulator_config(receiver, decision_delay_s=0.1))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        body = orientation_request()
        await client.post("/france-travail/orientations/demandes", json=body, headers=key())
        [callback] = await receiver.wait_for(1)
    assert callback.body["kind"] == "orientation_decision"
    assert callback.body["journey_id"] == body["journey_id"]


# --- France Travail look-up -----------------------------------------------------------------


async def test_a_registered_person_is_found_by_nir_and_birth_date(sim: httpx.AsyncClient) -> None:
    registered = await sim.post(
        "/france-travail/_individus",
        json={
            "nir": NIR,
            "birth_date": "1988-04-12",
            "first_name": "Léa",
            "last_name": "Rey",
            "category": "1",
            "registered_on": "2025-11-03",
        },
    )
    search = "/france-travail/individus/recherche"

    found = await sim.post(search, json={"nir": NIR[:13], "birth_date": "1988-04-12"})
    wrong_birth_date = await sim.post(search, json={"nir": NIR, "birth_date": "1988-04-13"})
    unknown = await sim.post(search, json={"nir": "299017511500102", "birth_date": "1999-01-01"})

    assert found.status_code == 200
    assert found.json()["identifier"] == registered.json()["identifier"]
    assert (
        found.json()["registration"] | {"status": "registered", "category": "1"}
        == (found.json()["registration"])
    )
    assert (wrong_birth_date.status_code, unknown.status_code) == (404, 404)


# --- CAF ------------------------------------------------------------------------------------


async def test_the_feed_pages_follow_the_cursor(sim: httpx.AsyncClient) -> None:
    await sim.post("/caf/_feed/generate", json={"count": 25, "seed": 3, "today": "2026-03-02"})

    pages, since = [], None
    while True:
        params = {"limit": 10} | ({"since": since} if since is not None else {})
        page = (await sim.get("/caf/feed", params=params)).json()
        pages.append(page)
        since = page["next"]
        if not page["has_more"]:
            break
    caught_up = (await sim.get("/caf/feed", params={"since": since})).json()

    assert [len(page["events"]) for page in pages] == [10, 10, 5]
    assert [page["next"] for page in pages] == ["10", "20", "25"]
    events = [event for page in pages for event in page["events"]]
    assert [e["event_id"] for e in events] == [
        e.event_id for e in generate_events(25, seed=3, today=TODAY)
    ]
    assert caught_up == {"events": [], "next": "25", "has_more": False}
    assert (await sim.get("/caf/feed", params={"since": "999"})).status_code == 400
    assert (await sim.get("/caf/feed", params={"since": "abc"})).status_code == 400


async def test_an_event_appended_twice_is_kept_once(sim: httpx.AsyncClient) -> None:
    events = [e.model_dump(mode="json") for e in generate_events(3, seed=9, today=TODAY)]

    first = (await sim.post("/caf/_feed", json={"events": events})).json()
    second = (await sim.post("/caf/_feed", json={"events": events})).json()

    assert (first["appended"], second["appended"], second["skipped"]) == (3, 0, 3)


async def test_the_lookup_gives_the_latest_household_and_rsa_status(
    sim: httpx.AsyncClient,
) -> None:
    [opened] = generate_events(1, seed=5, today=TODAY)
    suspended = opened.model_copy(
        update={
            "event_id": "suspension-1",
            "kind": EventKind.SUSPENSION,
            "rights_state": RightsState.OPEN_PAYMENT_SUSPENDED,
            "suspension_reason": "06",
        }
    )
    await sim.post(
        "/caf/_feed", json={"events": [e.model_dump(mode="json") for e in (opened, suspended)]}
    )

    found = await sim.get(f"/caf/beneficiaries/{opened.caf_number}")
    unknown = await sim.get("/caf/beneficiaries/0000000")

    assert found.status_code == 200
    beneficiary = found.json()
    assert beneficiary["nir"] == opened.nir
    assert beneficiary["rights_state"] == "4"
    assert beneficiary["rights_state_label"] == "Droit ouvert mais versement suspendu"
    assert beneficiary["suspension_reason"] == "06"
    assert opened.rights_opened_on is not None
    assert beneficiary["rights_opened_on"] == opened.rights_opened_on.isoformat()
    assert beneficiary["household"]["adults"] == opened.household.adults
    assert unknown.status_code == 404


async def test_the_feed_file_holds_the_feed(sim: httpx.AsyncClient) -> None:
    await sim.post("/caf/_feed/generate", json={"count": 12, "seed": 4, "today": "2026-03-02"})

    response = await sim.get("/caf/feed.csv", params={"since": "2"})

    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0] == FEED_HEADER
    assert len(lines) == 1 + 10
    assert [problem_of(line) for line in lines[1:]] == [None] * 10


def test_generated_events_tell_a_coherent_story() -> None:
    events = generate_events(2000, seed=11, today=TODAY)

    assert events == generate_events(2000, seed=11, today=TODAY)
    assert events != generate_events(2000, seed=12, today=TODAY)
    last_state: dict[str, RightsState] = {}
    for event in events:
        previous = last_state.get(event.caf_number)
        assert (event.kind == EventKind.NEW_RIGHTS) == (previous is None)
        assert previous not in CLOSED_STATES  # nothing happens after a closure
        expected_states = {
            EventKind.NEW_RIGHTS: {RightsState.OPEN},
            EventKind.CHANGE: {RightsState.OPEN},
            EventKind.SUSPENSION: {RightsState.OPEN_SUSPENDED, RightsState.OPEN_PAYMENT_SUSPENDED},
            EventKind.CLOSURE: CLOSED_STATES,
        }[event.kind]
        assert event.rights_state in expected_states
        assert (event.suspension_reason is not None) == (event.kind == EventKind.SUSPENSION)
        assert (event.closed_on is not None) == (event.kind == EventKind.CLOSURE)
        assert event.nir[13:] == nir_key(event.nir[:13])
        last_state[event.caf_number] = event.rights_state
    kinds = {kind: sum(e.kind == kind for e in events) for kind in EventKind}
    assert all(count > 50 for count in kinds.values()), kinds


# --- The feed file --------------------------------------------------------------------------


def problem_of(line: str) -> str | None:
    """What an importer would reject in a data line of the feed file, if anything."""
    [fields] = list(csv.reader([line], delimiter=";"))
    if len(fields) != len(FEED_COLUMNS):
        return "field count"
    row = dict(zip(FEED_COLUMNS, fields, strict=True))
    try:
        date.fromisoformat(row["date_naissance"])
    except ValueError:
        return "birth date"
    if row["nir"][13:] != nir_key(row["nir"][:13]):
        return "nir key"
    if row["etat_droit_rsa"] not in set(RightsState):
        return "rights state"
    if not row["matricule_caf"]:
        return "caf number"
    if row["type_evenement"] not in set(EventKind):
        return "kind"
    return None


def test_feed_lines_flag_exactly_the_malformed_ones() -> None:
    lines = list(generate_feed_lines(600, seed=21, malformed=40, today=TODAY))

    assert [line.number for line in lines] == list(range(2, 602))
    flagged = [line for line in lines if line.defect is not None]
    assert len(flagged) == 40
    assert {line.defect for line in flagged} == set(Defect)
    assert all(problem_of(line.text) is not None for line in flagged)
    assert all(problem_of(line.text) is None for line in lines if line.defect is None)
    # The good lines do not depend on how many are broken.
    clean = list(generate_feed_lines(600, seed=21, today=TODAY))
    assert all(
        line.text == twin.text for line, twin in zip(lines, clean, strict=True) if not line.defect
    )


def test_a_10000_line_feed_file_is_written_with_its_broken_lines(tmp_path: Path) -> None:
    written = write_feed_file(tmp_path / "flux.csv", 10_000, seed=1, malformed=25, today=TODAY)

    text = (tmp_path / "flux.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == FEED_HEADER
    assert len(lines) == 10_001
    assert len(written.malformed) == 25
    assert {n for n, line in enumerate(lines[1:], start=2) if problem_of(line)} == set(
        written.malformed
    )


def test_too_many_malformed_lines_is_an_error() -> None:
    with pytest.raises(ValueError, match="malformed"):
        list(generate_feed_lines(3, malformed=4))


# --- Signatures -----------------------------------------------------------------------------

SECRET = "secret-partage"
BODY = b'{"kind":"training_decision","reference":"REG-FORM-0001"}'
NOW = 1_780_000_000


def test_a_good_signature_verifies() -> None:
    headers = signed_headers(SECRET, BODY, now=NOW)
    timestamp, signature = headers["X-Parcours-Timestamp"], headers["X-Parcours-Signature"]

    assert timestamp == str(NOW)
    assert signature == sign(SECRET, NOW, BODY)
    assert len(signature) == 64 and int(signature, 16) >= 0
    assert verify(SECRET, timestamp, BODY, signature, now=NOW + 299)
    assert verify(SECRET, timestamp, BODY, signature.upper(), now=NOW)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "signature"),
    [
        pytest.param("autre-secret", str(NOW), BODY, None, id="wrong-secret"),
        pytest.param(SECRET, str(NOW), BODY + b" ", None, id="tampered-body"),
        pytest.param(SECRET, str(NOW), BODY, "00" * 32, id="forged-signature"),
        pytest.param(SECRET, str(NOW), BODY, "pas-de-l-hexa", id="garbage-signature"),
        pytest.param(SECRET, str(NOW), BODY, "", id="missing-signature"),
        pytest.param(SECRET, None, BODY, None, id="missing-timestamp"),
        pytest.param(SECRET, "17e8", BODY, None, id="malformed-timestamp"),
        pytest.param(SECRET, "²", BODY, None, id="non-ascii-digit-timestamp"),
    ],
)
def test_a_forged_signature_is_refused(
    secret: str, timestamp: str | None, body: bytes, signature: str | None
) -> None:
    # Unless the case forges it, the signature is the partner's genuine one for the original.
    genuine = sign(SECRET, str(NOW), BODY)
    assert not verify(secret, timestamp, body, genuine if signature is None else signature, NOW)


@pytest.mark.parametrize("drift", [-301, 301, 86_400])
def test_a_stale_or_future_timestamp_is_refused(drift: int) -> None:
    signature = sign(SECRET, NOW, BODY)
    assert not verify(SECRET, str(NOW), BODY, signature, now=NOW + drift)
    assert verify(SECRET, str(NOW), BODY, signature, now=NOW + drift, window_s=abs(drift))
