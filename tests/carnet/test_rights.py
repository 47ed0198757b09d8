"""The person's own rights, through HTTP with their own account: read their carnet (and no
one else's), correct their contact details, give and withdraw consent to share, say no to
follow-up once in work, download everything held about them, and ask for erasure — after
which no trace of their personal data is left in the database, and none ever was in Temporal.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, make_url, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from parcours.carnet.models import ErasureRequest
from parcours.core.settings import Settings
from parcours.journey.messages import ExitReason, JourneyResult
from tests.support.accounts import NewAccount, Staff
from tests.support.api import act, enrol, kinds, read
from tests.support.carnet import PDF, carnet, carnet_of, to_accompaniment, upload, write
from tests.support.clients import ApiClients, Browsers
from tests.support.people import person_payload
from tests.support.platform import until
from tests.support.privacy import forms, recognisable_person, searchable

Json = dict[str, Any]

NOT_FOUND = (404, {"detail": "Personne introuvable."})


def answer(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


async def me(client: httpx.AsyncClient) -> Json:
    response = await client.get("/api/v1/me/carnet")
    assert response.status_code == 200, response.text
    found: Json = response.json()
    return found


async def test_a_person_reads_their_own_carnet_and_no_one_elses(
    api: ApiClients, browsers: Browsers, new_account: NewAccount
) -> None:
    mine = await enrol(api.referent)
    someone_else = await enrol(api.referent)
    assert (await upload(api.referent, someone_else, PDF)).status_code == 204
    (document,) = (await carnet(api.referent, someone_else))["documents"]
    person = await new_account("beneficiary", beneficiary_id=mine)
    client = api(person)

    own = await me(client)
    assert own["beneficiary"]["id"] == mine
    assert own["can_write"] is False
    assert (await carnet(client, mine))["beneficiary"]["id"] == mine
    listed = (await client.get("/api/v1/journeys")).json()
    assert [item["beneficiary_id"] for item in listed["items"]] == [mine]

    other = carnet_of(someone_else)
    for response in (
        await client.get(f"{other}/carnet"),
        await client.get(f"/api/v1/journeys/{someone_else}"),
        await client.get(f"{other}/documents/{document['id']}"),
        await client.get(f"{other}/access-log"),
        await client.put(f"{other}/contact", json={"phone": "0600000000"}),
    ):
        assert answer(response) == NOT_FOUND, response.request.url
    # Their carnet is written by their référent; theirs are the rights below.
    fact = {"theme": "housing", "label": "Hébergement", "value": "Chez moi"}
    assert (await write(client, mine, "facts", fact)).status_code == 403
    assert (await write(client, mine, "notes", {"body": "Coucou"})).status_code == 403
    paused = await client.post(f"/api/v1/journeys/{mine}/actions/pause", json={})
    assert paused.status_code == 403
    # A professional has no "own space".
    staff_space = await api.referent.get("/api/v1/me/carnet")
    assert answer(staff_space) == (
        404,
        {"detail": "Cet espace est celui des personnes accompagnées."},
    )

    # Signed in with a password, the same through the session cookie.
    browser = await browsers(person)
    signed_in = await browser.get("/api/v1/me/carnet")
    assert (signed_in.status_code, signed_in.json()["beneficiary"]["id"]) == (200, mine)


async def test_a_person_corrects_their_contact_details(
    api: ApiClients, staff: Staff, new_account: NewAccount
) -> None:
    beneficiary_id = await enrol(api.referent)
    person = await new_account("beneficiary", beneficiary_id=beneficiary_id, full_name="Léa M.")
    client = api(person)

    corrected = await client.put(
        "/api/v1/me/contact",
        json={"phone": "07 61 22 33 44", "address": "3 rue Neuve", "city": "Aix-les-Bains"},
    )

    assert corrected.status_code == 204, corrected.text
    seen_by_referent = await carnet(api.referent, beneficiary_id)
    who = seen_by_referent["beneficiary"]
    assert (who["phone"], who["address"], who["city"], who["postal_code"]) == (
        "+33761223344",  # kept E.164
        "3 rue Neuve",
        "Aix-les-Bains",
        "73000",  # not sent, not changed
    )
    # The change is the person's own, and says so.
    (change,) = [e for e in seen_by_referent["timeline"] if e["origin"] == "carnet"]
    assert (change["label"], change["by"]) == (
        "Coordonnées corrigées",
        {"id": person.id, "label": "Léa M."},
    )
    log = (await api.referent.get(f"{carnet_of(beneficiary_id)}/access-log")).json()
    assert (person.id, "update", "carnet.contact") in [
        (e["user_id"], e["action"], e["what"]) for e in log
    ]

    refused = await client.put("/api/v1/me/contact", json={"email": "pas-une-adresse"})
    assert refused.status_code == 422
    assert [e["loc"][-1] for e in refused.json()["detail"]] == ["email"]
    assert (await me(client))["beneficiary"]["phone"] == "+33761223344"


async def test_a_person_gives_then_withdraws_consent_partner_by_partner(
    api: ApiClients, new_account: NewAccount
) -> None:
    beneficiary_id = await enrol(api.referent)
    client = api(await new_account("beneficiary", beneficiary_id=beneficiary_id))

    def consents(found: Json) -> dict[str, bool]:
        return {c["partner"]: c["granted"] for c in found["consents"]}

    assert consents(await me(client)) == {
        "caf": False,
        "france_travail": False,
        "region": False,
        "structures": False,
    }
    for partner in ("caf", "france_travail"):
        given = await client.put("/api/v1/me/consents", json={"partner": partner, "granted": True})
        assert given.status_code == 204, given.text
    given_at = {c["partner"]: c["changed_at"] for c in (await me(client))["consents"]}

    withdrawn = await client.put("/api/v1/me/consents", json={"partner": "caf", "granted": False})

    assert withdrawn.status_code == 204
    found = await carnet(api.referent, beneficiary_id)  # what the référent sees
    assert consents(found) == {
        "caf": False,
        "france_travail": True,
        "region": False,
        "structures": False,
    }
    changed_at = {c["partner"]: c["changed_at"] for c in found["consents"]}
    assert changed_at["caf"] > given_at["caf"]
    assert changed_at["france_travail"] == given_at["france_travail"]
    unknown = await client.put("/api/v1/me/consents", json={"partner": "nsa", "granted": True})
    assert unknown.status_code == 422


async def test_saying_no_to_follow_up_once_in_work_closes_the_journey(
    api: ApiClients, staff: Staff, new_account: NewAccount, dev_env: WorkflowEnvironment
) -> None:
    beneficiary_id = await enrol(api.referent)
    person = await new_account("beneficiary", beneficiary_id=beneficiary_id)
    client = api(person)
    # Before work, the wish is only remembered.
    early = await client.put("/api/v1/me/follow-up", json={"wish": True})
    assert early.status_code == 204, early.text
    assert ((await me(client))["follow_up_wish"], (await me(client))["journey"]["step"]) == (
        True,
        "intake",
    )
    await to_accompaniment(api, staff, beneficiary_id)
    await act(
        api.referent,
        beneficiary_id,
        "record-employment",
        started_on=date.today().isoformat(),
        contract="cdd",
    )

    opted_out = await client.put("/api/v1/me/follow-up", json={"wish": False})

    assert opted_out.status_code == 204, opted_out.text
    own = await me(client)
    assert own["follow_up_wish"] is False
    assert (own["journey"]["step"], own["journey"]["exit_reason"]) == ("closed", "employment")
    assert own["journey"]["exit_reason_label"] == "Emploi, sans suivi"
    detail = await read(api.referent, beneficiary_id)
    assert kinds(detail)[-3:] == ["employment_recorded", "follow_up_consent", "closed"]
    decided = next(e for e in detail["timeline"] if e["kind"] == "follow_up_consent")
    assert (decided["actor"]["id"], decided["detail"]) == (person.id, {"consent": False})
    # The workflow ended on it.
    handle: WorkflowHandle[Any, JourneyResult] = dev_env.client.get_workflow_handle(
        f"journey-{beneficiary_id}", result_type=JourneyResult
    )
    assert (await handle.result()).exit_reason is ExitReason.EMPLOYMENT


# --- Access, portability and erasure ---


async def database_text(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, list[bytes]]:
    """Every row of every table, as text (casefolded), and every binary value apart."""
    rows_text: list[str] = []
    blobs: list[bytes] = []
    async with sessions() as session:
        connection = await session.connection()
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert {"beneficiaries", "users", "access_log", "documents", "notes"} <= set(tables)
        for table in tables:
            quoted = connection.dialect.identifier_preparer.quote(table)
            for row in await connection.execute(text(f"SELECT * FROM {quoted}")):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        blobs.append(bytes(value))
                    else:
                        rows_text.append(str(value))
    return "\n".join(rows_text).casefold(), blobs


# Whether a database file or its write-ahead log holds one of the values (hex arguments).
FILES_HOLD = """
import pathlib, sys
path = pathlib.Path(sys.argv[1])
data = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
print("found" if any(bytes.fromhex(v) in data for v in sys.argv[2:]) else "none")
"""


def traces(haystack: str, blobs: list[bytes], values: dict[str, object]) -> list[str]:
    """The names of the values found, in any written form, in the text or the blobs."""
    found = []
    for field, value in values.items():
        if isinstance(value, bytes):
            if any(value in blob for blob in blobs) or value.decode().casefold() in haystack:
                found.append(field)
        elif any(
            form.casefold() in haystack
            for form in forms("phone" if field.endswith("phone") else field, value)
        ):
            found.append(field)
    return found


@pytest.mark.security
async def test_a_person_downloads_their_data_then_is_erased_without_a_trace(
    api: ApiClients,
    browsers: Browsers,
    staff: Staff,
    new_account: NewAccount,
    sessions: async_sessionmaker[AsyncSession],
    dev_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    # Someone recognisable: values found nowhere in the database yet (the birth date too).
    before, _ = await database_text(sessions)
    while True:
        identity = recognisable_person()
        if not any(f.casefold() in before for f in forms("birth_date", identity["birth_date"])):
            break
    tag = uuid.uuid4().hex[:8]
    rng = random.Random(tag)
    marker = f"%Bulletin de salaire {tag}".encode()
    written: dict[str, object] = {
        "fact": f"Hébergée chez sa sœur {tag}",
        "diagnosis": f"Reprise d'emploi après un congé parental {tag}",
        "note": f"A confié des difficultés familiales {tag}",
        "appointment": f"Permanence de la mairie {tag}",
        "plan": f"Passer le permis {tag}",
        "document": marker,
        "new_phone": f"06{rng.randint(10_000_000, 29_999_999)}",  # 061…, 062…: allocated
        "new_address": f"{rng.randint(2, 99)} impasse des Gentianes {tag}",
        "reorientation": f"Je voudrais un accompagnement plus proche de chez moi {tag}",
    }
    payload = person_payload(
        **{k: v.isoformat() if isinstance(v, date) else v for k, v in identity.items()}
    )
    beneficiary_id = await enrol(api.referent, **payload)
    full_name = f"{identity['first_name']} {identity['last_name']}"
    person = await new_account(
        "beneficiary",
        beneficiary_id=beneficiary_id,
        full_name=full_name,
        email=str(identity["email"]),
    )
    client = api(person)
    browser = await browsers(person)  # a session too: it must go with the account

    # The référent completes the carnet; the person corrects and consents.
    referent = api.referent
    for what, body in (
        ("facts", {"theme": "housing", "label": "Hébergement", "value": written["fact"]}),
        ("diagnosis", {"summary": written["diagnosis"], "obstacles": ["childcare"]}),
        ("notes", {"body": written["note"]}),
        (
            "appointments",
            {
                "starts_at": datetime.now(UTC).isoformat(),
                "place": written["appointment"],
                "purpose": "Premier rendez-vous",
            },
        ),
        ("plan-actions", {"theme": "mobility", "objective": written["plan"], "action": "Code"}),
    ):
        response = await write(referent, beneficiary_id, what, body)
        assert response.status_code in (201, 204), response.text
    document = PDF + b"\n" + marker
    assert (await upload(referent, beneficiary_id, document)).status_code == 204
    contact = {"phone": written["new_phone"], "address": written["new_address"]}
    assert (await client.put("/api/v1/me/contact", json=contact)).status_code == 204
    consent = {"partner": "region", "granted": True}
    assert (await client.put("/api/v1/me/consents", json=consent)).status_code == 204
    # Oriented (the diagnosis brought the journey to its orientation step), the person asks
    # for a reorientation in her own words.
    await act(
        api.orientation,
        beneficiary_id,
        "decide-orientation",
        kind="social",
        structure_id=staff.structure_id,
        referent_id=staff.referent_id,
    )
    asked_reorientation = await client.post(
        f"/api/v1/journeys/{beneficiary_id}/reorientations",
        json={"reason_code": "other", "reason_text": written["reorientation"]},
    )
    assert asked_reorientation.status_code == 201, asked_reorientation.text

    # Droit d'accès et de portabilité: everything, as JSON.
    exported = await client.get("/api/v1/me/export")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("application/json")
    data = exported.json()
    assert (data["beneficiary"]["first_name"], data["beneficiary"]["last_name"]) == (
        identity["first_name"],
        identity["last_name"],
    )
    assert data["beneficiary"]["nir"] == identity["nir"]
    assert data["beneficiary"]["phone"] == f"+33{str(written['new_phone'])[1:]}"  # E.164
    assert [f["value"] for f in data["facts"]] == [written["fact"]]
    assert data["diagnosis"]["summary"] == written["diagnosis"]
    assert [a["objective"] for a in data["plan"]] == [written["plan"]]
    assert [d["size"] for d in data["documents"]] == [len(document)]
    # What professionals wrote about them is theirs to read too (right of access).
    assert [n["body"] for n in data["notes"]] == [written["note"]]
    assert [r["reason_text"] for r in data["reorientations"]] == [written["reorientation"]]
    assert "exported_at" in data

    # Everything is in the database now, where the search below finds it.
    personal: dict[str, object] = {k: v for k, v in identity.items() if k != "postal_code"}
    personal.pop("city")  # a town's name is shared by thousands
    personal.update(written)
    personal["full_name"] = full_name
    corrected = {"phone", "address"}  # replaced by the person's corrections
    haystack, blobs = await database_text(sessions)
    assert set(traces(haystack, blobs, personal)) == set(personal) - corrected

    # Droit à l'effacement: asked for, then carried out by the admin.
    asked = await client.post("/api/v1/me/erasure")
    assert (asked.status_code, asked.json()["detail"]) == (
        202,
        "Votre demande d'effacement est enregistrée ; vous serez informé·e de sa suite.",
    )
    assert (await client.post("/api/v1/me/erasure")).status_code == 202  # asked twice: one
    async with sessions() as session:
        (pending,) = (
            await session.scalars(
                select(ErasureRequest).where(ErasureRequest.beneficiary_id == beneficiary_id)
            )
        ).all()
    assert pending.status == "pending"

    # The admin confirms it from the erasure requests page (which calls ``erase_person``).
    admin = await browsers("admin")
    listed = await admin.get("/admin/effacements")
    assert f"/admin/effacements/{pending.id}" in listed.text
    assert (await admin.get(f"/admin/effacements/{pending.id}")).status_code == 200
    erased = await admin.post(f"/admin/effacements/{pending.id}")
    assert (erased.status_code, erased.headers["location"]) == (
        303,
        "/admin/effacements?fait=effacement#resultat",
    )

    async with sessions() as session:
        (request,) = (
            await session.scalars(
                select(ErasureRequest).where(ErasureRequest.beneficiary_id == beneficiary_id)
            )
        ).all()
    assert (request.status, request.handled_by) == ("done", staff.admin_id)
    # Their account is gone, its session and token with it.
    assert (await client.get("/api/v1/me/carnet")).status_code == 401
    assert (await browser.get("/api/v1/me/carnet")).status_code == 401
    # What remains for the référent: an anonymous, closed journey.
    remains = await carnet(referent, beneficiary_id)
    assert (remains["beneficiary"]["first_name"], remains["beneficiary"]["last_name"]) == (
        "Personne",
        "effacée",
    )
    assert remains["journey"]["step"] == "closed"
    empty = ("facts", "notes", "plan", "appointments", "documents")
    assert [remains[part] for part in empty] == [[]] * len(empty)
    assert remains["diagnosis"] is None

    # No personal data left anywhere in the database…
    haystack, blobs = await database_text(sessions)
    assert beneficiary_id in haystack  # the search sees the person's rows
    assert traces(haystack, blobs, personal) == []

    # …and none was ever in Temporal, whose history cannot be erased.
    handle = dev_env.client.get_workflow_handle(f"journey-{beneficiary_id}")
    history = searchable(await handle.fetch_history())
    assert beneficiary_id in history
    assert traces(history, [], personal) == []

    # Nor in the database's files (SQLite): not in the pages' free space, not in the
    # write-ahead log, which the erasure empties once committed.
    if settings.database_url.startswith("sqlite"):
        path = Path(str(make_url(settings.database_url).database))
        raw = [str(personal[k]).encode() for k in ("nir", "email", "caf_number", "first_name")] + [
            str(v).encode() for v in written.values()
        ]

        async def left_in_files() -> bool:
            # Read in another process: opening and closing the database file here would drop
            # this process's SQLite locks on it (POSIX locks are per process).
            found = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-c", FILES_HOLD, str(path), *(v.hex() for v in raw)],
                capture_output=True,
                text=True,
                check=True,
            )
            return found.stdout.strip() == "none"

        await until(left_in_files, timeout_s=30)
