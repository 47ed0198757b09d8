"""Consent in plain sight, through the real app, its worker and the partner simulators: the
carnet's header shows each partner's consent (donné, retiré, pas encore demandé) with its date
and how it was given; the référent records one given in an interview or on paper, the signed
form uploaded with it into the carnet's documents; the person withdraws one from her space;
every change is in the carnet's history; and a refusal for a missing consent — an orientation
to a service, a training request — leads straight to the form, the partner chosen.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.support.accounts import Account, NewAccount, Staff
from tests.support.api import act, enrol
from tests.support.carnet import PDF, carnet, carnet_of
from tests.support.clients import ApiClients, Browser, api_clients, signed_in
from tests.support.partners import PartnerStack
from tests.support.resources import Resource, add_service
from tests.support.training_requests import add_training, follow

pytestmark = pytest.mark.notifications

Sessions = async_sessionmaker[AsyncSession]
Json = dict[str, Any]
T = TypeVar("T")
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
async def api(partners: PartnerStack, staff: Staff) -> AsyncIterator[ApiClients]:
    """Clients of the partner stack's API (whose worker sends orientations to structures)."""
    async with api_clients(partners.api_url, staff) as clients:
        yield clients


async def until(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool]) -> T:
    """``probe()`` once ``ok`` holds (the workflow and its activities have caught up)."""
    async with asyncio.timeout(30):
        while True:
            value = await probe()
            if ok(value):
                return value
            await asyncio.sleep(0.1)


