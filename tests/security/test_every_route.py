"""Every route of the app is tried by someone who has no business there — issue 16, item 10.

The routes are read from the app itself. Each is either in ``PUBLIC`` (anyone may reach it:
signing in, a password reset, an invitation, health and documentation, partners' callbacks
with their own signature) or in ``COVERED``, which says what it is about:

- ``HERS``: its path names one of a person's objects (her journey, carnet, document, plan
  action, appointment, training request), filled in with those of a person followed by
  another structure. Nobody but her agents may reach it: a référent of another structure, a
  manager of another département, a funder and another person are refused (403 or 404; a
  read may also send them to their own home page), never shown anything of hers, and her
  carnet is unchanged. Writes carry a body their schema accepts (built from the OpenAPI
  document), so the refusal comes from the rights, not from a missing field;
- ``OPEN``: anything else a signed-in user may try (lists, searches, their own space, the
  admin's and managers' screens): whatever the answer, never her name, never a 500.

Without a session, every covered route asks to sign in (401 for the API, the sign-in page for
the pages). A route in neither table fails the test: a new route is tried before it ships.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from parcours.core.settings import Settings
from tests.support.accounts import NewAccount, Staff
from tests.support.api import enrol
from tests.support.carnet import PDF, upload, write
from tests.support.clients import ApiClients, Browser, api_clients, signed_in
from tests.support.partners import PartnerStack
from tests.support.routes import SAFE, every_route, example_body
from tests.support.training_requests import add_training, follow

pytestmark = pytest.mark.security

HERS = "hers"
OPEN = "open"

# Anyone may reach these; they check what they need themselves (a signed callback, a
# one-time link, the sign-in form's own token). ``/deconnexion``: tests/security/test_every_form.py.
PUBLIC = {
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
    ("GET", "/favicon.ico"),
    ("GET", "/connexion"),
    ("POST", "/connexion"),
    ("POST", "/deconnexion"),
    ("GET", "/mot-de-passe-oublie"),
    ("POST", "/mot-de-passe-oublie"),
    ("GET", "/activation/{token}"),
    ("POST", "/activation/{token}"),
    ("GET", "/connexion/proconnect"),
    ("GET", "/connexion/proconnect/retour"),
    ("GET", "/deconnexion/proconnect/retour"),
    ("POST", "/api/v1/partners/callbacks"),
    ("POST", "/api/v1/partners/{partner}/callbacks"),
    # The SMS provider's webhook, with its shared secret (tests/sms/test_sms.py).
    ("POST", "/api/v1/sms/delivery-reports"),
    # The person's booking link: no account, the link's token is the key (its pages' forms
    # carry their own token, as signing in does).
    ("GET", "/rdv/{token}"),
    ("GET", "/rdv/{token}/rendez-vous.ics"),
    ("POST", "/rdv/{token}"),
    ("POST", "/rdv/{token}/deplacer"),
    ("POST", "/rdv/{token}/annuler"),
    ("GET", "/api/v1/rdv/{token}"),
    ("POST", "/api/v1/rdv/{token}/booking"),
    ("POST", "/api/v1/rdv/{token}/move"),
    ("POST", "/api/v1/rdv/{token}/cancellation"),
}

COVERED = {
    ("GET", "/"): OPEN,
    ("GET", "/api/v1/admin/structures"): OPEN,
    ("POST", "/api/v1/admin/structures"): OPEN,
    ("POST", "/api/v1/admin/structures/import"): OPEN,
    ("PATCH", "/api/v1/admin/structures/{structure_id}"): OPEN,
    ("POST", "/api/v1/admin/structures/{structure_id}/deactivation"): OPEN,
    ("GET", "/api/v1/admin/agents"): OPEN,
    ("POST", "/api/v1/admin/agents"): OPEN,
    ("PATCH", "/api/v1/admin/agents/{user_id}"): OPEN,
    ("POST", "/api/v1/admin/agents/{user_id}/invitation"): OPEN,
    ("POST", "/api/v1/admin/agents/{user_id}/deactivation"): OPEN,
    ("GET", "/api/v1/admin/access-log"): OPEN,
    ("GET", "/api/v1/admin/access-log/export.csv"): OPEN,
    ("POST", "/api/v1/admin/agents/{user_id}/reactivation"): OPEN,
    ("GET", "/api/v1/admin/tokens"): OPEN,
    ("POST", "/api/v1/admin/tokens"): OPEN,
    ("POST", "/api/v1/admin/tokens/{token_id}/revocation"): OPEN,
    ("POST", "/api/v1/beneficiaries"): OPEN,
    ("GET", "/api/v1/journeys"): OPEN,
    ("GET", "/api/v1/journeys/{beneficiary_id}"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/rsa-rights"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/ask-orientation-decision"): HERS,
    ("GET", "/api/v1/journeys/{beneficiary_id}/reorientations"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/reorientations"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/reorientations/{request_id}/decision"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/social-review"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/begin-diagnosis"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/complete-diagnosis"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/decide-orientation"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/sign-contract"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/record-employment"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/set-follow-up-consent"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/record-check-in"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/report-job-loss"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/pause"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/resume"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/reassign-referent"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/hand-off"): HERS,
    ("POST", "/api/v1/journeys/{beneficiary_id}/actions/close"): HERS,
    ("GET", "/api/v1/beneficiaries/{beneficiary_id}/carnet"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/facts"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/diagnosis"): HERS,
    ("PUT", "/api/v1/beneficiaries/{beneficiary_id}/project"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/contract"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/plan-actions"): HERS,
    ("PATCH", "/api/v1/beneficiaries/{beneficiary_id}/plan-actions/{action_id}"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/notes"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/appointments"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/sanctions"): HERS,
    ("GET", "/api/v1/beneficiaries/{beneficiary_id}/sanctions"): HERS,
    ("GET", "/api/v1/beneficiaries/{beneficiary_id}/sanctions/{case_id}"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/sanctions/{case_id}/receipt"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/sanctions/{case_id}/observations"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/sanctions/{case_id}/hearing-request"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/sanctions/{case_id}/hearing"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/sanctions/{case_id}/team-opinion"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/sanctions/{case_id}/decision"): HERS,
    ("PATCH", "/api/v1/beneficiaries/{beneficiary_id}/appointments/{appointment_id}"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/documents"): HERS,
    ("GET", "/api/v1/beneficiaries/{beneficiary_id}/documents/{document_id}"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/consents"): HERS,
    ("PUT", "/api/v1/beneficiaries/{beneficiary_id}/contact"): HERS,
    ("GET", "/api/v1/beneficiaries/{beneficiary_id}/access-log"): HERS,
    ("GET", "/api/v1/me/carnet"): OPEN,
    ("PUT", "/api/v1/me/contact"): OPEN,
    ("PUT", "/api/v1/me/consents"): OPEN,
    ("PUT", "/api/v1/me/follow-up"): OPEN,
    ("GET", "/api/v1/me/export"): OPEN,
    ("POST", "/api/v1/me/erasure"): OPEN,
    ("GET", "/api/v1/resources/services"): OPEN,
    ("GET", "/api/v1/resources/services/{service_id}"): OPEN,
    ("GET", "/api/v1/resources/trainings"): OPEN,
    ("GET", "/api/v1/resources/trainings/{training_id}"): OPEN,
    ("POST", "/api/v1/resources/trainings"): OPEN,
    ("PUT", "/api/v1/resources/trainings/{training_id}"): OPEN,
    ("POST", "/api/v1/resources/imports"): OPEN,
    ("POST", "/api/v1/caf-imports"): OPEN,
    ("GET", "/api/v1/caf-imports/{import_id}"): OPEN,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/lookups/caf"): HERS,
    ("POST", "/api/v1/beneficiaries/{beneficiary_id}/lookups/france-travail"): HERS,
    ("GET", "/api/v1/management/stalled"): OPEN,
    ("POST", "/api/v1/management/reassignments"): OPEN,
    ("POST", "/api/v1/management/reminders"): OPEN,
    ("POST", "/api/v1/management/escalations"): OPEN,
    ("POST", "/api/v1/management/journeys/{beneficiary_id}/notes"): HERS,
    ("GET", "/api/v1/management/journeys/{beneficiary_id}/interventions"): HERS,
    ("GET", "/api/v1/management/journeys/{beneficiary_id}/incidents"): HERS,
    ("POST", "/api/v1/management/incidents/{incident_id}/retry"): OPEN,
    ("GET", "/api/v1/management/digests"): OPEN,
    ("GET", "/api/v1/management/addressed-to-me"): OPEN,
    ("POST", "/api/v1/training-requests"): OPEN,
    ("GET", "/api/v1/training-requests"): OPEN,
    ("GET", "/api/v1/beneficiaries/{beneficiary_id}/training-requests"): HERS,
    ("GET", "/api/v1/training-requests/{request_id}"): HERS,
    ("POST", "/api/v1/training-requests/{request_id}/answer"): HERS,
    ("POST", "/api/v1/training-requests/{request_id}/end"): HERS,
    ("GET", "/api/v1/funder/training-requests"): OPEN,
    ("GET", "/api/v1/funder/training-requests/{request_id}"): HERS,
    ("POST", "/api/v1/funder/training-requests/{request_id}/more-info"): HERS,
    ("POST", "/api/v1/funder/training-requests/{request_id}/approval"): HERS,
    ("POST", "/api/v1/funder/training-requests/{request_id}/refusal"): HERS,
    ("POST", "/api/v1/service-orientations"): OPEN,
    ("GET", "/api/v1/beneficiaries/{beneficiary_id}/service-orientations"): HERS,
    ("GET", "/api/v1/beneficiaries/{beneficiary_id}/weekly-hours"): HERS,
    ("GET", "/api/v1/indicators"): OPEN,
    ("GET", "/api/v1/indicators/export.csv"): OPEN,
    ("GET", "/api/v1/indicators/exits.csv"): OPEN,
    ("GET", "/api/v1/indicators/orientations.csv"): OPEN,
    ("GET", "/api/v1/exit-codes"): OPEN,
    ("GET", "/api/v1/journeys/{beneficiary_id}/story"): HERS,
    ("GET", "/api/v1/inbox"): OPEN,
    ("POST", "/api/v1/inbox/{item_id}/done"): OPEN,
    ("GET", "/api/v1/inbox/preferences"): OPEN,
    ("PUT", "/api/v1/inbox/preferences"): OPEN,
    ("GET", "/admin"): OPEN,
    ("GET", "/admin/structures"): OPEN,
    ("POST", "/admin/structures"): OPEN,
    ("POST", "/admin/structures/import"): OPEN,
    ("POST", "/admin/structures/{structure_id}"): OPEN,
    ("POST", "/admin/structures/{structure_id}/desactivation"): OPEN,
    ("GET", "/admin/motifs-de-sortie"): OPEN,
    ("POST", "/admin/motifs-de-sortie"): OPEN,
    ("POST", "/admin/motifs-de-sortie/{code}"): OPEN,
    ("GET", "/admin/agents"): OPEN,
    ("POST", "/admin/agents"): OPEN,
    ("POST", "/admin/agents/{user_id}"): OPEN,
    ("POST", "/admin/agents/{user_id}/invitation"): OPEN,
    ("POST", "/admin/agents/{user_id}/desactivation"): OPEN,
    ("GET", "/admin/journal-des-acces"): OPEN,
    ("GET", "/admin/journal-des-acces/export.csv"): OPEN,
    ("POST", "/admin/agents/{user_id}/reactivation"): OPEN,
    ("GET", "/admin/jetons"): OPEN,
    ("POST", "/admin/jetons"): OPEN,
    ("POST", "/admin/jetons/{token_id}/revocation"): OPEN,
    ("GET", "/parcours"): OPEN,
    ("GET", "/parcours/nouveau"): OPEN,
    ("POST", "/parcours/nouveau"): OPEN,
    ("GET", "/beneficiaires/{beneficiary_id}/consentements"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/consentements"): HERS,
    ("GET", "/beneficiaires/{beneficiary_id}"): HERS,
    ("GET", "/beneficiaires/{beneficiary_id}/{tab}"): HERS,
    ("GET", "/parcours/{beneficiary_id}"): HERS,
    ("GET", "/beneficiaires/{beneficiary_id}/documents/{document_id}"): HERS,
    ("POST", "/parcours/{beneficiary_id}/actions/{name}"): HERS,
    ("POST", "/parcours/{beneficiary_id}/reorientation"): HERS,
    ("POST", "/parcours/{beneficiary_id}/reorientation/{request_id}/decision"): HERS,
    ("POST", "/parcours/{beneficiary_id}/revue-sociale"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/situation/faits"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/situation/coordonnees"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/situation/acces"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/diagnostic"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/contrat/projet"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/contrat"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/contrat/actions"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/contrat/actions/{action_id}"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/notes"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/rendez-vous"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/rendez-vous/{appointment_id}"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/documents"): HERS,
    ("GET", "/mon-espace"): OPEN,
    ("POST", "/mon-espace/coordonnees"): OPEN,
    ("POST", "/mon-espace/partage"): OPEN,
    ("POST", "/mon-espace/suivi"): OPEN,
    ("POST", "/mon-espace/reorientation"): OPEN,
    ("POST", "/mon-espace/sanctions/{case_id}/reception"): OPEN,
    ("POST", "/mon-espace/sanctions/{case_id}/observations"): OPEN,
    ("POST", "/mon-espace/sanctions/{case_id}/audition"): OPEN,
    ("GET", "/mon-espace/export.json"): OPEN,
    ("GET", "/mon-espace/documents/{document_id}"): HERS,
    ("GET", "/mon-espace/effacement"): OPEN,
    ("POST", "/mon-espace/effacement"): OPEN,
    ("GET", "/admin/effacements"): OPEN,
    ("GET", "/admin/effacements/{request_id}"): OPEN,
    ("POST", "/admin/effacements/{request_id}"): OPEN,
    ("GET", "/ressources"): OPEN,
    ("GET", "/ressources/services/{service_id}"): OPEN,
    ("POST", "/ressources/services/{service_id}/orienter"): OPEN,
    ("GET", "/ressources/formations"): OPEN,
    ("GET", "/ressources/formations/nouvelle"): OPEN,
    ("GET", "/ressources/formations/{training_id}"): OPEN,
    ("POST", "/ressources/formations/nouvelle"): OPEN,
    ("GET", "/ressources/formations/{training_id}/modifier"): OPEN,
    ("POST", "/ressources/formations/{training_id}/modifier"): OPEN,
    ("GET", "/ressources/import"): OPEN,
    ("POST", "/ressources/import"): OPEN,
    ("GET", "/gestion"): OPEN,
    ("GET", "/gestion/bloques"): OPEN,
    ("POST", "/gestion/bloques"): OPEN,
    ("GET", "/gestion/parcours/{beneficiary_id}"): HERS,
    ("POST", "/gestion/parcours/{beneficiary_id}/{what}"): HERS,
    ("POST", "/gestion/incidents/{incident_id}/relancer"): OPEN,
    ("GET", "/gestion/resume"): OPEN,
    ("GET", "/financeurs/demandes"): OPEN,
    ("GET", "/financeurs/demandes/{request_id}"): HERS,
    ("POST", "/financeurs/demandes/{request_id}/informations"): HERS,
    ("POST", "/financeurs/demandes/{request_id}/accord"): HERS,
    ("POST", "/financeurs/demandes/{request_id}/refus"): HERS,
    ("POST", "/ressources/formations/{training_id}/demandes"): OPEN,
    ("POST", "/beneficiaires/{beneficiary_id}/formations/{request_id}/reponse"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/formations/{request_id}/fin"): HERS,
    ("GET", "/gestion/indicateurs"): OPEN,
    ("GET", "/gestion/indicateurs/export.csv"): OPEN,
    ("GET", "/gestion/indicateurs/sorties.csv"): OPEN,
    ("GET", "/gestion/indicateurs/comites-pour-l-emploi.csv"): OPEN,
    ("GET", "/gestion/parcours/{beneficiary_id}/histoire"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/situation/partenaires/{partner}"): HERS,
    ("GET", "/imports-caf"): OPEN,
    ("POST", "/imports-caf"): OPEN,
    ("GET", "/imports-caf/{file_id}"): OPEN,
    ("POST", "/imports-caf/{file_id}/relance"): OPEN,
    ("GET", "/a-traiter"): OPEN,
    ("POST", "/a-traiter/{item_id}/traite"): OPEN,
    ("GET", "/mon-compte/notifications"): OPEN,
    ("POST", "/mon-compte/notifications"): OPEN,
    ("GET", "/api/v1/appointments/places"): OPEN,
    ("POST", "/api/v1/appointments/places"): OPEN,
    ("GET", "/api/v1/appointments/slots"): OPEN,
    ("POST", "/api/v1/appointments/slots"): OPEN,
    ("DELETE", "/api/v1/appointments/slots/{slot_id}"): OPEN,
    ("GET", "/api/v1/appointments/settings"): OPEN,
    ("PUT", "/api/v1/appointments/settings"): OPEN,
    ("GET", "/api/v1/appointments/free"): OPEN,
    ("POST", "/api/v1/appointments/invitations"): OPEN,
    ("POST", "/api/v1/appointments/convocations"): OPEN,
    ("POST", "/api/v1/appointments/{appointment_id}/attendance"): HERS,
    ("GET", "/api/v1/appointments/agenda"): OPEN,
    ("GET", "/api/v1/beneficiaries/{beneficiary_id}/appointments"): HERS,
    ("GET", "/rendez-vous/agenda"): OPEN,
    ("POST", "/rendez-vous/{appointment_id}/presence"): HERS,
    ("GET", "/rendez-vous/lieux-et-creneaux"): OPEN,
    ("POST", "/rendez-vous/lieux"): OPEN,
    ("POST", "/rendez-vous/creneaux"): OPEN,
    ("POST", "/rendez-vous/creneaux/{slot_id}/retrait"): OPEN,
    ("POST", "/rendez-vous/reglages"): OPEN,
    ("POST", "/beneficiaires/{beneficiary_id}/invitations"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/sanctions"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/sanctions/{case_id}/reception"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/sanctions/{case_id}/audition"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/sanctions/{case_id}/equipe"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/sanctions/{case_id}/decision"): HERS,
    ("POST", "/beneficiaires/{beneficiary_id}/convocations"): HERS,
}


@dataclass
class Her:
    """A person followed by the staff's structure, and her objects."""

    name: str
    ids: dict[str, str]


