"""A person's phone, where the platform takes it (enrolment, the carnet's contact details), is
checked at entry: a number that is not a valid French one (overseas included) is refused with
a French reason that does not repeat it, and a valid one is kept E.164 — the form SMS go to."""

from __future__ import annotations

import html

import pytest

from tests.support.accounts import Staff
from tests.support.api import enrol
from tests.support.carnet import carnet, carnet_of
from tests.support.clients import ApiClients, Browsers
from tests.support.people import person_payload

pytestmark = pytest.mark.appointments


async def test_an_invalid_phone_is_refused_at_enrolment_and_a_valid_one_kept_e164(
    api: ApiClients,
) -> None:
    refused = await api.referent.post("/api/v1/beneficiaries", json=person_payload(phone="06 77 1"))
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "phone"]
    assert error["msg"].startswith("Numéro de téléphone invalide : ce n'est pas un numéro")
    assert "06 77 1" not in refused.text

    person = await enrol(api.referent, phone="0692 12 34 56")  # La Réunion
    assert (await carnet(api.referent, person))["beneficiary"]["phone"] == "+262692123456"


async def test_the_contact_phone_is_checked_and_kept_e164(api: ApiClients) -> None:
    person = await enrol(api.referent)
    contact = f"{carnet_of(person)}/contact"

    refused = await api.referent.put(contact, json={"phone": "+44 7911 123456"})
    assert refused.status_code == 422
    assert "ce n'est pas un numéro français" in refused.text

    # A fixed line is a person's phone all the same (no SMS will go to it).
    assert (await api.referent.put(contact, json={"phone": "04 79 12 34 56"})).status_code == 204
    assert (await carnet(api.referent, person))["beneficiary"]["phone"] == "+33479123456"


async def test_the_pages_refuse_an_invalid_phone_and_show_a_valid_one_the_french_way(
    api: ApiClients, browsers: Browsers, staff: Staff
) -> None:
    http = await browsers("referent")
    form = {
        key: "" if value is None else str(value)
        for key, value in person_payload(phone="06 77 1", referent_id=staff.referent_id).items()
    }
    refused = await http.post("/parcours/nouveau", data=form)
    assert refused.status_code == 422
    assert "Téléphone : Numéro de téléphone invalide : ce n'est pas un numéro" in html.unescape(
        refused.text
    )

    person = await enrol(api.referent, phone="+262 692 12 34 56")
    page = await http.get(f"/beneficiaires/{person}/situation")
    assert page.status_code == 200
    assert "Téléphone : 0692 12 34 56" in html.unescape(page.text)
