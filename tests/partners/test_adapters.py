"""Partner calls as journeys make them: through Temporal (the call's production retry policy),
the real adapters, and the simulators over HTTP. What a partner would notice: how many requests
it holds, under which key; what the person's carnet shows after a look-up; that nothing leaves
without the person's consent."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from parcours.carnet.models import Beneficiary, Consent, SituationFact
from parcours.core.settings import DEV_CALLBACK_SECRET, Settings
from parcours.partners.adapters.http import PartnerClient, PartnerRefused, PartnerUnavailable
from parcours.partners.adapters.structures import ServiceOrientationReceipt
from simulators.config import DEV_CALLBACK_SECRET as SIMULATORS_DEV_SECRET
from tests.support.partners import (
    PartnerStack,
    add_person,
    orientation,
    service_orientation,
    training_request,
    unique_nir,
)
from tests.support.probe import PartnerCallProbe, ProbeInput

Json = dict[str, Any]


def refusal(failure: WorkflowFailureError) -> ApplicationError:
    activity_error = failure.cause
    assert isinstance(activity_error, ActivityError)
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def current_facts(
    sessions: async_sessionmaker[AsyncSession], beneficiary_id: str
) -> list[SituationFact]:
    async with sessions() as session:
        rows = await session.scalars(
            select(SituationFact).where(
                SituationFact.beneficiary_id == beneficiary_id,
                SituationFact.superseded_at.is_(None),
            )
        )
        return list(rows)


# --- The adapters alone ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
async def test_a_partner_down_or_overloaded_is_worth_retrying(status: int) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(status, json={"detail": "panne"}))
    client = PartnerClient("region", "http://region.test", transport=transport)
    with pytest.raises(PartnerUnavailable) as raised:
        await client.call("POST", "/x", key="k", result=ServiceOrientationReceipt)
    await client.aclose()
    assert raised.value.retryable and raised.value.status_code == status
    assert "la Région indisponible" in raised.value.message


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
async def test_a_partner_refusing_the_request_is_not_retried(status: int) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(status, json={"detail": "non"}))
    client = PartnerClient("structures", "http://structures.test", transport=transport)
    with pytest.raises(PartnerRefused) as raised:
        await client.call("POST", "/x", key="k", result=ServiceOrientationReceipt)
    await client.aclose()
    assert not raised.value.retryable and "refuse la demande" in raised.value.message


async def test_an_unreachable_partner_is_worth_retrying_and_every_call_carries_its_key() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Idempotency-Key"])
        raise httpx.ConnectError("refused")

    client = PartnerClient("caf", "http://caf.test", transport=httpx.MockTransport(handler))
    with pytest.raises(PartnerUnavailable, match="injoignable"):
        await client.call("GET", "/x", key="journey-1:caf-lookup", result=ServiceOrientationReceipt)
    await client.aclose()
    assert seen == ["journey-1:caf-lookup"]


def test_each_partner_has_its_address_and_the_callback_secret_is_refused_in_production() -> None:
    settings = Settings(
        partners_base_url="http://sim:8100/", region_url="https://region.example/api"
    )
    assert settings.partner_url("caf") == "http://sim:8100/caf"
    assert settings.partner_url("france_travail") == "http://sim:8100/france-travail"
    assert settings.partner_url("region") == "https://region.example/api"
    assert DEV_CALLBACK_SECRET == SIMULATORS_DEV_SECRET
    with pytest.raises(ValueError, match="PARCOURS_PARTNER_CALLBACK_SECRET"):
        Settings(environment="production", secret_key="s3cret")
    Settings(environment="production", secret_key="s3cret", partner_callback_secret="other")


# --- Look-ups fill the carnet ---------------------------------------------------------------


async def test_the_caf_lookup_fills_the_carnet_and_a_later_one_supersedes_it(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    generated = await partners.sim.post("/caf/_feed/generate", json={"count": 1, "seed": 7})
    generated.raise_for_status()
    event = (await partners.sim.get("/caf/feed")).json()["events"][0]
    person_id = await add_person(sessions, caf_number=event["caf_number"], nir=event["nir"])

    first = await partners.probe("lookup_caf_household", {"beneficiary_id": person_id}, "caf-1")
    assert await first.result() == {"found": True, "rsa_status": "open"}

    facts = {f.label: f for f in await current_facts(sessions, person_id)}
    assert {f.source for f in facts.values()} == {"caf"}
    assert facts["Droit au RSA"].value.startswith("Droit ouvert et versable")
    assert "enfant" in facts["Composition du foyer"].value
    async with sessions() as session:
        person = await session.get(Beneficiary, person_id)
        assert person is not None and person.household is not None
        assert person.household["adults"] == event["household"]["adults"]

    # The CAF learns of a birth and suspends the payment: a new look-up says so.
    household = {
        **event["household"],
        "dependent_children": event["household"]["dependent_children"] + 1,
    }
    later = {
        **event,
        "event_id": str(uuid.uuid4()),
        "kind": "suspension",
        "rights_state": "4",
        "suspension_reason": "06",
        "household": household,
    }
    (await partners.sim.post("/caf/_feed", json={"events": [later]})).raise_for_status()
    second = await partners.probe("lookup_caf_household", {"beneficiary_id": person_id}, "caf-2")
    assert await second.result() == {"found": True, "rsa_status": "suspended"}

    current = await current_facts(sessions, person_id)
    by_label = {f.label: f for f in current}
    assert len(by_label) == len(current)  # one current fact per label
    assert by_label["Droit au RSA"].value.startswith("Droit ouvert mais versement suspendu")
    assert by_label["Composition du foyer"].value != facts["Composition du foyer"].value
    async with sessions() as session:
        history = await session.scalars(
            select(SituationFact).where(
                SituationFact.beneficiary_id == person_id,
                SituationFact.label == "Composition du foyer",
            )
        )
        assert sorted(f.superseded_at is None for f in history) == [False, True]
    assert (await partners.state("caf"))["lookups"] == 2


async def test_the_france_travail_lookup_fills_the_identifier_and_registration(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    nir = unique_nir()
    registered = await partners.sim.post(
        "/france-travail/_individus",
        json={
            "nir": nir,
            "birth_date": "1988-04-12",
            "first_name": "Léa",
            "last_name": "Rey",
            "identifier": "1234567A",
            "registered_on": "2026-01-05",
        },
    )
    registered.raise_for_status()
    known = await add_person(sessions, nir=nir, consents=("france_travail",))
    unknown = await add_person(sessions, nir=unique_nir(), consents=("france_travail",))

    found = await partners.probe("find_france_travail_person", {"beneficiary_id": known})
    missing = await partners.probe("find_france_travail_person", {"beneficiary_id": unknown})

    assert await found.result() == {"found": True, "registered": True}
    assert await missing.result() == {"found": False, "registered": None}
    async with sessions() as session:
        person = await session.get(Beneficiary, known)
        assert person is not None and person.france_travail_id == "1234567A"
    (fact,) = await current_facts(sessions, known)
    assert (fact.source, fact.label) == ("france_travail", "Inscription à France Travail")
    assert fact.value.startswith("Inscrit·e depuis le 05/01/2026, catégorie 1")
    (nothing,) = await current_facts(sessions, unknown)
    assert nothing.value.startswith("Inconnu·e de France Travail")


# --- Faults: one request at the partner, whatever happens -----------------------------------


@pytest.mark.resilience
async def test_france_travail_down_for_a_while_gets_the_orientation_once(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    person_id = await add_person(sessions, consents=("france_travail",))
    await partners.switches("france-travail", fail_next=3)

    handle = await partners.probe(
        "notify_france_travail_orientation", orientation(person_id), "orientation-1"
    )
    receipt = await handle.result()

    state = await partners.state("france-travail")
    key = f"{handle.id}:orientation-1"
    assert [o["reference"] for o in state["orientations"]] == [receipt["reference"]]
    assert state["orientations_by_key"][key]["attempts"] == 1
    assert state["traffic"] == {"calls": 4, "failed": 3, "held": 0}
    assert state["orientations"][0]["notice"]["person"]["nir"] == "188047311512352"


@pytest.mark.resilience
async def test_the_region_down_for_a_while_gets_the_training_request_once(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    person_id = await add_person(sessions, consents=("region",))
    await partners.switches("region", fail_next=2)

    handle = await partners.probe(
        "submit_training_request_region", training_request(person_id, "region")
    )
    receipt = await handle.result()

    state = await partners.state("region")
    assert [r["reference"] for r in state["training_requests"]] == [receipt["reference"]]
    assert state["training_requests"][0]["request"]["requested_amount"] == "1850.00"
    assert state["traffic"] == {"calls": 3, "failed": 2, "held": 0}


@pytest.mark.resilience
async def test_a_timeout_after_the_partner_did_the_work_gets_the_stored_answer(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # The partner answers after 3 s; Parcours waits 1 s (``partner_timeout_s``), then retries.
    person_id = await add_person(sessions, consents=("france_travail",))
    await partners.switches("france-travail", timeout_next=1, hold_ms=3000)

    handle = await partners.probe(
        "notify_france_travail_orientation", orientation(person_id), "orientation-1"
    )
    receipt = await handle.result()

    state = await partners.state("france-travail")
    assert receipt["replayed"] is True
    assert [o["reference"] for o in state["orientations"]] == [receipt["reference"]]
    assert state["orientations_by_key"][f"{handle.id}:orientation-1"]["attempts"] == 2
    assert state["traffic"]["held"] == 1


async def test_the_same_step_sent_with_another_content_is_refused_not_retried(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A key names one request: reusing it for another one is a bug the partner refuses."""
    person_id = await add_person(sessions, consents=("structures",))
    handle = await partners.probe("send_structure_orientation", service_orientation(person_id))
    await handle.result()
    again = service_orientation(person_id)

    # A new run under the same workflow id, the same step, another orientation: same key.
    rerun = await partners.client.start_workflow(
        PartnerCallProbe.run,
        ProbeInput(
            call="send_structure_orientation", payload=again, step="send_structure_orientation"
        ),
        id=handle.id,
        task_queue=partners.settings.task_queue,
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await rerun.result()

    refused = refusal(failed.value)
    assert refused.type == "PartnerRefused" and "déjà servi" in refused.message
    state = await partners.state("structures")
    assert len(state["orientations"]) == 1
    assert state["traffic"]["calls"] == 2  # refused at once, not retried


# --- Consent --------------------------------------------------------------------------------

WITHOUT_CONSENT = [
    pytest.param(
        "find_france_travail_person",
        lambda b: {"beneficiary_id": b},
        "france-travail",
        id="ft-find",
    ),
    pytest.param("notify_france_travail_orientation", orientation, "france-travail", id="ft-ori"),
    pytest.param(
        "submit_training_request_region",
        lambda b: training_request(b, "region"),
        "region",
        id="region-training",
    ),
    pytest.param(
        "submit_training_request_france_travail",
        lambda b: training_request(b, "france_travail"),
        "france-travail",
        id="ft-aif",
    ),
    pytest.param("send_structure_orientation", service_orientation, "structures", id="structure"),
]


@pytest.mark.parametrize(("call", "payload", "partner"), WITHOUT_CONSENT)
@pytest.mark.parametrize("withdrawn", [False, True], ids=["never-given", "withdrawn"])
async def test_without_consent_nothing_is_sent(
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    call: str,
    payload: Any,
    partner: str,
    withdrawn: bool,
) -> None:
    person_id = await add_person(sessions)
    if withdrawn:
        async with sessions() as session, session.begin():
            session.add(
                Consent(beneficiary_id=person_id, partner=partner.replace("-", "_"), granted=False)
            )

    handle = await partners.probe(call, payload(person_id))
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()

    refused = refusal(failed.value)
    assert refused.type == "ConsentMissing" and refused.non_retryable
    assert "n'a pas consenti" in refused.message and "rien n'a été envoyé" in refused.message
    assert (await partners.state(partner))["traffic"]["calls"] == 0


async def test_a_person_without_nir_cannot_be_oriented_to_france_travail(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    person_id = await add_person(sessions, nir=None, consents=("france_travail",))
    handle = await partners.probe("notify_france_travail_orientation", orientation(person_id))
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert refusal(failed.value).type == "PersonIncomplete"
    assert (await partners.state("france-travail"))["traffic"]["calls"] == 0


async def test_a_structure_gets_how_to_reach_the_person_never_their_nir(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    person_id = await add_person(sessions, consents=("structures",))
    handle = await partners.probe("send_structure_orientation", service_orientation(person_id))
    receipt = await handle.result()

    (received,) = (await partners.state("structures"))["orientations"]
    assert received["reference"] == receipt["reference"]
    assert received["orientation"]["person"]["phone"] == "0612345678"
    assert "nir" not in received["orientation"]["person"]
