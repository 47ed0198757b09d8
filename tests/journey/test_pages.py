"""The French pages through HTTP (HTML, no browser): what a référent reads and submits.

Each page is opened by someone signed in through the sign-in page, whose browser keeps its
session cookie and posts every form with the page's CSRF token (``tests.support.clients.Browser``);
sign-in itself is tested in ``tests/access/test_sign_in.py``."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from parcours.core.schemas import person_choice, person_name
from parcours.core.settings import Settings
from tests.support.accounts import Staff
from tests.support.api import (
    ENGINE_DOWN,
    act,
    app_without_temporal,
    count_people,
    enrol,
    served,
)
from tests.support.clients import ApiClients, Browsers, signed_in
from tests.support.people import person_payload
from tests.support.resources import add_service
from tests.support.training_requests import add_training

STEP_LABELS = ["Accueil", "Diagnostic", "Orientation", "Accompagnement", "Emploi"]


def text(response: httpx.Response) -> str:
    """The page as read: HTML entities decoded (apostrophes, guillemets)."""
    assert response.headers["content-type"].startswith("text/html")
    return html.unescape(response.text)


def form_of(**overrides: object) -> dict[str, str]:
    """An enrolment form as a browser posts it: strings only, empty when left blank."""
    return {
        key: "" if value is None else str(value)
        for key, value in person_payload(**overrides).items()
    }


def step_counts(page: str) -> dict[str, int]:
    return {
        label: int(count)
        for label, count in re.findall(r'class="fr-tag"[^>]*>([^<:]+) : (\d+)</a>', page)
    }


def current_step(page: str) -> str:
    found = re.search(r'<span id="journey-step">([^<]+)</span>', page)
    assert found, "no step shown"
    return found.group(1)


def timeline(page: str) -> list[str]:
    found = re.search(r'<ol class="parcours-timeline" id="timeline">(.*?)</ol>', page, re.DOTALL)
    assert found, "no timeline shown"
    return re.findall(r'<p class="fr-text--bold fr-mb-0">([^<]+)</p>', found.group(1))


def offered(page: str, beneficiary_id: str) -> list[str]:
    return re.findall(rf'action="/parcours/{beneficiary_id}/actions/(\w+)"', page)


@pytest.fixture(scope="module")
async def temporal_down(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_without_temporal(settings) as http:
        yield http


async def test_list_shows_people_and_counts_per_step(api: ApiClients, browsers: Browsers) -> None:
    http = await browsers("referent")
    before = step_counts(text(await http.get("/parcours")))
    tag = uuid.uuid4().hex[:8]
    anne = await enrol(api.referent, first_name=f"Anne{tag}", last_name=f"Page{tag}")
    bruno = await enrol(api.referent, first_name=f"Bruno{tag}", last_name=f"Page{tag}")
    await act(api.referent, bruno, "begin-diagnosis")

    everyone = text(await http.get("/parcours"))
    after = step_counts(everyone)
    assert list(after) == [*STEP_LABELS, "Suivi dans l'emploi", "Clôturé"]
    assert after["Accueil"] == before.get("Accueil", 0) + 1
    assert after["Diagnostic"] == before.get("Diagnostic", 0) + 1

    found = text(await http.get("/parcours", params={"q": f"page{tag}"}))
    assert "2 parcours" in found
    assert f'<a href="/beneficiaires/{anne}">Anne{tag} Page{tag}</a>' in found
    assert f'<a href="/beneficiaires/{bruno}">Bruno{tag} Page{tag}</a>' in found
    assert 'value="page' + tag + '"' in found  # the search stays in its field

    in_diagnosis = text(
        await http.get("/parcours", params={"q": f"page{tag}", "step": "diagnosis"})
    )
    assert f"Bruno{tag}" in in_diagnosis and f"Anne{tag}" not in in_diagnosis

    nobody = text(await http.get("/parcours", params={"q": f"personne{tag}"}))
    assert "Aucun parcours ne correspond à ces critères." in nobody


async def test_enrolment_form_creates_the_person_and_opens_their_page(
    api: ApiClients, browsers: Browsers, staff: Staff
) -> None:
    http = await browsers("referent")
    blank = await http.get("/parcours/nouveau")
    assert blank.status_code == 200
    assert "Inscrire une personne" in text(blank)
    form = form_of(referent_id=staff.referent_id, email=None)

    response = await http.post("/parcours/nouveau", data=form)

    assert response.status_code == 303, response.text
    location = response.headers["location"]
    opened = re.fullmatch(r"/parcours/([0-9a-f-]{36})\?fait=inscription#resultat", location)
    assert opened, location
    page = text(await http.get(location))
    assert re.search(rf"<h1[^>]*>{form['first_name']} {form['last_name']}</h1>", page)
    assert "Enregistré." in page
    assert current_step(page) == "Accueil"
    assert "Référent : Referent 1" in page
    assert "begin_diagnosis" in offered(page, opened.group(1))
    # What was typed is what the JSON API now holds; the blank field is simply absent.
    person = (await api.referent.get(f"/api/v1/journeys/{opened.group(1)}")).json()["beneficiary"]
    assert (person["nir"], person["city"], person["email"]) == (form["nir"], "Chambéry", None)


async def test_enrolment_form_error_is_explained_and_keeps_what_was_typed(
    browsers: Browsers, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    http = await browsers("referent")
    form = form_of(
        last_name="", nir="12345", birth_date="1988-02-30", referent_id=staff.referent_id
    )

    response = await http.post("/parcours/nouveau", data=form)

    assert response.status_code == 422
    page = text(response)
    assert "Nom : ce champ est obligatoire." in page
    assert "Numéro de sécurité sociale : numéro de sécurité sociale invalide." in page
    assert "Date de naissance : date invalide" in page
    assert f'name="first_name" value="{form["first_name"]}"' in page
    assert 'name="nir" value="12345"' in page
    assert 'name="birth_date" value="1988-02-30"' in page
    assert f'<option value="{staff.referent_id}" selected>' in page
    assert await count_people(sessions, form["first_name"]) == 0


async def test_enrolment_form_with_an_unknown_referent_writes_nothing(
    browsers: Browsers, sessions: async_sessionmaker[AsyncSession]
) -> None:
    http = await browsers("referent")
    form = form_of(referent_id=str(uuid.uuid4()))

    response = await http.post("/parcours/nouveau", data=form)

    assert response.status_code == 422
    page = text(response)
    assert "Référent inconnu." in page
    assert f'name="last_name" value="{form["last_name"]}"' in page
    assert await count_people(sessions, form["first_name"]) == 0


async def test_enrolment_form_when_temporal_does_not_answer_keeps_nothing(
    temporal_down: httpx.AsyncClient, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    form = form_of()

    # Signing in needs only the database.
    async with signed_in(str(temporal_down.base_url), staff["referent"].email) as browser:
        response = await browser.post("/parcours/nouveau", data=form)

    assert response.status_code == 503
    page = text(response)
    assert ENGINE_DOWN in page
    assert f'name="last_name" value="{form["last_name"]}"' in page
    assert await count_people(sessions, form["first_name"]) == 0


async def test_action_form_moves_the_journey_and_shows_it(
    api: ApiClients, browsers: Browsers, staff: Staff
) -> None:
    http = await browsers("referent")
    beneficiary_id = await enrol(api.referent, referent_id=staff.referent_id)
    actions = f"/parcours/{beneficiary_id}/actions"

    response = await http.post(
        f"{actions}/begin_diagnosis", data={"referent_id": staff.other_referent_id}
    )

    assert response.status_code == 303, response.text
    assert response.headers["location"] == (
        f"/parcours/{beneficiary_id}?fait=begin_diagnosis#resultat"
    )
    page = text(await http.get(response.headers["location"]))
    assert "Enregistré." in page
    assert current_step(page) == "Diagnostic"
    assert "Référent : Referent 2" in page
    assert timeline(page) == ["Diagnostic commencé", "Entrée dans le parcours"]  # newest first
    assert "complete_diagnosis" in offered(page, beneficiary_id)
    assert "begin_diagnosis" not in offered(page, beneficiary_id)

    await http.post(f"{actions}/complete_diagnosis", data={})
    # The chargée d'orientation decides, from her own browser.
    orientation = await browsers("orientation")
    assert "decide_orientation" in offered(
        text(await orientation.get(f"/parcours/{beneficiary_id}")), beneficiary_id
    )
    assert "decide_orientation" not in offered(
        text(await http.get(f"/parcours/{beneficiary_id}")), beneficiary_id
    )
    oriented = await orientation.post(
        f"{actions}/decide_orientation",
        data={"kind": "socio_professional", "structure_id": staff.structure_id, "referent_id": ""},
    )
    assert oriented.status_code == 303, oriented.text
    page = text(await http.get(f"/parcours/{beneficiary_id}"))
    assert current_step(page) == "Accompagnement"
    assert "Orientation : Socio-professionnelle" in page
    assert timeline(page)[:2] == ["Orientation décidée", "Diagnostic validé"]


async def test_refused_action_shows_the_reason_and_keeps_the_form(
    api: ApiClients, browsers: Browsers, staff: Staff
) -> None:
    http, orientation = await browsers("referent"), await browsers("orientation")
    beneficiary_id = await enrol(api.referent, referent_id=staff.referent_id)
    actions = f"/parcours/{beneficiary_id}/actions"

    same_territory = await orientation.post(f"{actions}/hand_off", data={"territory": "73"})

    assert same_territory.status_code == 409
    page = text(same_territory)
    assert "L'action n'a pas été enregistrée" in page
    assert "Le parcours est déjà rattaché à ce département." in page
    assert 'name="territory" value="73"' in page
    assert current_step(page) == "Accueil"

    same_referent = await orientation.post(
        f"{actions}/reassign_referent", data={"referent_id": staff.referent_id}
    )
    assert same_referent.status_code == 409
    page = text(same_referent)
    assert "Cette personne suit déjà ce parcours." in page
    assert page.count(f'<option value="{staff.referent_id}" selected>') == 1

    badly_typed = await orientation.post(f"{actions}/hand_off", data={"territory": "7"})
    assert badly_typed.status_code == 422
    page = text(badly_typed)
    assert "Département : format invalide." in page
    assert 'name="territory" value="7"' in page

    too_early = await http.post(f"{actions}/complete_diagnosis", data={})
    assert too_early.status_code == 409
    assert "Action possible seulement à l'étape « Diagnostic »" in text(too_early)

    page = text(await http.get(f"/parcours/{beneficiary_id}"))
    assert timeline(page) == ["Entrée dans le parcours"]


async def test_unknown_journey_gives_a_french_not_found_page(browsers: Browsers) -> None:
    http = await browsers("referent")
    unknown = uuid.uuid4()

    for response in (
        await http.get(f"/parcours/{unknown}"),
        await http.post(f"/parcours/{unknown}/actions/begin_diagnosis", data={}),
    ):
        assert response.status_code == 404
        page = text(response)
        assert '<html lang="fr"' in page
        assert "Personne introuvable." in page
        assert 'href="/parcours"' in page


async def test_errors_are_french_pages_and_the_api_keeps_json(
    browsers: Browsers, settings: Settings, dev_env: WorkflowEnvironment
) -> None:
    http = await browsers("referent")
    unknown = await http.get("/nimporte-quoi")
    assert unknown.status_code == 404
    page = text(unknown)
    assert "<h1>Page non trouvée</h1>" in page and "Erreur 404" in page
    assert 'id="signed-in-as">Referent 1</span>' in page  # still signed in, says the header
    wrong_method = await http.post("/gestion/resume", data={})
    assert wrong_method.status_code == 405
    assert "Cette adresse ne s'utilise pas ainsi." in text(wrong_method)
    bad_parameter = await http.get("/ressources", params={"page": "0"})
    assert bad_parameter.status_code == 400
    assert "L'adresse de la page contient une valeur qui n'est pas valide." in text(bad_parameter)

    api = await http.get("/api/v1/nimporte-quoi")
    assert (api.status_code, api.json()) == (
        404,
        {"detail": "Cette adresse n'existe pas dans l'API."},
    )
    assert (await http.get("/api/v1/resources/services", params={"page": "0"})).status_code == 422

    # Something unexpected: a French page, JSON for the API; nothing of the error shown.
    app = create_app(settings, temporal=dev_env.client)

    async def broken() -> None:
        raise RuntimeError("secret detail")

    app.add_api_route("/en-panne", broken)
    app.add_api_route("/api/v1/en-panne", broken)
    async with served(app) as client:
        failed = await client.get("/en-panne")
        assert failed.status_code == 500
        assert "<h1>Erreur inattendue</h1>" in text(failed)
        assert "secret detail" not in failed.text
        api_failed = await client.get("/api/v1/en-panne")
        assert api_failed.status_code == 500
        assert api_failed.json() == {"detail": "Erreur inattendue : rien n'a été enregistré."}


def test_a_name_is_written_one_way() -> None:
    assert person_name(" Rayan ", "Blanc") == "Rayan Blanc"
    assert person_choice("Rayan", "Blanc", date(1988, 2, 3)) == "Rayan Blanc, né·e le 03/02/1988"


async def test_namesakes_are_told_apart_and_written_alike_on_every_list(
    api: ApiClients, browsers: Browsers, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Two people called Rayan Blanc: the référent's list, the orientation's choice of a
    service and the training request's choice all write « Rayan Blanc », each with the birth
    date that tells them apart (their step does not)."""
    tag = uuid.uuid4().hex[:6]
    last_name = f"Blanc{tag}"
    people = {}
    for born in ("1988-02-03", "1991-09-23"):
        bid = await enrol(
            api.referent,
            first_name="Rayan",
            last_name=last_name,
            birth_date=born,
            nir=None,
            referent_id=staff.referent_id,
            structure_id=staff.structure_id,
        )
        for action in ("begin-diagnosis", "complete-diagnosis"):
            await act(api.referent, bid, action)
        people[bid] = date.fromisoformat(born).strftime("%d/%m/%Y")
    http = await browsers("referent")

    listed = text(await http.get("/parcours", params={"q": last_name}))
    for bid, born in people.items():
        assert re.search(
            rf'<a href="/beneficiaires/{bid}">Rayan {last_name}</a><br>'
            rf'<span class="fr-text--xs">né·e le {born}</span>',
            listed,
        ), listed

    service_id = (await add_service(sessions)).service_id
    training_id = await add_training(sessions, "region")
    for page in (f"/ressources/services/{service_id}", f"/ressources/formations/{training_id}"):
        shown = text(await http.get(page))
        for bid, born in people.items():
            assert re.search(
                rf'<option value="{bid}"\s*>Rayan {last_name}, né·e le {born}</option>', shown
            ), page


@pytest.mark.law
async def test_the_journey_page_shows_the_legal_orientation_due_date(
    api: ApiClients, browsers: Browsers, staff: Staff
) -> None:
    opened = date.today().replace(day=1)
    beneficiary_id = await enrol(
        api.referent, referent_id=staff.referent_id, rsa_opened_on=opened.isoformat()
    )
    manager = await browsers("manager")
    page = re.sub(r"<[^>]+>", "", text(await manager.get(f"/parcours/{beneficiary_id}")))
    due = date.fromordinal(opened.toordinal() + 42)
    assert "Délai légal d'orientation" in page
    assert f"Orientation à décider au plus tard le {due:%d/%m/%Y}" in page
    assert "France Travail oriente" in page
