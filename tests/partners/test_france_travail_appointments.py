"""Appointments sent to France Travail as an appointment's workflow will send them: through
Temporal (the call's production retry policy), the real adapter and the simulator over HTTP.
What France Travail would notice: each status arrives once even when the answer was lost and
the activity retried; nothing arrives without the person's consent; what it holds matches the
appointment."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import Structure
from parcours.carnet.models import Consent
from parcours.core.db import transaction
from parcours.partners.messages import (
    FranceTravailAppointmentInput,
    france_travail_appointment_step,
)
from tests.support.partners import PartnerStack, add_person

pytestmark = pytest.mark.appointments

CALL = "send_appointment_to_france_travail"


def appointment(beneficiary_id: str, appointment_id: str, status: str, **extra: Any) -> Any:
    return {
        "beneficiary_id": beneficiary_id,
        "appointment_id": appointment_id,
        "status": status,
        "kind": "orientation",
        "starts_at": "2026-12-15T09:30:00+01:00",
        "duration_minutes": 45,
        **extra,
    }


async def send(partners: PartnerStack, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """One status sent as a workflow sends it; the key's step is the status's."""
    step = france_travail_appointment_step(payload["appointment_id"], payload["status"])
    handle = await partners.probe(CALL, payload, step)
    return f"{handle.id}:{step}", await handle.result()


@pytest.mark.resilience
async def test_each_status_arrives_once_even_when_the_answer_was_lost(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    person_id = await add_person(sessions, consents=("france_travail",))
    appointment_id = f"rdv-{uuid.uuid4().hex[:8]}"
    statuses = [
        ("planned", {}),
        ("excused_absence", {"excuse": "work_or_training"}),
    ]
    keys = []
    for status, extra in statuses:
        # France Travail records the status, then its answer is lost: the activity retries.
        # Only this call: another test's journey may be asking France Travail meanwhile.
        await partners.switches(
            "france-travail",
            fail_after_next=1,
            path_prefix=f"/france-travail/rendez-vous-partenaire/v1/rendez-vous/{appointment_id}",
        )
        key, result = await send(partners, appointment(person_id, appointment_id, status, **extra))
        assert result["sent"] is True and result["replayed"] is True
        keys.append(key)

    state = await partners.state("france-travail")
    updates = state["appointment_updates"]
    assert [u["appointment"]["statut"] for u in updates] == ["PRIS", "ABSENT_EXCUSE"]
    assert [u["idempotency_key"] for u in updates] == keys
    assert all(state["appointments_by_key"][k]["attempts"] == 2 for k in keys)
    current = state["appointments"][appointment_id]["appointment"]
    assert current["statut"] == "ABSENT_EXCUSE" and current["motifAbsence"] == "WORK_OR_TRAINING"


async def test_every_status_reaches_france_travail_as_its_api_spells_it(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    person_id = await add_person(sessions, consents=("france_travail",))
    async with transaction(sessions) as session:
        agency = Structure(name="France Travail Chambéry", kind="france_travail", territory="73")
        session.add(agency)
        await session.flush()
        agency_id = agency.id
    sent = {
        "planned": ("PRIS", {}),
        "attended": ("EFFECTUE", {}),
        "excused_absence": ("ABSENT_EXCUSE", {"excuse": "transport"}),
        "unexcused_absence": ("ABSENT", {}),
        "cancelled": ("ANNULE", {}),
    }
    extra = {
        "kind": "accompagnement",
        "first_accompaniment": True,
        "modality": "phone",
        "booked_by": "person",
        "structure_id": agency_id,
    }
    results = await asyncio.gather(
        *(
            send(partners, appointment(person_id, f"rdv-{status}", status, **extra, **more))
            for status, (_, more) in sent.items()
        )
    )

    assert all(result["sent"] and not result["replayed"] for _, result in results)
    held = (await partners.state("france-travail"))["appointments"]
    for status, (statut, _) in sent.items():
        record = held[f"rdv-{status}"]["appointment"]
        assert record["statut"] == statut
        assert record["person"]["nir"] == "188047311512352"
        assert record["person"]["birth_date"] == "1988-04-12"
        assert record["date"] == "2026-12-15T09:30:00+01:00" and record["duree"] == 45
        assert (record["motif"], record["theme"]) == ("ACC", "RSA accompagnement")
        assert record["modaliteContact"] == "TELEPHONE" and record["typeReception"] == "IND"
        assert record["initiateur"] == "USAGER" and record["origine"] == "PARCOURS"
        assert record["organisme"] == {"code": "FT", "libelle": "France Travail Chambéry"}
        assert record["consentement"]["recueilli"] is True
        assert record["consentement"]["dateRecueil"] is not None
        assert (record.get("motifAbsence") == "TRANSPORT") is (status == "excused_absence")


@pytest.mark.parametrize("withdrawn", [False, True], ids=["never-given", "withdrawn"])
async def test_without_consent_the_status_is_skipped_and_nothing_is_sent(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession], withdrawn: bool
) -> None:
    person_id = await add_person(sessions)
    if withdrawn:
        async with transaction(sessions) as session:
            session.add(Consent(beneficiary_id=person_id, partner="france_travail", granted=False))

    _, result = await send(partners, appointment(person_id, "rdv-sans-consentement", "planned"))

    assert result["sent"] is False and result["skipped"] == "consent_missing"
    assert "n'a pas consenti" in result["reason"]
    state = await partners.state("france-travail")
    assert state["traffic"]["calls"] == 0 and state["appointment_updates"] == []


async def test_a_person_without_nir_is_skipped(
    partners: PartnerStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    person_id = await add_person(sessions, nir=None, consents=("france_travail",))
    _, result = await send(partners, appointment(person_id, "rdv-sans-nir", "planned"))
    assert result["sent"] is False and result["skipped"] == "person_incomplete"
    assert (await partners.state("france-travail"))["traffic"]["calls"] == 0


def test_an_excuse_goes_with_an_excused_absence_only() -> None:
    base = appointment("p-1", "rdv-1", "unexcused_absence", idempotency_key="k")
    with pytest.raises(ValidationError, match="excuse"):
        FranceTravailAppointmentInput.model_validate({**base, "excuse": "other"})
    with pytest.raises(ValidationError, match="excuse"):
        FranceTravailAppointmentInput.model_validate({**base, "status": "excused_absence"})
    with pytest.raises(ValidationError):  # a time without its zone
        FranceTravailAppointmentInput.model_validate({**base, "starts_at": "2026-12-15T09:30:00"})
