"""Reorientation and the social track's review through HTTP: the JSON API, the journey
page's forms, the person's own space, and the mail she gets."""

from __future__ import annotations

import html
import uuid

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from parcours.core.settings import Settings
from tests.support.accounts import NewAccount, Staff
from tests.support.api import act, enrol, read_until, served
from tests.support.clients import ApiClients, Browsers, api_clients, signed_in
from tests.support.mailbox import LocalMailbox

pytestmark = pytest.mark.law

SAME_TRACK = (
    "Réorientation refusée : le parcours est déjà orienté « socio-professionnelle » vers "
    "cette structure."
)


def text(response: httpx.Response) -> str:
    return html.unescape(response.text)


async def oriented(api: ApiClients, staff: Staff, **person: object) -> str:
    """A person in accompaniment, socio-professional, in the référent's structure."""
    beneficiary_id = await enrol(api.referent, referent_id=staff.referent_id, **person)
    await act(api.referent, beneficiary_id, "begin-diagnosis")
    await act(api.referent, beneficiary_id, "complete-diagnosis")
    await act(
        api.orientation,
        beneficiary_id,
        "decide-orientation",
        kind="socio_professional",
        structure_id=staff.structure_id,
        referent_id=staff.referent_id,
    )
    return beneficiary_id


async def test_api_request_then_same_track_refused_then_accepted_and_the_person_is_mailed(
    mailed_app: tuple[str, Settings], staff: Staff, mailbox: LocalMailbox
) -> None:
    url, _ = mailed_app
    email = f"nina-{uuid.uuid4().hex[:8]}@example.org"
    async with api_clients(url, staff) as api:
        bid = await oriented(api, staff, email=email)
        base = f"/api/v1/journeys/{bid}/reorientations"
        asked = await api.referent.post(
            base, json={"reason_code": "social_difficulties", "reason_text": "Logement perdu."}
        )
        assert asked.status_code == 201, asked.text
        request_id = asked.json()["id"]
        panel = (await api.orientation.get(base)).json()
        assert panel["pending"]["reason_text"] == "Logement perdu."
        assert panel["pending"]["requested_by_role"] == "referent"

        # Asked twice: refused while the first waits.
        again = await api.referent.post(base, json={"reason_code": "other"})
        assert again.status_code == 409
        assert "attend déjà la décision" in again.json()["detail"]
        # A référent does not decide.
        decision = f"{base}/{request_id}/decision"
        body = {"accepted": True, "kind": "social", "structure_id": staff.outsider_structure_id}
        assert (await api.referent.post(decision, json=body)).status_code == 403
        # The same track and structure: refused with the rule, nothing written.
        same = await api.orientation.post(
            decision,
            json={**body, "kind": "socio_professional", "structure_id": staff.structure_id},
        )
        assert same.status_code == 409
        assert same.json()["detail"].startswith(SAME_TRACK)
        assert (await api.orientation.get(base)).json()["pending"]["id"] == request_id

        accepted = await api.orientation.post(
            decision,
            json={
                **body,
                "referent_id": staff.other_referent_id,
                "after_team_meeting": True,
                "decision_text": "Un accompagnement social d'abord.",
            },
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "accepted"
        panel = (await api.orientation.get(base)).json()
        assert panel["pending"] is None
        [decided] = panel["decided"]
        assert decided["decision_text"] == "Un accompagnement social d'abord."
        assert decided["after_team_meeting"] is True
        assert panel["social_review"]["extended"] is False
        detail = await read_until(
            api.orientation,
            bid,
            lambda d: d["journey"]["orientation"] == "social",
        )
        assert detail["journey"]["step"] == "accompaniment"
        assert detail["journey"]["referent_id"] == staff.other_referent_id
        mail = await mailbox.wait_for(to=email, subject_contains="réorientation")
        assert "acceptée" in mail.subject


async def test_pages_ask_and_refuse_with_reasons_shown_on_the_journey_page(
    api: ApiClients, browsers: Browsers, staff: Staff
) -> None:
    bid = await oriented(api, staff)
    referent = await browsers("referent")
    page = text(await referent.get(f"/parcours/{bid}"))
    assert 'id="reorientation-form"' in page

    asked = await referent.post(
        f"/parcours/{bid}/reorientation",
        data={"reason_code": "project_changed", "reason_text": "Veut créer son entreprise."},
    )
    assert asked.status_code == 303, asked.text
    page = text(await referent.get(asked.headers["location"]))
    assert "La demande de réorientation est envoyée" in page
    assert "Demande en attente de décision" in page
    assert "Veut créer son entreprise." in page

    orientation = await browsers("orientation")
    page = text(await orientation.get(f"/parcours/{bid}"))
    found = page.split(f"/parcours/{bid}/reorientation/")[1].split("/decision")[0]
    decision = f"/parcours/{bid}/reorientation/{found}/decision"
    unexplained = await orientation.post(decision, data={"accepted": "false"})
    assert unexplained.status_code == 409
    assert "Un refus de réorientation se motive" in text(unexplained)

    refused = await orientation.post(
        decision,
        data={
            "accepted": "false",
            "refusal_code": "too_early",
            "decision_text": "Le contrat vient d'être signé : revoyons dans trois mois.",
        },
    )
    assert refused.status_code == 303, refused.text
    page = text(await referent.get(f"/parcours/{bid}"))
    assert "Réorientation refusée" in page
    assert "Demande trop tôt" in page
    assert "Pourquoi : Le contrat vient d'être signé : revoyons dans trois mois." in page
    # The form is offered again.
    assert 'id="reorientation-form"' in page


async def test_the_person_asks_from_her_space_and_sees_it_waiting(
    api: ApiClients, staff: Staff, new_account: NewAccount, api_url: str
) -> None:
    bid = await oriented(api, staff)
    person = await new_account("beneficiary", beneficiary_id=bid, full_name="Nina R.")
    async with signed_in(api_url, person.email) as browser:
        page = text(await browser.get("/mon-espace"))
        assert 'id="reorientation-form"' in page
        wrong = await browser.post("/mon-espace/reorientation", data={"reason_code": "x"})
        assert wrong.status_code == 422
        asked = await browser.post(
            "/mon-espace/reorientation",
            data={"reason_code": "health", "reason_text": "Je ne peux plus travailler debout."},
        )
        assert asked.status_code == 303, asked.text
        page = text(await browser.get(asked.headers["location"]))
        assert "Votre demande de réorientation est envoyée" in page
        assert 'id="reorientation-en-attente"' in page
    panel = (await api.orientation.get(f"/api/v1/journeys/{bid}/reorientations")).json()
    assert panel["pending"]["requested_by_role"] == "person"
    assert panel["pending"]["reason_text"] == "Je ne peux plus travailler debout."


async def test_social_review_not_open_yet_is_refused_through_the_api(
    api: ApiClients, staff: Staff
) -> None:
    bid = await enrol(api.referent, referent_id=staff.referent_id)
    await act(api.referent, bid, "begin-diagnosis")
    await act(api.referent, bid, "complete-diagnosis")
    await act(
        api.orientation,
        bid,
        "decide-orientation",
        kind="social",
        structure_id=staff.structure_id,
        referent_id=staff.referent_id,
        social_review_reason="housing",
    )
    panel = (await api.referent.get(f"/api/v1/journeys/{bid}/reorientations")).json()
    assert panel["social_review"]["extended"] is True
    early = await api.referent.post(
        f"/api/v1/journeys/{bid}/social-review", json={"decision": "keep"}
    )
    assert early.status_code == 409
    assert "pas encore ouverte" in early.json()["detail"]
    unknown = await api.referent.post(
        f"/api/v1/journeys/{bid}/social-review",
        json={"decision": "keep", "social_review_reason": "weather"},
    )
    assert unknown.status_code == 422


async def test_social_review_form_keeps_the_track_then_reorients(
    settings: Settings,
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
    staff: Staff,
) -> None:
    """An app whose review notice is wider than 6 months: a social journey's review is due at
    once (the same timer, fired at the orientation), and concluded through the page's form."""
    wide = settings.model_copy(update={"social_review_notice_days": 200})
    async with served(create_app(wide, temporal=dev_env.client)) as http:
        url = str(http.base_url)
        async with api_clients(url, staff) as api:
            bid = await enrol(api.referent, referent_id=staff.referent_id)
            await act(api.referent, bid, "begin-diagnosis")
            await act(api.referent, bid, "complete-diagnosis")
            await act(
                api.orientation,
                bid,
                "decide-orientation",
                kind="social",
                structure_id=staff.structure_id,
                referent_id=staff.referent_id,
            )
            await read_until(
                api.referent,
                bid,
                lambda d: "social_review_due" in [e["kind"] for e in d["timeline"]],
            )
        async with signed_in(url, staff["referent"].email) as browser:
            page = text(await browser.get(f"/parcours/{bid}"))
            assert "à faire maintenant" in page
            assert 'id="revue-sociale-form"' in page
            kept = await browser.post(f"/parcours/{bid}/revue-sociale", data={"decision": "keep"})
            assert kept.status_code == 303, kept.text
            page = text(await browser.get(kept.headers["location"]))
            assert "La revue du parcours social est conclue." in page
            # Kept: the next review runs, 6 months on (due again at once on this app).
            async with api_clients(url, staff) as api:
                detail = await read_until(
                    api.referent,
                    bid,
                    lambda d: [e["kind"] for e in d["timeline"]].count("social_review_due") == 2,
                )
            concluded = next(
                e for e in detail["timeline"] if e["kind"] == "social_review_concluded"
            )
            assert concluded["detail"]["decision"] == "keep"
            assert concluded["detail"]["on_time"] is True
            assert concluded["detail"]["extended"] is False
            reoriented = await browser.post(
                f"/parcours/{bid}/revue-sociale",
                data={
                    "decision": "reorient",
                    "reason_text": "Prête pour un emploi à temps partiel.",
                },
            )
            assert reoriented.status_code == 303, reoriented.text
            page = text(await browser.get(f"/parcours/{bid}"))
            assert "Demande en attente de décision" in page
            assert "Revue du parcours social" in page
            assert "Prête pour un emploi à temps partiel." in page


async def test_a_request_left_waiting_when_the_journey_closes_lapses(
    api: ApiClients, staff: Staff
) -> None:
    bid = await oriented(api, staff)
    base = f"/api/v1/journeys/{bid}/reorientations"
    asked = await api.referent.post(base, json={"reason_code": "structure_unsuited"})
    assert asked.status_code == 201, asked.text
    await act(api.referent, bid, "close", exit_reason="moved_away")
    panel = (await api.referent.get(base)).json()
    assert panel["pending"] is None
    [lapsed] = panel["decided"]
    assert lapsed["status_label"] == "Sans suite (parcours transféré ou clôturé)"
    decided = await api.orientation.post(
        f"{base}/{asked.json()['id']}/decision", json={"accepted": False, "refusal_code": "other"}
    )
    assert decided.status_code == 409