async def followed_elsewhere(
    api: ApiClients,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    partners: PartnerStack,
) -> Her:
    """A person in accompaniment with a document, a plan action, an appointment and a
    training request: the objects a route can name."""
    person_id = await follow(
        sessions, partners.client, partners.settings, staff, consents=("region",)
    )
    carnet = (await api.referent.get(f"/api/v1/beneficiaries/{person_id}/carnet")).json()
    name = carnet["beneficiary"]["last_name"]
    document = await upload(api.referent, person_id, PDF)
    assert document.status_code in (201, 204), document.text
    action = await write(
        api.referent,
        person_id,
        "plan-actions",
        {"theme": "mobility", "objective": "Se déplacer", "action": "Auto-école sociale"},
    )
    assert action.status_code == 201, action.text
    starts = datetime.now(UTC) + timedelta(days=3)
    appointment = await write(
        api.referent,
        person_id,
        "appointments",
        {"starts_at": starts.isoformat(), "place": "CCAS", "purpose": "Point d'étape"},
    )
    assert appointment.status_code in (201, 204), appointment.text
    training_id = await add_training(sessions, "region")
    request = await api.referent.post(
        "/api/v1/training-requests",
        json={"beneficiary_id": person_id, "training_id": training_id},
    )
    assert request.status_code == 201, request.text
    carnet = (await api.referent.get(f"/api/v1/beneficiaries/{person_id}/carnet")).json()
    return Her(
        name,
        {
            "beneficiary_id": person_id,
            "document_id": carnet["documents"][0]["id"],
            "action_id": carnet["plan"][0]["id"],
            "appointment_id": carnet["appointments"][0]["id"],
            "request_id": request.json()["id"],
            "training_id": training_id,
        },
    )


