"""« Et maintenant ? »: every journey page says what comes next for the agent reading it.

The rule itself over steps × roles (``parcours.journey.next_steps``, pure), then through HTTP:
at the orientation step the référente reads who decides and asks for the decision (a
``decision_requested`` event of the journey, with her as its actor, that the orientation
team's inbox picks up), the chargée d'orientation reads the decision that is hers; paused and
closed journeys say what comes next too."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from parcours.access.rules import Role
from parcours.journey.messages import ExitReason, JourneyOutcomeInput, JourneyState, Sla, Step
from parcours.journey.next_steps import Around, Awaited, Reader, next_steps
from parcours.journey.rules import decision_request_refusal, on_outcome, outcome_refusal
from tests.support.accounts import Staff
from tests.support.api import act, enrol, kinds, read, read_until
from tests.support.clients import ApiClients, Browsers

pytestmark = pytest.mark.notifications

NOW = datetime(2026, 12, 5, 10, tzinfo=UTC)
ASK = "ask_orientation_decision"
AROUND = Around(
    referent="Nadia Benali", territory="73 (Savoie)", orientation_team=("Claire Dumas",)
)


def journey(step: Step, **changes: object) -> JourneyState:
    state = JourneyState(
        beneficiary_id="person-1",
        territory="73",
        step=step,
        step_since=NOW - timedelta(days=3),
        deadline=NOW + timedelta(days=10),
        referent_id="referent-1",
    )
    return state.model_copy(update=changes)


READERS = {
    Role.REFERENT: Reader(id="referent-1", role=Role.REFERENT),
    Role.ORIENTATION: Reader(id="orientation-1", role=Role.ORIENTATION),
    Role.MANAGER: Reader(id="manager-1", role=Role.MANAGER),
}

# Step (and state) × role → the first thing offered to the reader (None: nothing of theirs
# moves the journey), and what the panel says of who else acts.
TABLE: list[tuple[str, JourneyState, Role, str | None, str | None]] = [
    ("intake", journey(Step.INTAKE), Role.REFERENT, "begin_diagnosis", None),
    ("intake", journey(Step.INTAKE), Role.ORIENTATION, "begin_diagnosis", None),
    (
        "intake",
        journey(Step.INTAKE),
        Role.MANAGER,
        "pause",
        "Nadia Benali, référent·e de la personne, commence le diagnostic, avant le 15/12/2026.",
    ),
    ("diagnosis", journey(Step.DIAGNOSIS), Role.REFERENT, "complete_diagnosis", None),
    (
        "diagnosis",
        journey(Step.DIAGNOSIS),
        Role.MANAGER,
        "pause",
        "Nadia Benali, référent·e de la personne, conduit puis valide le diagnostic",
    ),
    (
        "diagnosis, nobody follows",
        journey(Step.DIAGNOSIS, referent_id=None),
        Role.MANAGER,
        "pause",
        "Aucun·e référent·e n'est encore désigné·e",
    ),
    (
        "orientation",
        journey(Step.ORIENTATION),
        Role.REFERENT,
        ASK,
        "Claire Dumas, chargé·e d'orientation du département 73 (Savoie), décide de l'orientation",
    ),
    ("orientation", journey(Step.ORIENTATION), Role.ORIENTATION, "decide_orientation", None),
    ("orientation", journey(Step.ORIENTATION), Role.MANAGER, ASK, "décide de l'orientation"),
    ("accompaniment", journey(Step.ACCOMPANIMENT), Role.REFERENT, "sign_contract", None),
    (
        "accompaniment",
        journey(Step.ACCOMPANIMENT),
        Role.ORIENTATION,
        "reassign_referent",
        "Nadia Benali, référent·e de la personne, accompagne la personne",
    ),
    ("employment", journey(Step.EMPLOYMENT), Role.REFERENT, "set_follow_up_consent", None),
    (
        "employment",
        journey(Step.EMPLOYMENT),
        Role.ORIENTATION,
        "reassign_referent",
        "La personne choisit d'être suivie dans l'emploi ou non",
    ),
    (
        "follow-up, check-in due",
        journey(Step.FOLLOW_UP, check_in_due=3),
        Role.REFERENT,
        "record_check_in",
        None,
    ),
    (
        "follow-up, check-in due",
        journey(Step.FOLLOW_UP, check_in_due=3),
        Role.MANAGER,
        "pause",
        "enregistre le point de suivi du mois 3",
    ),
    (
        "follow-up, between check-ins",
        journey(Step.FOLLOW_UP),
        Role.REFERENT,
        "set_follow_up_consent",
        "Le prochain point de suivi sera signalé à son échéance (15/12/2026) ; vous le "
        "recueillerez alors.",
    ),
    (
        "paused",
        journey(Step.ORIENTATION, paused_at=NOW - timedelta(days=1)),
        Role.REFERENT,
        "resume",
        None,
    ),
    (
        "paused",
        journey(Step.ORIENTATION, paused_at=NOW - timedelta(days=1)),
        Role.ORIENTATION,
        "reassign_referent",
        "ou un·e responsable du département, peut le reprendre",
    ),
    (
        "past its deadline",
        journey(Step.DIAGNOSIS, deadline=NOW - timedelta(days=2), stalled=True),
        Role.MANAGER,
        "pause",
        "L'échéance du 03/12/2026 est dépassée",
    ),
]


@pytest.mark.parametrize(
    ("case", "state", "role", "first", "others"),
    TABLE,
    ids=[f"{case}-{role.value}" for case, _, role, _, _ in TABLE],
)
def test_each_step_says_what_comes_next_for_each_role(
    case: str, state: JourneyState, role: Role, first: str | None, others: str | None
) -> None:
    found = next_steps(state, READERS[role], AROUND, NOW)

    assert found.situation
    assert found.yours, "every open journey offers its reader something"
    assert found.yours[0].action == first
    assert all(m.explanation for m in found.yours)
    if others is None:
        assert not any("décide de l'orientation" in o for o in found.others)
    else:
        assert any(others in o for o in found.others), found.others
    if state.step is Step.ORIENTATION and not state.paused:
        assert (ASK in [m.action for m in found.yours]) is (role is not Role.ORIENTATION)


@pytest.mark.parametrize("role", list(READERS))
def test_a_closed_journey_says_a_new_one_begins_if_the_person_comes_back(role: Role) -> None:
    state = journey(Step.CLOSED, exit_reason=ExitReason.EMPLOYMENT, deadline=None)

    found = next_steps(state, READERS[role], AROUND, NOW)

    assert found.yours == [] and found.others == []
    assert found.situation == (
        "Le parcours est clôturé (Emploi, sans suivi) : aucune action n'est plus possible."
    )
    assert found.meanwhile is not None and "un nouveau parcours commence" in found.meanwhile


def test_after_a_hand_off_the_former_group_reads_who_acts_and_can_do_nothing() -> None:
    reader = Reader(id="referent-1", role=Role.REFERENT, read_only=True)

    found = next_steps(journey(Step.ORIENTATION), reader, AROUND, NOW)

    assert found.yours == []
    assert "transféré" in found.situation
    assert found.others


def test_an_orientation_decision_is_asked_once_a_week_until_it_is_taken() -> None:
    state = journey(Step.ORIENTATION)
    asked = NOW - timedelta(days=2)
    around = Around(territory="73 (Savoie)", asked_at=asked, asked_by="Nadia Benali")

    found = next_steps(state, READERS[Role.REFERENT], around, NOW)

    assert ASK not in [m.action for m in found.yours]
    assert found.request == (
        "Demande de décision d'orientation envoyée le 03/12/2026 par Nadia Benali aux "
        "chargé·es d'orientation du département. Si l'orientation n'est pas décidée d'ici là, "
        "vous pourrez la redemander à partir du 10/12/2026."
    )
    assert decision_request_refusal(state, asked, NOW) == (
        "Décision d'orientation déjà demandée le 03/12/2026 : vous pourrez la redemander à "
        "partir du 10/12/2026 si elle n'est pas prise d'ici là."
    )
    a_week_later = asked + timedelta(days=7)
    again = next_steps(state, READERS[Role.REFERENT], around, a_week_later)
    assert ASK in [m.action for m in again.yours]
    orientation = next_steps(state, READERS[Role.ORIENTATION], around, NOW)
    assert orientation.request is not None and "Elle attend votre décision." in orientation.request


def test_the_journey_records_a_request_once_and_only_at_the_orientation_step() -> None:
    request = JourneyOutcomeInput(kind="decision_requested", actor_id="referent-1")
    state = journey(Step.ORIENTATION)

    recorded, events = on_outcome(state, request, NOW, Sla())

    assert [(e.kind, e.actor_id, e.detail) for e in events] == [
        ("decision_requested", "referent-1", {})
    ]
    assert recorded.decision_requested_at == NOW
    assert outcome_refusal(state, request, NOW) is None
    # Sent twice (a double click), the second is left out; so is one that crossed the step.
    assert outcome_refusal(recorded, request, NOW + timedelta(seconds=1))
    assert outcome_refusal(journey(Step.ACCOMPANIMENT), request, NOW)
    # Other outcomes are recorded as before.
    other = JourneyOutcomeInput(kind="training_started", detail={"request_id": "r-1"})
    assert outcome_refusal(recorded, other, NOW) is None


# --- Through HTTP: the JSON API and the pages ---


def text_of(page: str) -> str:
    import html

    return html.unescape(page)


def panel(page: str) -> str:
    found = re.search(r'<section class="parcours-next".*?</section>', page, re.DOTALL)
    assert found, "no « Et maintenant ? » panel"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0)))


async def at_orientation(api: ApiClients, staff: Staff) -> str:
    beneficiary_id = await enrol(api.referent, referent_id=staff.referent_id)
    await act(api.referent, beneficiary_id, "begin-diagnosis")
    await act(api.referent, beneficiary_id, "complete-diagnosis")
    return beneficiary_id


async def test_at_orientation_the_referente_reads_who_decides_and_asks_for_the_decision(
    api: ApiClients, browsers: Browsers, staff: Staff
) -> None:
    beneficiary_id = await at_orientation(api, staff)
    referent = await browsers("referent")

    before = text_of((await referent.get(f"/beneficiaires/{beneficiary_id}/situation")).text)

    said = panel(before)
    assert "Et maintenant ?" in said
    assert "du département 73" in said and "décide" in said and "de l'orientation" in said
    assert f'action="/parcours/{beneficiary_id}/actions/{ASK}"' in before

    asked = await referent.post(
        f"/parcours/{beneficiary_id}/actions/{ASK}",
        data={"_retour": "situation", "_action_id": "ask-decision-0001"},
    )

    assert asked.status_code == 303, asked.text
    assert asked.headers["location"] == (
        f"/beneficiaires/{beneficiary_id}/situation?fait={ASK}#resultat"
    )
    after = text_of((await referent.get(asked.headers["location"])).text)
    assert 'id="resultat"' in after and "Demande envoyée" in after
    said = panel(after)
    assert "Demande de décision d'orientation envoyée le" in said
    assert "par Referent 1" in said
    assert f'action="/parcours/{beneficiary_id}/actions/{ASK}"' not in after
    # In the journey's events (the read model, through the API), with who asked.
    detail = await read(api.referent, beneficiary_id)
    request = [e for e in detail["timeline"] if e["kind"] == "decision_requested"]
    assert len(request) == 1
    assert request[0]["actor"]["id"] == staff.referent_id
    assert request[0]["label"] == "Décision d'orientation demandée par Referent 1"
    assert request[0]["detail"] == {}
    assert detail["journey"]["step"] == "orientation"  # a request, not a step
    assert "Décision d'orientation demandée par Referent 1" in text_of(
        (await referent.get(f"/parcours/{beneficiary_id}")).text
    )


async def test_the_api_asks_once_a_week_and_refuses_what_cannot_be_asked(
    api: ApiClients, staff: Staff
) -> None:
    path = "/api/v1/journeys/{}/actions/ask-orientation-decision"
    at_intake = await enrol(api.referent, referent_id=staff.referent_id)

    early = await api.referent.post(path.format(at_intake))
    assert early.status_code == 409
    assert "étape « Orientation »" in early.json()["detail"]

    beneficiary_id = await at_orientation(api, staff)
    deciding = await api.orientation.post(path.format(beneficiary_id))
    assert deciding.status_code == 403

    asked = await api.referent.post(path.format(beneficiary_id))
    assert asked.status_code == 200, asked.text
    detail = asked.json()
    assert kinds(detail)[-1] == "decision_requested"
    assert detail["next_steps"]["request"].startswith(
        "Demande de décision d'orientation envoyée le"
    )
    assert "ask_orientation_decision" not in [m["action"] for m in detail["next_steps"]["yours"]]

    again = await api.referent.post(path.format(beneficiary_id))
    assert again.status_code == 409
    assert "déjà demandée" in again.json()["detail"]
    assert kinds(await read(api.referent, beneficiary_id)).count("decision_requested") == 1


async def test_the_orientation_agent_at_the_same_step_sees_the_decision_that_is_hers(
    api: ApiClients, browsers: Browsers, staff: Staff
) -> None:
    beneficiary_id = await at_orientation(api, staff)
    await api.referent.post(f"/api/v1/journeys/{beneficiary_id}/actions/ask-orientation-decision")
    orientation = await browsers("orientation")

    page = text_of((await orientation.get(f"/parcours/{beneficiary_id}")).text)

    said = panel(page)
    assert "Décider l'orientation" in said
    assert "La personne entre en accompagnement" in said
    assert "Elle attend votre décision." in said
    assert "Demander une décision d'orientation" not in said
    assert f'action="/parcours/{beneficiary_id}/actions/{ASK}"' not in page
    detail = await read(api.orientation, beneficiary_id)
    assert detail["next_steps"]["yours"][0]["action"] == "decide_orientation"


async def test_paused_and_closed_journeys_say_what_comes_next(
    api: ApiClients, browsers: Browsers, staff: Staff
) -> None:
    beneficiary_id = await at_orientation(api, staff)
    await act(api.referent, beneficiary_id, "pause")
    referent, orientation = await browsers("referent"), await browsers("orientation")

    paused = panel(text_of((await referent.get(f"/parcours/{beneficiary_id}")).text))
    assert "Le parcours est en pause à l'étape « Orientation »" in paused
    assert "Reprendre le parcours" in paused
    assert "Demander une décision d'orientation" not in paused
    seen_by_orientation = panel(
        text_of((await orientation.get(f"/parcours/{beneficiary_id}")).text)
    )
    assert "peut le reprendre" in seen_by_orientation

    await act(api.referent, beneficiary_id, "resume")
    await act(api.referent, beneficiary_id, "close", exit_reason="declined")
    await read_until(api.referent, beneficiary_id, lambda d: d["journey"]["step"] == "closed")

    closed = panel(text_of((await referent.get(f"/beneficiaires/{beneficiary_id}/situation")).text))
    assert "Le parcours est clôturé (Refus de l'accompagnement)" in closed
    assert "un nouveau parcours commence" in closed


def test_requests_waiting_on_a_partner_say_who_answers_and_by_when() -> None:
    around = Around(
        referent="Nadia Benali",
        awaited=(
            Awaited(kind="training", who="region", what="Cariste", due=NOW + timedelta(days=9)),
            Awaited(kind="training_more_info", who="france_travail", what="Soudure"),
            Awaited(
                kind="service",
                who="Garage solidaire",
                what="Location de voiture",
                due=NOW + timedelta(days=20),
            ),
        ),
    )

    found = next_steps(journey(Step.ACCOMPANIMENT), READERS[Role.REFERENT], around, NOW)

    assert found.others == [
        "La Région instruit la demande de formation « Cariste », réponse attendue avant le "
        "14/12/2026.",
        "France Travail attend des informations sur la demande de formation « Soudure » : le "
        "ou la référente les envoie depuis l'onglet « Contrat et plan d'action ».",
        "La structure « Garage solidaire » doit répondre à l'orientation vers « Location de "
        "voiture » avant le 25/12/2026.",
    ]
