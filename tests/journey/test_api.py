"""The JSON API through HTTP: the real app served by uvicorn, the real Temporal dev server and
worker, the migrated database. What a client of the API would notice, and nothing less:
status codes, French reasons, and that a refused request leaves nothing behind.

Each call is signed with the API token of the role that does it in real life: the référent
enrols and accompanies, the chargée d'orientation decides the orientation, a manager hands a
journey off, the CAF feed (an admin account) signals RSA rights. Who may do what is tested in
``tests/access/test_access.py``."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey.messages import JourneyState
from parcours.journey.models import JourneyEventRecord
from parcours.journey.rules import ACTIONS
from tests.support.accounts import NewAccount, Staff
from tests.support.api import (
    ENGINE_DOWN,
    act,
    app_without_temporal,
    count_people,
    enrol,
    kinds,
    read,
    read_until,
    served,
)
from tests.support.clients import ApiClients, api_clients
from tests.support.people import person_payload

Json = dict[str, Any]


# --- Helpers ---


def error_fields(response: httpx.Response) -> list[str]:
    return [str(error["loc"][-1]) for error in response.json()["detail"]]


# --- Fixtures ---


@pytest.fixture(scope="module")
async def temporal_down(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_without_temporal(settings) as http:
        yield http


@pytest.fixture(scope="module")
async def quick_follow_up_app(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
) -> AsyncIterator[str]:
    """The app configured with a follow-up check-in due at month 0, that is at once.

    Journeys capture their SLA settings when they start, so the check-in endpoint can be driven
    through HTTP without waiting a month (the journey tests cover months on the time-skipping
    server)."""
    at_once = settings.model_copy(update={"follow_up_check_in_months": [0]})
    async with served(create_app(at_once, temporal=dev_env.client)) as http:
        yield str(http.base_url)


@pytest.fixture
async def quick_follow_up(quick_follow_up_app: str, staff: Staff) -> AsyncIterator[ApiClients]:
    async with api_clients(quick_follow_up_app, staff) as clients:
        yield clients


# --- Enrolment ---


async def test_enrolment_opens_the_journey_at_intake_with_its_deadline(
    api: ApiClients, staff: Staff, settings: Settings, dev_env: WorkflowEnvironment
) -> None:
    payload = person_payload(referent_id=staff.referent_id, structure_id=staff.structure_id)

    response = await api.referent.post("/api/v1/beneficiaries", json=payload)

    assert response.status_code == 201, response.text
    person, journey = response.json()["beneficiary"], response.json()["journey"]
    assert (person["last_name"], person["nir"]) == (payload["last_name"], payload["nir"])
    assert (journey["step"], journey["step_label"]) == ("intake", "Accueil")
    assert (journey["referent_id"], journey["structure_id"]) == (
        staff.referent_id,
        staff.structure_id,
    )
    since = datetime.fromisoformat(journey["step_since"])
    deadline = datetime.fromisoformat(journey["deadline"])
    assert deadline - since == timedelta(days=settings.intake_days)
    assert not journey["stalled"]
    offered = [action["name"] for action in journey["available_actions"]]
    assert "begin_diagnosis" in offered and "complete_diagnosis" not in offered

    detail = await read_until(api.referent, person["id"], lambda d: bool(d["timeline"]))
    assert kinds(detail) == ["journey_started"]
    assert detail["referent"]["label"] == "Referent 1"
    assert detail["structure"]["id"] == staff.structure_id
    assert detail["time_in_steps"][0]["step"] == "intake"

    # The journey runs in Temporal, whose history is immutable: no personal data goes there.
    history = await dev_env.client.get_workflow_handle(journey["workflow_id"]).fetch_history()
    recorded = b"".join(event.SerializeToString() for event in history.events)
    assert person["id"].encode() in recorded  # payloads are readable here: the check bites
    for personal in ("first_name", "last_name", "nir", "email", "address", "caf_number"):
        assert str(payload[personal]).encode() not in recorded, personal


MISSING = object()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("last_name", MISSING),
        ("last_name", "   "),
        ("nir", "188047311512353"),  # wrong key
        ("nir", "12345"),
        ("birth_date", "1988-02-30"),
        ("birth_date", "12/04/1988"),
        ("birth_date", "1850-01-01"),
        ("territory", "7"),
        ("territory", "2C"),
        ("postal_code", "7300"),
        ("email", "pas-une-adresse"),
    ],
)
async def test_bad_enrolment_is_refused_naming_the_field(
    api: ApiClients,
    sessions: async_sessionmaker[AsyncSession],
    field: str,
    value: object,
) -> None:
    payload = person_payload() if value is MISSING else person_payload(**{field: value})
    if value is MISSING:
        del payload[field]

    response = await api.referent.post("/api/v1/beneficiaries", json=payload)

    assert response.status_code == 422, response.text
    assert field in error_fields(response)
    assert await count_people(sessions, str(payload["first_name"])) == 0


async def test_unknown_enum_values_are_refused_naming_the_field(api: ApiClients) -> None:
    beneficiary_id = await enrol(api.referent)
    journey = f"/api/v1/journeys/{beneficiary_id}"

    closing = await api.referent.post(f"{journey}/actions/close", json={"exit_reason": "loterie"})
    assert closing.status_code == 422
    assert error_fields(closing) == ["exit_reason"]

    caf = await api.admin.post(
        f"{journey}/rsa-rights", json={"status": "revoque", "effective_on": "2025-01-01"}
    )
    assert caf.status_code == 422
    assert error_fields(caf) == ["status"]

    handing_off = await api.manager.post(f"{journey}/actions/hand-off", json={"territory": "9A"})
    assert handing_off.status_code == 422
    assert error_fields(handing_off) == ["territory"]

    listing = await api.referent.get("/api/v1/journeys", params={"step": "nulle-part", "limit": 0})
    assert listing.status_code == 422
    assert sorted(error_fields(listing)) == ["limit", "step"]

    assert (await read(api.referent, beneficiary_id))["journey"]["step"] == "intake"


# --- Every action, across journeys ---


async def test_every_action_endpoint_moves_a_journey(
    api: ApiClients,
    quick_follow_up: ApiClients,
    staff: Staff,
    new_account: NewAccount,
    dev_env: WorkflowEnvironment,
) -> None:
    reached: set[str] = set()
    today = date.today()
    # The département the journey is handed off to has its own manager.
    receiving = await new_account("manager", territory="74")

    async def step(
        client: httpx.AsyncClient, beneficiary_id: str, action: str, expected: str, **body: object
    ) -> Json:
        journey = await act(client, beneficiary_id, action, **body)
        reached.add(action)
        assert journey["step"] == expected, (action, journey)
        return journey

    # From intake to a hand-off and a closure, by way of a job lost during follow-up.
    a = await enrol(api.referent, referent_id=staff.referent_id)
    assert (await step(api.referent, a, "pause", "intake"))["paused"]
    resumed = await step(api.manager, a, "resume", "intake")
    assert not resumed["paused"]
    assert "begin_diagnosis" in [x["name"] for x in resumed["available_actions"]]
    reassigned = await step(
        api.orientation, a, "reassign-referent", "intake", referent_id=staff.other_referent_id
    )
    assert reassigned["referent_id"] == staff.other_referent_id
    await step(api.referent, a, "begin-diagnosis", "diagnosis", referent_id=staff.referent_id)
    await step(api.referent, a, "complete-diagnosis", "orientation")
    oriented = await step(
        api.orientation,
        a,
        "decide-orientation",
        "accompaniment",
        kind="socio_professional",
        structure_id=staff.structure_id,
        referent_id=staff.referent_id,
    )
    assert oriented["orientation_label"] == "Socio-professionnelle"
    contract_end = today + timedelta(days=180)
    signed = await step(
        api.referent,
        a,
        "sign-contract",
        "accompaniment",
        signed_on=today.isoformat(),
        ends_on=contract_end.isoformat(),
        weekly_hours=15,
    )
    assert datetime.fromisoformat(signed["deadline"]).date() == contract_end
    await step(
        api.referent,
        a,
        "record-employment",
        "employment",
        started_on=today.isoformat(),
        contract="cdd",
    )
    await step(api.referent, a, "set-follow-up-consent", "follow_up", consent=True)
    await step(api.referent, a, "report-job-loss", "accompaniment")
    handed_off = await step(api.manager, a, "hand-off", "orientation", territory="74")
    assert (handed_off["territory"], handed_off["referent_id"]) == ("74", None)
    closed = await step(api(receiving), a, "close", "closed", exit_reason="moved_away")
    assert closed["exit_reason_label"] == "Départ hors du territoire"
    assert closed["available_actions"] == []

    detail = await read(api(receiving), a)
    assert kinds(detail) == [
        "journey_started",
        "paused",
        "resumed",
        "referent_reassigned",
        "diagnosis_started",
        "diagnosis_completed",
        "orientation_decided",
        "contract_signed",
        "employment_recorded",
        "follow_up_consent",
        "job_lost",
        "handed_off",
        "closed",
    ]
    assert detail["journey"]["step"] == "closed"
    # Each action is signed by who did it.
    actors = {event["kind"]: (event["actor"] or {}).get("id") for event in detail["timeline"]}
    assert actors["resumed"] == staff.manager_id
    assert actors["orientation_decided"] == staff.orientation_id
    assert actors["closed"] == receiving.id

    # To a follow-up check-in and a closure on sustained employment.
    quick = quick_follow_up
    b = await enrol(quick.referent, referent_id=staff.referent_id)
    await step(quick.referent, b, "begin-diagnosis", "diagnosis")
    await step(quick.referent, b, "complete-diagnosis", "orientation")
    await step(
        quick.orientation,
        b,
        "decide-orientation",
        "accompaniment",
        kind="professional",
        structure_id=staff.structure_id,
    )
    await step(
        quick.referent,
        b,
        "record-employment",
        "follow_up",
        started_on=today.isoformat(),
        contract="cdi",
        follow_up_consent=True,
    )
    due = await read_until(quick.referent, b, lambda d: d["journey"]["check_in_due"] == 0)
    assert "record_check_in" in [x["name"] for x in due["journey"]["available_actions"]]
    # The read model is written before the workflow adopts the change its timer made, and the
    # update's validator reads the workflow: a check-in sent in between is refused. Wait.
    handle = dev_env.client.get_workflow_handle(f"journey-{b}")
    for _ in range(200):
        if (await handle.query("current", result_type=JourneyState)).check_in_due == 0:
            break
        await asyncio.sleep(0.05)
    done = await step(quick.referent, b, "record-check-in", "closed", month=0, still_employed=True)
    assert done["exit_reason"] == "sustained_employment"

    assert reached == {name.replace("_", "-") for name in ACTIONS}


# --- Refusals ---


async def test_impossible_transition_is_refused_with_its_reason(api: ApiClients) -> None:
    beneficiary_id = await enrol(api.referent)
    actions = f"/api/v1/journeys/{beneficiary_id}/actions"

    async def refused(action: str, body: Json, by: httpx.AsyncClient = api.referent) -> str:
        response = await by.post(f"{actions}/{action}", json=body)
        assert response.status_code == 409, response.text
        reason: str = response.json()["detail"]
        return reason

    assert await refused("complete-diagnosis", {}) == (
        "Action possible seulement à l'étape « Diagnostic » (étape actuelle : « Accueil »)."
    )
    assert await refused("resume", {}) == "Le parcours n'est pas en pause."
    assert await refused("hand-off", {"territory": "73"}, by=api.manager) == (
        "Le parcours est déjà rattaché à ce département."
    )
    await act(api.referent, beneficiary_id, "pause")
    assert await refused("begin-diagnosis", {}) == (
        "Le parcours est en pause : reprenez-le avant de continuer."
    )

    detail = await read(api.referent, beneficiary_id)
    assert detail["journey"]["step"] == "intake"
    assert kinds(detail) == ["journey_started", "paused"]

    await act(api.referent, beneficiary_id, "close", exit_reason="declined")
    assert await refused("resume", {}) == (
        "Le parcours est clôturé : aucune action n'est plus possible."
    )


async def test_a_contract_ending_before_it_is_signed_is_refused(
    api: ApiClients, staff: Staff
) -> None:
    beneficiary_id = await enrol(api.referent)
    await act(api.referent, beneficiary_id, "begin-diagnosis")
    await act(api.referent, beneficiary_id, "complete-diagnosis")
    await act(
        api.orientation,
        beneficiary_id,
        "decide-orientation",
        kind="social",
        structure_id=staff.structure_id,
    )

    response = await api.referent.post(
        f"/api/v1/journeys/{beneficiary_id}/actions/sign-contract",
        json={"signed_on": "2025-03-10", "ends_on": "2025-03-01"},
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "La date de fin du contrat doit suivre sa date de signature."
    }
    assert "contract_signed" not in kinds(await read(api.referent, beneficiary_id))


async def test_unknown_journey_is_not_found(api: ApiClients) -> None:
    unknown = str(uuid.uuid4())

    reading = await api.referent.get(f"/api/v1/journeys/{unknown}")
    acting = await api.referent.post(f"/api/v1/journeys/{unknown}/actions/begin-diagnosis", json={})
    signalling = await api.admin.post(
        f"/api/v1/journeys/{unknown}/rsa-rights",
        json={"status": "closed", "effective_on": date.today().isoformat()},
    )

    # A professional is told the same whether the person does not exist or is not theirs.
    for response in (reading, acting):
        assert (response.status_code, response.json()) == (404, {"detail": "Personne introuvable."})
    assert (signalling.status_code, signalling.json()) == (404, {"detail": "Parcours introuvable."})


async def journeys_started_since(client: Client, since: datetime, *, including: str) -> set[str]:
    """Ids of the journeys Temporal started since ``since``, once ``including`` is visible."""
    query = f"WorkflowType = 'Journey' AND StartTime >= '{since:%Y-%m-%dT%H:%M:%S.%fZ}'"
    for _ in range(200):
        ids = {execution.id async for execution in client.list_workflows(query)}
        if including in ids:
            return ids
        await asyncio.sleep(0.05)
    raise AssertionError(f"{including} never became visible")


@pytest.mark.parametrize(
    ("field", "message"),
    [("referent_id", "Référent inconnu."), ("structure_id", "Structure inconnue.")],
)
async def test_enrolment_with_an_unknown_reference_writes_nothing(
    api: ApiClients,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
    field: str,
    message: str,
) -> None:
    since = datetime.now(UTC)
    references = {"referent_id": staff.referent_id, "structure_id": staff.structure_id}
    payload = person_payload(**{**references, field: str(uuid.uuid4())})

    response = await api.referent.post("/api/v1/beneficiaries", json=payload)

    assert (response.status_code, response.json()) == (422, {"detail": message})
    assert await count_people(sessions, str(payload["first_name"])) == 0
    # Temporal: a good enrolment made afterwards is the only journey started since.
    sentinel = await enrol(api.referent, referent_id=staff.referent_id)
    started = await journeys_started_since(dev_env.client, since, including=f"journey-{sentinel}")
    assert started == {f"journey-{sentinel}"}


async def test_action_with_an_unknown_reference_changes_nothing(
    api: ApiClients, staff: Staff
) -> None:
    beneficiary_id = await enrol(api.referent, referent_id=staff.referent_id)
    await act(api.referent, beneficiary_id, "begin-diagnosis")
    await act(api.referent, beneficiary_id, "complete-diagnosis")
    actions = f"/api/v1/journeys/{beneficiary_id}/actions"

    orienting = await api.orientation.post(
        f"{actions}/decide-orientation", json={"kind": "social", "structure_id": "nulle"}
    )
    reassigning = await api.orientation.post(
        f"{actions}/reassign-referent", json={"referent_id": "nul"}
    )

    assert (orienting.status_code, orienting.json()) == (422, {"detail": "Structure inconnue."})
    assert (reassigning.status_code, reassigning.json()) == (422, {"detail": "Référent inconnu."})
    detail = await read(api.referent, beneficiary_id)
    assert (detail["journey"]["step"], detail["journey"]["referent_id"]) == (
        "orientation",
        staff.referent_id,
    )
    assert kinds(detail) == ["journey_started", "diagnosis_started", "diagnosis_completed"]


# --- When Temporal does not answer ---


async def test_enrolment_when_temporal_does_not_answer_keeps_nothing(
    temporal_down: httpx.AsyncClient, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    payload = person_payload()

    response = await temporal_down.post(
        "/api/v1/beneficiaries", json=payload, headers=staff.headers("referent")
    )

    assert (response.status_code, response.json()) == (503, {"detail": ENGINE_DOWN})
    assert await count_people(sessions, str(payload["first_name"])) == 0


async def test_acting_when_temporal_does_not_answer_is_unavailable(
    api: ApiClients, staff: Staff, temporal_down: httpx.AsyncClient
) -> None:
    beneficiary_id = await enrol(api.referent)
    await act(api.referent, beneficiary_id, "begin-diagnosis")
    journey = f"/api/v1/journeys/{beneficiary_id}"

    # Both wait for the Temporal client to give up: wait once.
    acting, signalling = await asyncio.gather(
        temporal_down.post(
            f"{journey}/actions/complete-diagnosis", json={}, headers=staff.headers("referent")
        ),
        temporal_down.post(
            f"{journey}/rsa-rights",
            json={"status": "closed", "effective_on": date.today().isoformat()},
            headers=staff.headers("admin"),
        ),
    )

    assert (acting.status_code, acting.json()) == (503, {"detail": ENGINE_DOWN})
    assert (signalling.status_code, signalling.json()) == (503, {"detail": ENGINE_DOWN})
    assert (await read(api.referent, beneficiary_id))["journey"]["step"] == "diagnosis"


async def test_health_is_degraded_when_temporal_does_not_answer(
    temporal_down: httpx.AsyncClient,
) -> None:
    response = await temporal_down.get("/healthz")

    assert response.status_code == 503
    health = response.json()
    assert (health["status"], health["database"]) == ("degraded", "ok")
    assert health["temporal"].startswith("erreur")


# --- Listing ---


async def test_list_filters_by_step_lateness_and_name_and_pages(api: ApiClients) -> None:
    http = api.referent
    tag = uuid.uuid4().hex[:8]
    family = f"Liste{tag}"
    alice = await enrol(http, first_name=f"Alice{tag}", last_name=family)
    bruno = await enrol(http, first_name=f"Bruno{tag}", last_name=family)
    # Orientation is due 6 weeks after the RSA opened: 90 days ago, so already late.
    opened = (date.today() - timedelta(days=90)).isoformat()
    chloe = await enrol(http, first_name=f"Chloé{tag}", last_name=family, rsa_opened_on=opened)
    await act(http, bruno, "begin-diagnosis")
    await act(http, chloe, "begin-diagnosis")
    assert (await act(http, chloe, "complete-diagnosis"))["stalled"]

    async def listed(**params: str | int) -> Json:
        response = await http.get("/api/v1/journeys", params={"q": family.lower(), **params})
        assert response.status_code == 200, response.text
        page: Json = response.json()
        return page

    def ids(page: Json) -> list[str]:
        return [item["beneficiary_id"] for item in page["items"]]

    everyone = await listed()
    assert everyone["total"] == 3
    assert ids(everyone) == [chloe, alice, bruno]  # most urgent deadline first
    assert everyone["items"][0]["full_name"] == f"Chloé{tag} {family}"

    assert ids(await listed(step="diagnosis")) == [bruno]
    assert ids(await listed(stalled="true")) == [chloe]
    assert ids(await listed(stalled="false")) == [alice, bruno]
    assert ids(await listed(q=f"BRUNO{tag}")) == [bruno]
    assert (await listed(q=f"personne{tag}"))["total"] == 0

    first, second = await listed(limit=2), await listed(limit=2, offset=2)
    assert (first["total"], second["total"]) == (3, 3)
    assert ids(first) + ids(second) == [chloe, alice, bruno]
    assert (await listed(offset=3))["items"] == []


# --- CAF ---


async def test_caf_closing_rights_closes_a_journey_in_diagnosis(api: ApiClients) -> None:
    http, caf = api.referent, api.admin
    beneficiary_id = await enrol(http)
    await act(http, beneficiary_id, "begin-diagnosis")
    rights = f"/api/v1/journeys/{beneficiary_id}/rsa-rights"
    today = date.today().isoformat()

    # Only the CAF feed's account (an admin) passes RSA rights on.
    by_referent = await http.post(rights, json={"status": "suspended", "effective_on": today})
    assert by_referent.status_code == 403
    suspended = await caf.post(rights, json={"status": "suspended", "effective_on": today})
    assert suspended.status_code == 202
    detail = await read_until(
        http, beneficiary_id, lambda d: d["journey"]["rsa_status"] == "suspended"
    )
    assert detail["journey"]["step"] == "diagnosis"  # a suspension alone closes nothing

    closed = await caf.post(rights, json={"status": "closed", "effective_on": today})
    assert closed.status_code == 202
    # Each event of the change is written by its own activity: wait for the last one.
    detail = await read_until(http, beneficiary_id, lambda d: kinds(d)[-1] == "closed")
    assert detail["journey"]["step"] == "closed"
    assert detail["journey"]["exit_reason_label"] == "Fin des droits RSA"
    assert kinds(detail)[-3:] == ["rsa_rights_changed", "rsa_rights_changed", "closed"]

    again = await caf.post(rights, json={"status": "closed", "effective_on": today})
    assert again.status_code == 202  # the CAF may repeat itself after the end
    refused = await http.post(
        f"/api/v1/journeys/{beneficiary_id}/actions/complete-diagnosis", json={}
    )
    assert refused.status_code == 409


# --- Operations ---


async def test_health_reports_database_and_temporal(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")

    assert (response.status_code, response.json()) == (
        200,
        {"status": "ok", "database": "ok", "temporal": "ok"},
    )


async def test_openapi_lists_every_action(http: httpx.AsyncClient) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]

    for name, (_, label) in ACTIONS.items():
        operation = paths[f"/api/v1/journeys/{{beneficiary_id}}/actions/{name.replace('_', '-')}"]
        assert operation["post"]["summary"] == label
        assert {"200", "409", "422"} <= set(operation["post"]["responses"])
    assert "post" in paths["/api/v1/beneficiaries"]
    assert "post" in paths["/api/v1/journeys/{beneficiary_id}/rsa-rights"]
    assert {"get"} == set(paths["/api/v1/journeys/{beneficiary_id}"])


def requests_counted(metrics: str, method: str, route: str, status: int) -> float:
    line = re.search(
        rf'^parcours_http_requests_total\{{method="{method}",route="{re.escape(route)}",'
        rf'status="{status}"\}} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    return float(line.group(1)) if line else 0.0


async def test_metrics_count_requests_by_route_and_status(
    http: httpx.AsyncClient, api: ApiClients
) -> None:
    route = "/api/v1/journeys/{beneficiary_id}"
    before = requests_counted((await http.get("/metrics")).text, "GET", route, 404)

    await api.referent.get(f"/api/v1/journeys/{uuid.uuid4()}")

    metrics = (await http.get("/metrics")).text
    assert "# TYPE parcours_http_requests_total counter" in metrics
    # Counted by route template, not by person: one series whatever the id.
    assert requests_counted(metrics, "GET", route, 404) == before + 1


async def test_a_late_journeys_story_credits_nobody_with_the_clock_and_counts_every_step(
    api: ApiClients, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The RSA opened 90 days ago: validating the diagnosis finds the orientation's deadline
    passed. « Délai dépassé » is nobody's doing (not the référent's who validated); and the
    time per step comes from the journey's stays, so the follow-up, entered by the person's
    choice (an event of the employment step), is counted too."""
    opened = date.today() - timedelta(days=90)
    bid = await enrol(
        api.referent,
        referent_id=staff.referent_id,
        structure_id=staff.structure_id,
        rsa_opened_on=opened.isoformat(),
    )
    await act(api.referent, bid, "begin-diagnosis")
    assert (await act(api.referent, bid, "complete-diagnosis"))["stalled"]
    await act(
        api.orientation,
        bid,
        "decide-orientation",
        kind="social",
        structure_id=staff.structure_id,
        referent_id=staff.referent_id,
    )
    await act(
        api.referent,
        bid,
        "record-employment",
        started_on=date.today().isoformat(),
        contract="cdi",
        follow_up_consent=True,
    )
    detail = await read_until(api.referent, bid, lambda d: d["journey"]["step"] == "follow_up")

    by = {e["kind"]: (e["actor"] or {}).get("label") for e in detail["timeline"]}
    assert by["diagnosis_completed"] == "Referent 1"
    assert by["deadline_passed"] is None
    # Employment and the follow-up began at the same instant: the journey stayed in the latter.
    assert [t["step"] for t in detail["time_in_steps"]] == [
        "intake",
        "diagnosis",
        "orientation",
        "accompaniment",
        "follow_up",
    ]
    assert all(0 <= t["days"] < 1 for t in detail["time_in_steps"])

    # A history recorded before: its « Délai dépassé » carries the référent. Not shown.
    async with transaction(sessions) as session:
        await session.execute(
            update(JourneyEventRecord)
            .where(
                JourneyEventRecord.beneficiary_id == bid,
                JourneyEventRecord.kind == "deadline_passed",
            )
            .values(actor_id=staff.referent_id)
        )
    detail = await read(api.referent, bid)
    assert [e["actor"] for e in detail["timeline"] if e["kind"] == "deadline_passed"] == [None]
    carnet = (await api.referent.get(f"/api/v1/beneficiaries/{bid}/carnet")).json()
    late = [e for e in carnet["timeline"] if e["label"] == "Délai dépassé"]
    assert late and all(e["by"] is None for e in late)