def text_of(fragment: str) -> str:
    """What a reader reads of an HTML fragment: no tags, one space between words."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def element(page: str, element_id: str) -> str:
    """The inner HTML of the element with that id (a ``li``, ``p``, ``tr`` or ``section``)."""
    found = re.search(
        rf'<(li|p|tr|section)\b[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', page, re.S
    )
    assert found, f"#{element_id} not on the page"
    return found.group(2)


def header_consents(page: str) -> dict[str, str]:
    """Each partner's line in the carnet's header, as read."""
    return {
        partner: text_of(element(page, f"consent-{partner}"))
        for partner in ("caf", "france_travail", "structures", "region")
    }


def remedy_href(page: str) -> str:
    """The link a refusal offers to where the missing consent is recorded."""
    found = re.search(r'class="fr-mb-3w parcours-remedy"><a [^>]*href="([^"]+)"', page)
    assert found, "the refusal offers no way to record the consent"
    return html.unescape(found.group(1))


def day(at: str) -> str:
    """A stored time as the pages print its day (French time)."""
    return datetime.fromisoformat(at).astimezone(PARIS).strftime("%d/%m/%Y")


def consents_of(found: Json) -> dict[str, Json]:
    return {c["partner"]: c for c in found["consents"]}


async def person_in_diagnosis(api: ApiClients, staff: Staff) -> str:
    bid = await enrol(api.referent, referent_id=staff.referent_id, structure_id=staff.structure_id)
    await act(api.referent, bid, "begin-diagnosis")
    return bid


async def orientations_of(api: ApiClients, bid: str) -> list[Json]:
    response = await api.referent.get(f"/api/v1/beneficiaries/{bid}/service-orientations")
    assert response.status_code == 200, response.text
    found: list[Json] = response.json()
    return found


async def held_by_structures(partners: PartnerStack, resource: Resource) -> list[Json]:
    held: list[Json] = (await partners.state("structures"))["orientations"]
    return [h for h in held if h["orientation"]["service_id"] == resource.source_id]


def service_page(resource: Resource, bid: str) -> str:
    return f"/ressources/services/{resource.service_id}?{urlencode({'pour': bid})}"


def consent_form(bid: str, partner: str, back: str) -> str:
    return (
        f"/beneficiaires/{bid}/consentements?partenaire={partner}"
        f"&retour={quote(back, safe='')}#consentement-form"
    )


async def record_on_paper(browser: Browser, bid: str, partner: str, back: str) -> httpx.Response:
    return await browser.post(
        f"/beneficiaires/{bid}/consentements",
        {"partner": partner, "granted": "true", "method": "paper", "_retour": back},
        files={"file": (f"accord-{partner}.pdf", PDF, "application/pdf")},
    )


async def test_a_consent_recorded_on_paper_unblocks_an_orientation_refused_without_it(
    partners: PartnerStack, api: ApiClients, sessions: Sessions, staff: Staff
) -> None:
    resource = await add_service(sessions)
    bid = await person_in_diagnosis(api, staff)
    back = service_page(resource, bid)

    async with signed_in(partners.api_url, staff["referent"].email) as browser:
        # Refused: the person never agreed to share with structures. The refusal says so and
        # links to the consent form, the structures chosen, the way back kept.
        refused = await browser.post(
            f"/ressources/services/{resource.service_id}/orienter", {"beneficiary_id": bid}
        )
        assert refused.status_code == 409
        assert "n'a pas donné son accord" in html.unescape(refused.text)
        link = remedy_href(refused.text)
        assert link == consent_form(bid, "structures", back)
        assert "Enregistrer son accord de partage avec les structures" in refused.text

        form = await browser.get(link)
        assert form.status_code == 200
        assert re.search(
            r'id="consentement-partner-structures"[^>]*value="structures"\s+checked', form.text
        )
        assert not re.search(r'id="consentement-partner-region"[^>]*checked', form.text)
        assert f'name="_retour" value="{html.escape(back)}"' in form.text

        # On paper, the signed form is required: refused without it, nothing recorded.
        without = await browser.post(
            f"/beneficiaires/{bid}/consentements",
            {"partner": "structures", "granted": "true", "method": "paper", "_retour": back},
        )
        assert without.status_code == 422
        assert "Formulaire signé : joignez le formulaire signé par la personne." in html.unescape(
            without.text
        )
        assert f'name="_retour" value="{html.escape(back)}"' in without.text
        assert consents_of(await carnet(api.referent, bid))["structures"]["state"] == "not_asked"

        # With the signed form: recorded, and back to the refused orientation from there.
        recorded = await record_on_paper(browser, bid, "structures", back)
        assert recorded.status_code == 303, recorded.text
        assert recorded.headers["location"] == (
            f"/beneficiaires/{bid}/consentements?fait=consentement&retour={quote(back, safe='')}"
            "#resultat"
        )
        done = await browser.get(recorded.headers["location"])
        assert "Le consentement est enregistré" in html.unescape(done.text)
        assert f'href="{html.escape(back)}"' in element(done.text, "consent-back")

        again = await browser.post(
            f"/ressources/services/{resource.service_id}/orienter", {"beneficiary_id": bid}
        )
        assert again.status_code == 303, again.text
        assert again.headers["location"] == (
            f"/beneficiaires/{bid}/contrat?fait=orientation#resultat"
        )

    # The consent: given, on paper, by the référent, its signed form a document of the carnet.
    found = await carnet(api.referent, bid)
    given = consents_of(found)["structures"]
    assert (given["state"], given["state_label"], given["method"]) == ("given", "donné", "paper")
    assert given["by"]["id"] == staff.referent_id
    (document,) = found["documents"]
    assert (given["document_id"], document["filename"]) == (document["id"], "accord-structures.pdf")
    signed = await api.referent.get(f"{carnet_of(bid)}/documents/{document['id']}")
    assert signed.content == PDF

    # The orientation reached the structure, once.
    await until(lambda: orientations_of(api, bid), lambda f: bool(f) and f[0]["status"] == "sent")
    assert len(await held_by_structures(partners, resource)) == 1


async def test_the_header_shows_each_partners_consent_its_date_and_how(
    partners: PartnerStack, api: ApiClients, staff: Staff, new_account: NewAccount
) -> None:
    bid = await person_in_diagnosis(api, staff)
    person = await new_account("beneficiary", beneficiary_id=bid, full_name="Nadia K.")
    own = api(person)

    # In her space, the person agrees to share with the CAF, and with structures, then
    # withdraws the latter; in an interview she agrees to share with France Travail, which
    # her référente records (through the API); the Région was never asked.
    for partner, granted in (("caf", True), ("structures", True), ("structures", False)):
        answer = await own.put("/api/v1/me/consents", json={"partner": partner, "granted": granted})
        assert answer.status_code == 204, answer.text
    in_person = await api.referent.post(
        f"{carnet_of(bid)}/consents", data={"partner": "france_travail", "method": "in_person"}
    )
    assert in_person.status_code == 204, in_person.text
    # The person's own space is hers: a professional cannot claim it.
    claimed = await api.referent.post(
        f"{carnet_of(bid)}/consents", data={"partner": "region", "method": "self_service"}
    )
    assert claimed.status_code == 422
    assert "Seule la personne donne ou retire son accord depuis son espace" in claimed.text
    on_paper = await api.referent.post(
        f"{carnet_of(bid)}/consents", data={"partner": "region", "method": "paper"}
    )
    assert on_paper.status_code == 422
    assert "Joignez le formulaire signé" in on_paper.json()["detail"]

    found = consents_of(await carnet(api.referent, bid))
    assert {p: (c["state"], c["method"]) for p, c in found.items()} == {
        "caf": ("given", "self_service"),
        "france_travail": ("given", "in_person"),
        "structures": ("withdrawn", "self_service"),
        "region": ("not_asked", None),
    }
    caf, france_travail, structures = (
        day(found[p]["changed_at"]) for p in ("caf", "france_travail", "structures")
    )
    expected = {
        "caf": f"CAF : donné le {caf}, par la personne dans son espace",
        "france_travail": (
            f"France Travail : donné le {france_travail}, recueilli en entretien (Referent 1)"
        ),
        "structures": (
            f"Structures : retiré le {structures}, par la personne dans son espace — Enregistrer "
            "le consentement (Structures)"
        ),
        "region": "Région : pas encore demandé — Enregistrer le consentement (Région)",
    }
    async with signed_in(partners.api_url, staff["referent"].email) as browser:
        # On every tab of the carnet, and on the journey's own.
        for url in (f"/beneficiaires/{bid}/situation", f"/parcours/{bid}"):
            page = await browser.get(url)
            assert page.status_code == 200, url
            assert header_consents(page.text) == expected, url
            assert f'href="/beneficiaires/{bid}/consentements#consentement-form"' in page.text
        # Each line not given leads to the form, its partner chosen.
        page = await browser.get(f"/beneficiaires/{bid}/contrat")
        region = element(page.text, "consent-region")
        assert (
            f'href="/beneficiaires/{bid}/consentements?partenaire=region#consentement-form"'
            in region
        )

    # What the chargée d'orientation reads: the same states, no form to record one.
    async with signed_in(partners.api_url, staff["orientation"].email) as browser:
        page = await browser.get(f"/beneficiaires/{bid}/situation")
        assert text_of(element(page.text, "consent-region")) == "Région : pas encore demandé"
        form = await browser.get(f"/beneficiaires/{bid}/consentements")
        assert form.status_code == 200 and 'id="consentement-form"' not in form.text


async def test_the_person_withdraws_a_consent_and_the_next_orientation_is_refused_with_a_link(
    partners: PartnerStack,
    api: ApiClients,
    sessions: Sessions,
    staff: Staff,
    new_account: NewAccount,
) -> None:
    resource = await add_service(sessions)
    bid = await person_in_diagnosis(api, staff)
    person: Account = await new_account("beneficiary", beneficiary_id=bid, full_name="Léo T.")

    async with signed_in(partners.api_url, person.email) as space:
        given = await space.post(
            "/mon-espace/partage", {"partner": "structures", "granted": "true"}
        )
        assert given.status_code == 303, given.text
    first = await api.referent.post(
        "/api/v1/service-orientations",
        json={"beneficiary_id": bid, "service_id": resource.service_id},
    )
    assert first.status_code == 201, first.text
    await until(lambda: orientations_of(api, bid), lambda f: bool(f) and f[0]["status"] == "sent")

    # She changes her mind, from her space.
    async with signed_in(partners.api_url, person.email) as space:
        withdrawn = await space.post(
            "/mon-espace/partage", {"partner": "structures", "granted": "false"}
        )
        assert withdrawn.status_code == 303, withdrawn.text
        mine = await space.get("/mon-espace")
        assert "Accord retiré" in text_of(element(mine.text, "partage-structures-etat"))

    found = await carnet(api.referent, bid)
    structures = consents_of(found)["structures"]
    assert (structures["state"], structures["method"], structures["by"]["id"]) == (
        "withdrawn",
        "self_service",
        person.id,
    )
    # The history has both changes, hers.
    history = [
        (e["label"], e["by"]["label"])
        for e in found["timeline"]
        if e["label"].startswith("Consentement")
    ]
    assert history == [
        ("Consentement retiré — Structures (par la personne dans son espace)", "Léo T."),
        ("Consentement donné — Structures (par la personne dans son espace)", "Léo T."),
    ]
    log = (await api.referent.get(f"{carnet_of(bid)}/access-log")).json()
    assert (person.id, "update", "carnet.consent.structures.withdrawn.self_service") in [
        (e["user_id"], e["action"], e["what"]) for e in log
    ]

    # The next orientation is refused, and says where to record the consent.
    refused = await api.referent.post(
        "/api/v1/service-orientations",
        json={"beneficiary_id": bid, "service_id": resource.service_id},
    )
    assert refused.status_code == 409
    body = refused.json()
    assert body["detail"].startswith("La personne n'a pas donné son accord")
    assert body["remedy"] == {
        "href": f"/beneficiaires/{bid}/consentements?partenaire=structures#consentement-form",
        "label": "Enregistrer son accord de partage avec les structures",
        "partner": "structures",
        "api": f"/api/v1/beneficiaries/{bid}/consents",
    }
    async with signed_in(partners.api_url, staff["referent"].email) as browser:
        header = header_consents((await browser.get(f"/beneficiaires/{bid}/situation")).text)
        assert header["structures"].startswith(
            f"Structures : retiré le {day(structures['changed_at'])}, par la personne dans son "
            "espace"
        )
        history_page = await browser.get(f"/beneficiaires/{bid}/historique")
        assert "Consentement retiré — Structures (par la personne dans son espace)" in (
            text_of(history_page.text)
        )
        page = await browser.post(
            f"/ressources/services/{resource.service_id}/orienter", {"beneficiary_id": bid}
        )
        assert page.status_code == 409
        assert remedy_href(page.text) == consent_form(
            bid, "structures", service_page(resource, bid)
        )
    # Nothing more reached the structure.
    assert len(await held_by_structures(partners, resource)) == 1


async def test_a_training_request_refused_for_the_regions_consent_links_to_the_form(
    partners: PartnerStack, api: ApiClients, sessions: Sessions, staff: Staff
) -> None:
    training_id = await add_training(sessions, "region")
    bid = await follow(sessions, partners.client, partners.settings, staff, consents=())

    refused = await api.referent.post(
        "/api/v1/training-requests", json={"beneficiary_id": bid, "training_id": training_id}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["remedy"]["partner"] == "region"

    async with signed_in(partners.api_url, staff["referent"].email) as browser:
        page = await browser.post(
            f"/ressources/formations/{training_id}/demandes", {"beneficiary_id": bid}
        )
        assert page.status_code == 409
        back = f"/ressources/formations/{training_id}?{urlencode({'pour': bid})}"
        assert remedy_href(page.text) == consent_form(bid, "region", back)
        assert "Enregistrer son accord de partage avec la Région" in page.text
        form = await browser.get(remedy_href(page.text))
        assert re.search(
            r'id="consentement-partner-region"[^>]*value="region"\s+checked', form.text
        )
