"""The carnet de bord through the JSON API: what the référent writes is read back as written,
with where it comes from and when; the changes that move the journey move it (read model and
workflow alike) or are refused whole; documents are checked on their bytes; notes stay
between professionals."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from parcours.carnet.models import Document, EngagementContract, SituationFact
from parcours.core.settings import Settings
from parcours.journey.messages import JourneyState
from tests.support.accounts import NewAccount, Staff
from tests.support.api import act, enrol, kinds, read, read_until
from tests.support.carnet import PDF, carnet, carnet_of, to_accompaniment, upload, write
from tests.support.clients import ApiClients

Json = dict[str, Any]


async def workflow_state(env: WorkflowEnvironment, beneficiary_id: str) -> JourneyState:
    handle = env.client.get_workflow_handle(f"journey-{beneficiary_id}")
    state: JourneyState = await handle.query("current", result_type=JourneyState)
    return state


# --- Situation ---


async def test_a_fact_keeps_its_source_and_date_and_a_correction_supersedes_it(
    api: ApiClients, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    beneficiary_id = await enrol(api.referent)
    before = datetime.now(UTC) - timedelta(seconds=5)

    first = await write(
        api.referent,
        beneficiary_id,
        "facts",
        {"theme": "housing", "label": "Hébergement", "value": "Chez un tiers"},
    )
    assert first.status_code == 204, first.text
    other = await write(
        api.referent,
        beneficiary_id,
        "facts",
        {"theme": "mobility", "label": "Permis B", "value": "Oui, sans véhicule"},
    )
    assert other.status_code == 204, other.text

    facts = (await carnet(api.other_referent, beneficiary_id))["facts"]
    housing = next(f for f in facts if f["label"] == "Hébergement")
    assert (housing["value"], housing["theme_label"]) == ("Chez un tiers", "Logement")
    assert (housing["source"], housing["source_label"]) == (
        "professional",
        "Saisi par un professionnel",
    )
    assert housing["recorded_by"] == {"id": staff.referent_id, "label": "Referent 1"}
    assert before <= datetime.fromisoformat(housing["recorded_at"]) <= datetime.now(UTC)

    corrected = await write(
        api.other_referent,
        beneficiary_id,
        "facts",
        {"theme": "housing", "label": "Hébergement", "value": "Logement social depuis mars"},
    )
    assert corrected.status_code == 204, corrected.text

    facts = (await carnet(api.referent, beneficiary_id))["facts"]
    assert sorted((f["label"], f["value"]) for f in facts) == [
        ("Hébergement", "Logement social depuis mars"),
        ("Permis B", "Oui, sans véhicule"),
    ]
    housing = next(f for f in facts if f["label"] == "Hébergement")
    assert housing["recorded_by"]["id"] == staff.other_referent_id
    # The superseded value is kept, marked as such: the carnet's history, not an overwrite.
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(SituationFact)
                .where(
                    SituationFact.beneficiary_id == beneficiary_id,
                    SituationFact.label == "Hébergement",
                )
                .order_by(SituationFact.recorded_at)
            )
        ).all()
    assert [(r.value, r.superseded_at is not None) for r in rows] == [
        ("Chez un tiers", True),
        ("Logement social depuis mars", False),
    ]


async def test_a_bad_fact_is_refused_naming_the_field(api: ApiClients) -> None:
    beneficiary_id = await enrol(api.referent)

    response = await write(
        api.referent, beneficiary_id, "facts", {"theme": "chateau", "label": "", "value": "x"}
    )

    assert response.status_code == 422
    assert sorted(str(e["loc"][-1]) for e in response.json()["detail"]) == ["label", "theme"]
    assert (await carnet(api.referent, beneficiary_id))["facts"] == []


# --- Diagnosis, contract, plan ---


async def test_recording_the_diagnosis_moves_the_journey_to_orientation(
    api: ApiClients, staff: Staff, dev_env: WorkflowEnvironment
) -> None:
    at_intake = await enrol(api.referent)
    in_diagnosis = await enrol(api.referent)
    await act(api.referent, in_diagnosis, "begin-diagnosis")
    diagnosis = {
        "summary": "Projet clair, freins de mobilité",
        "strengths": "Expérience en logistique",
        "obstacles": ["mobility", "childcare"],
    }

    for beneficiary_id in (at_intake, in_diagnosis):
        response = await write(api.referent, beneficiary_id, "diagnosis", diagnosis)
        assert response.status_code == 204, response.text

        # The read model, the carnet and the workflow agree.
        detail = await read(api.referent, beneficiary_id)
        assert detail["journey"]["step"] == "orientation"
        assert kinds(detail)[-2:] == ["diagnosis_started", "diagnosis_completed"]
        assert (await workflow_state(dev_env, beneficiary_id)).step == "orientation"
        found = await carnet(api.referent, beneficiary_id)
        assert found["journey"]["step"] == "orientation"
        assert found["diagnosis"]["summary"] == diagnosis["summary"]
        assert found["diagnosis"]["obstacle_labels"] == [
            "Mobilité",
            "Garde d'enfants et contraintes familiales",
        ]
        assert found["diagnosis"]["recorded_by"]["id"] == staff.referent_id

    # Later, an updated diagnosis is saved; the journey, already past it, stays where it is.
    again = await write(api.referent, at_intake, "diagnosis", {"summary": "Permis obtenu"})
    assert again.status_code == 204, again.text
    found = await carnet(api.referent, at_intake)
    assert (found["diagnosis"]["summary"], found["journey"]["step"]) == (
        "Permis obtenu",
        "orientation",
    )


async def test_a_contract_before_accompaniment_is_refused_and_not_written(
    api: ApiClients, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    beneficiary_id = await enrol(api.referent)
    today = date.today()
    contract = {
        "kind": "cer",
        "signed_on": today.isoformat(),
        "ends_on": (today + timedelta(days=180)).isoformat(),
        "weekly_hours": 15,
    }

    async def contracts() -> int:
        async with sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(EngagementContract)
                .where(EngagementContract.beneficiary_id == beneficiary_id)
            )
        return count or 0

    refused = await write(api.referent, beneficiary_id, "contract", contract)

    assert refused.status_code == 409, refused.text
    assert "Accompagnement" in refused.json()["detail"]
    assert await contracts() == 0
    assert (await carnet(api.referent, beneficiary_id))["contract"] is None
    assert "contract_signed" not in kinds(await read(api.referent, beneficiary_id))

    await to_accompaniment(api, staff, beneficiary_id)
    signed = await write(api.referent, beneficiary_id, "contract", contract)

    assert signed.status_code == 204, signed.text
    assert await contracts() == 1
    found = await carnet(api.referent, beneficiary_id)
    assert found["contract"]["kind_label"] == "Contrat d'engagement réciproque (CER)"
    assert (found["contract"]["signed_on"], found["contract"]["weekly_hours"]) == (
        today.isoformat(),
        15,
    )
    detail = await read(api.referent, beneficiary_id)
    assert kinds(detail)[-1] == "contract_signed"
    assert datetime.fromisoformat(detail["journey"]["deadline"]).date() == today + timedelta(
        days=180
    )


async def test_the_plans_weekly_hours_add_up(api: ApiClients, staff: Staff) -> None:
    beneficiary_id = await enrol(api.referent)
    await to_accompaniment(api, staff, beneficiary_id)
    lines = [
        ("training", "Obtenir le CACES", "Formation CACES R489", 20),
        ("mobility", "Se déplacer seul", "Auto-école sociale", 4),
        ("digital", "Faire ses démarches", "Atelier numérique", None),
    ]
    ids = []
    for theme, objective, action, hours in lines:
        created = await write(
            api.referent,
            beneficiary_id,
            "plan-actions",
            {"theme": theme, "objective": objective, "action": action, "weekly_hours": hours},
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])

    found = await carnet(api.referent, beneficiary_id)
    assert found["plan_weekly_hours"] == 24
    assert {a["action"]: a["status_label"] for a in found["plan"]} == {
        "Formation CACES R489": "Prévue",
        "Auto-école sociale": "Prévue",
        "Atelier numérique": "Prévue",
    }

    # A finished or abandoned action no longer counts; one in progress still does.
    for action_id, status in zip(ids, ("in_progress", "done", "abandoned"), strict=True):
        response = await write(
            api.referent,
            beneficiary_id,
            f"plan-actions/{action_id}",
            {"status": status},
            method="PATCH",
        )
        assert response.status_code == 204, response.text
    found = await carnet(api.referent, beneficiary_id)
    assert found["plan_weekly_hours"] == 20
    assert {a["action"]: a["status_label"] for a in found["plan"]} == {
        "Formation CACES R489": "En cours",
        "Auto-école sociale": "Réalisée",
        "Atelier numérique": "Abandonnée",
    }

    unknown = await write(
        api.referent,
        beneficiary_id,
        f"plan-actions/{uuid.uuid4()}",
        {"status": "done"},
        method="PATCH",
    )
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Action du plan introuvable."})


# --- Documents ---


async def test_a_pdf_is_kept_and_downloaded_identical(api: ApiClients, staff: Staff) -> None:
    beneficiary_id = await enrol(api.referent)
    data = PDF + f"% {uuid.uuid4()}\n".encode()

    response = await upload(api.referent, beneficiary_id, data, filename="Attestation CAF.pdf")

    assert response.status_code == 204, response.text
    (document,) = (await carnet(api.referent, beneficiary_id))["documents"]
    assert (document["filename"], document["content_type"], document["size"]) == (
        "Attestation CAF.pdf",
        "application/pdf",
        len(data),
    )
    assert document["uploaded_by"]["id"] == staff.referent_id
    downloaded = await api.other_referent.get(
        f"{carnet_of(beneficiary_id)}/documents/{document['id']}"
    )
    assert downloaded.status_code == 200
    assert downloaded.content == data
    assert downloaded.headers["content-type"] == "application/pdf"
    assert downloaded.headers["content-disposition"].startswith("attachment;")


@pytest.mark.security
@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\ines\\Relevé\x01 CAF\n.pdf", "Relevé CAF.pdf"),
        (". .bashrc\t.pdf", "bashrc.pdf"),
        ("\x00\x1f", "document"),
        ("é" * 300 + ".pdf", "é" * 196 + ".pdf"),
    ],
)
async def test_a_document_name_is_kept_without_folders_or_control_characters(
    api: ApiClients, sent: str, kept: str
) -> None:
    beneficiary_id = await enrol(api.referent)
    # The name as a forged request sends it, raw bytes (httpx would percent-encode them).
    body = (
        b"--limite\r\n"
        b'Content-Disposition: form-data; name="file"; filename="'
        + sent.encode()
        + b'"\r\nContent-Type: application/pdf\r\n\r\n'
        + PDF
        + b"\r\n--limite--\r\n"
    )
    response = await api.referent.post(
        f"{carnet_of(beneficiary_id)}/documents",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=limite"},
    )
    assert response.status_code == 204, response.text
    (document,) = (await carnet(api.referent, beneficiary_id))["documents"]
    assert document["filename"] == kept
    # The download's header carries the name safely: ASCII, and the exact name (RFC 6266).
    downloaded = await api.referent.get(f"{carnet_of(beneficiary_id)}/documents/{document['id']}")
    assert downloaded.status_code == 200 and downloaded.content == PDF
    disposition = downloaded.headers["content-disposition"]
    assert disposition.isascii() and "\n" not in disposition
    assert disposition.endswith("filename*=UTF-8''" + quote(kept, safe=""))


async def test_a_document_that_is_not_what_it_says_or_too_big_is_refused(
    api: ApiClients, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    beneficiary_id = await enrol(api.referent)

    disguised = await upload(api.referent, beneficiary_id, b"Ceci n'est pas un PDF.\n" * 20)
    too_big = await upload(api.referent, beneficiary_id, PDF + b"0" * settings.max_document_bytes)
    empty = await upload(api.referent, beneficiary_id, b"")

    assert (disguised.status_code, disguised.json()) == (
        422,
        {"detail": "Seuls les fichiers PDF, PNG et JPEG sont acceptés."},
    )
    limit = settings.max_document_bytes // (1024 * 1024)
    assert (too_big.status_code, too_big.json()) == (
        422,
        {"detail": f"Le fichier dépasse la taille maximale ({limit} Mo)."},
    )
    assert (empty.status_code, empty.json()) == (422, {"detail": "Le fichier est vide."})
    async with sessions() as session:
        kept = await session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.beneficiary_id == beneficiary_id)
        )
    assert kept == 0

    # A real PNG is accepted whatever it is called: the bytes say what it is.
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    renamed = await upload(api.referent, beneficiary_id, png, "photo.pdf", "application/pdf")
    assert renamed.status_code == 204, renamed.text
    (document,) = (await carnet(api.referent, beneficiary_id))["documents"]
    assert document["content_type"] == "image/png"


# --- Notes ---


async def test_notes_are_shared_between_professionals_not_shown_in_the_persons_carnet(
    api: ApiClients, staff: Staff, new_account: NewAccount
) -> None:
    beneficiary_id = await enrol(api.referent)
    body = f"Rendez-vous manqué, relancer par téléphone ({uuid.uuid4().hex[:8]})"
    person = await new_account("beneficiary", beneficiary_id=beneficiary_id)

    added = await write(api.referent, beneficiary_id, "notes", {"body": body})

    assert added.status_code == 204, added.text
    for professional in (api.referent, api.other_referent, api.orientation, api.manager):
        notes = (await carnet(professional, beneficiary_id))["notes"]
        assert [(n["body"], n["author"]["id"]) for n in notes] == [(body, staff.referent_id)]
    own = await api(person).get("/api/v1/me/carnet")
    assert own.status_code == 200, own.text
    assert own.json()["notes"] == []
    assert body not in own.text
    # Asked for, everything held about them includes the notes (right of access), unsigned.
    exported = await api(person).get("/api/v1/me/export")
    assert exported.status_code == 200
    assert [n["body"] for n in exported.json()["notes"]] == [body]
    assert staff.referent_id not in str(exported.json()["notes"])


# --- Appointments, project, timeline ---


async def test_appointments_project_and_the_carnets_timeline(api: ApiClients, staff: Staff) -> None:
    beneficiary_id = await enrol(api.referent)
    # The journey's first event is dated by the workflow: let it be written before the carnet's.
    await read_until(api.referent, beneficiary_id, lambda d: bool(d["timeline"]))
    starts = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)

    responses = [
        await write(
            api.referent,
            beneficiary_id,
            "appointments",
            {"starts_at": starts.isoformat(), "place": "CCAS", "purpose": "Point d'étape"},
        ),
        await write(
            api.referent,
            beneficiary_id,
            "project",
            {"rome_code": "N1103", "label": "Magasinier"},
            method="PUT",
        ),
        await write(
            api.referent,
            beneficiary_id,
            "project",
            {"rome_code": "N1105", "label": "Cariste"},
            method="PUT",
        ),
    ]
    assert [r.status_code for r in responses] == [204, 204, 204], [r.text for r in responses]
    bad_code = await write(
        api.referent, beneficiary_id, "project", {"rome_code": "1234", "label": "x"}, "PUT"
    )
    assert bad_code.status_code == 422

    found = await carnet(api.referent, beneficiary_id)
    (appointment,) = found["appointments"]
    assert datetime.fromisoformat(appointment["starts_at"]) == starts
    assert appointment["status_label"] == "Prévu"
    set_status = await write(
        api.referent,
        beneficiary_id,
        f"appointments/{appointment['id']}",
        {"status": "missed"},
        method="PATCH",
    )
    assert set_status.status_code == 204
    assert (found["project"]["rome_code"], found["project"]["label"]) == ("N1105", "Cariste")

    found = await carnet(api.referent, beneficiary_id)
    assert found["appointments"][0]["status_label"] == "Non honoré"
    # The timeline mixes the journey's events and the carnet's changes, in French, newest first.
    labels = [entry["label"] for entry in found["timeline"]]
    assert labels == [
        "Rendez-vous mis à jour",
        "Projet professionnel mis à jour",
        "Projet professionnel mis à jour",
        "Rendez-vous ajouté",
        "Entrée dans le parcours",
    ], found["timeline"]
    stamps = [entry["at"] for entry in found["timeline"]]
    assert stamps == sorted(stamps, reverse=True)


async def test_a_carnet_change_that_moves_the_journey_is_logged_once_in_french(
    api: ApiClients, staff: Staff
) -> None:
    """Journey actions are logged for the access log, not shown twice in the carnet."""
    beneficiary_id = await enrol(api.referent)
    await write(api.referent, beneficiary_id, "diagnosis", {"summary": "Diagnostic posé"})
    await read_until(api.referent, beneficiary_id, lambda d: d["journey"]["step"] == "orientation")

    labels = [e["label"] for e in (await carnet(api.referent, beneficiary_id))["timeline"]]

    assert labels == [
        "Diagnostic enregistré",
        "Diagnostic validé",
        "Diagnostic commencé",
        "Entrée dans le parcours",
    ]