async def carnet_of(api: ApiClients, her: Her) -> dict[str, Any]:
    """Her carnet as her référent reads it."""
    response = await api.referent.get(f"/api/v1/beneficiaries/{her.ids['beneficiary_id']}/carnet")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def filled(path: str, her: Her, staff: Staff) -> str:
    """The path with its parameters: hers where it names her objects, else something real
    (a structure, a user) or an id that names nothing."""
    others = {
        "structure_id": staff.structure_id,
        "user_id": staff.referent_id,
        "partner": "caf",
        "tab": "situation",
        "name": "begin-diagnosis",
        "what": "notes",
    }

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "request_id" and path.startswith("/admin/effacements"):
            return str(uuid.uuid4())
        return her.ids.get(key) or others.get(key) or str(uuid.uuid4())

    return re.sub(r"{(\w+)}", one, path)


def body_of(openapi: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """What a write sends: a body its schema accepts, so the rights are what refuses."""
    if method in SAFE:
        return {}
    if path.endswith("/documents"):
        return {"files": {"file": ("attestation.pdf", PDF, "application/pdf")}}
    operation = openapi["paths"].get(path, {}).get(method.lower(), {})
    body = example_body(openapi, method, path) or {}
    if "application/json" in operation.get("requestBody", {}).get(
        "content", {"application/json": 0}
    ):
        return {"json": body}
    return {"data": {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}}


async def followed(browser: Browser, answer: httpx.Response, her: Her) -> httpx.Response:
    """A page that sends on to another of her pages (a carnet to its first tab) is judged by
    that page; sent anywhere else (their own home), the user was turned away."""
    location = answer.headers.get("location", "")
    if answer.status_code == 303 and any(value in location for value in her.ids.values()):
        return await browser.get(location)
    return answer


@pytest.fixture
async def api(partners: PartnerStack, staff: Staff) -> AsyncIterator[ApiClients]:
    """The API of the app whose worker calls the partners (her training request goes out)."""
    async with api_clients(partners.api_url, staff) as clients:
        yield clients


@pytest.fixture
async def person(
    api: ApiClients, new_account: NewAccount
) -> AsyncIterator[tuple[httpx.AsyncClient, Browser]]:
    """Another person, followed by another structure, with her own account."""
    own_id = await enrol(api.outsider)
    account = await new_account("beneficiary", beneficiary_id=own_id)
    async with signed_in(api.base_url, account.email) as browser:
        yield api(account), browser


async def test_every_route_is_public_or_covered(settings: Settings) -> None:
    routes = set(every_route(create_app(settings)))
    unknown = routes - PUBLIC - COVERED.keys()
    assert not unknown, f"routes neither public nor covered here: {sorted(unknown)}"
    gone = (PUBLIC | COVERED.keys()) - routes
    assert not gone, f"routes listed here that the app no longer has: {sorted(gone)}"


async def test_nobody_outside_her_structure_reaches_a_person(
    api: ApiClients,
    partners: PartnerStack,
    staff: Staff,
    sessions: async_sessionmaker[AsyncSession],
    person: tuple[httpx.AsyncClient, Browser],
    new_account: NewAccount,
) -> None:
    api_url = partners.api_url
    her = await followed_elsewhere(api, staff, sessions, partners)
    before = await carnet_of(api, her)
    # A manager sees every journey of their département: not those of another one.
    far_manager = await new_account("manager", territory="74")
    # Her own référent finds her by name: the search below would see her.
    listed = await api.referent.get("/api/v1/journeys", params={"q": her.name})
    assert her.name.casefold() in listed.text.casefold()
    person_api, person_browser = person
    openapi = create_app(partners.settings).openapi()
    wrong: list[str] = []
    async with (
        httpx.AsyncClient(base_url=api_url, timeout=60) as anonymous,
        signed_in(api_url, staff["outsider"].email) as outsider,
        signed_in(api_url, staff["funder"].email) as funder,
        signed_in(api_url, far_manager.email) as elsewhere,
    ):
        who = {
            "outsider": (api.outsider, outsider),
            "manager of 74": (api(far_manager), elsewhere),
            "funder": (api.funder, funder),
            "person": (person_api, person_browser),
        }
        for (method, path), kind in sorted(COVERED.items(), key=lambda item: item[0][1]):
            url = filled(path, her, staff)
            is_api = path.startswith("/api/")
            answer = await anonymous.request(method, url)
            signs_in = (
                answer.status_code == 401
                if is_api
                else answer.status_code == 303
                and answer.headers["location"].startswith("/connexion")
            )
            if not signs_in:
                wrong.append(f"anonymous {method} {path}: {answer.status_code}")
            for role, (bearer, browser) in who.items():
                if is_api:
                    answer = await bearer.request(method, url, **body_of(openapi, method, path))
                elif method in SAFE:
                    answer = await browser.get(url)
                else:
                    answer = await browser.post(url)
                if method in SAFE:  # a write sent on would hide that it was done
                    answer = await followed(browser, answer, her)
                status = answer.status_code
                if status >= 500 or her.name.casefold() in answer.text.casefold():
                    wrong.append(f"{role} {method} {path}: {status}, or her name shown")
                elif kind == HERS and status not in (
                    (303, 403, 404) if method in SAFE else (403, 404)
                ):
                    wrong.append(f"{role} {method} {path}: {status}")
    assert not wrong, "\n".join(wrong)
    # All those writes refused, her carnet is as it was.
    assert await carnet_of(api, her) == before
