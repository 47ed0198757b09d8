"""A département sets itself up (``onboarding``): its first administrator from the command line,
then, through the console's API, its structures, its agents (invited with a one-time link,
changed, deactivated at once) and its partners' API tokens (scoped, revoked at once). Bad input
gets a clear French refusal and changes nothing."""

from __future__ import annotations

import asyncio
import html
import json
import os
import subprocess
import sys
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import AccessLogEntry, User
from parcours.core.settings import DEV_CALLBACK_SECRET, ROOT, Settings
from parcours.territories.models import Territory
from simulators.signing import signed_headers
from tests.support.accounts import Staff
from tests.support.clients import csrf_in
from tests.support.people import person_payload
from tests.support.territories import departement_without_admin

pytestmark = pytest.mark.onboarding

Json = dict[str, Any]


def admin(api_url: str, staff: Staff) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api_url, headers=staff.headers("admin"), timeout=30)


async def new_structure(client: httpx.AsyncClient, name: str | None = None) -> Json:
    created = await client.post(
        "/api/v1/admin/structures",
        json={"name": name or f"Mission locale {uuid.uuid4().hex[:6]}", "kind": "mission_locale"},
    )
    assert created.status_code == 201, created.text
    body: Json = created.json()
    return body


async def invite(client: httpx.AsyncClient, structure_id: str, role: str = "referent") -> Json:
    tag = uuid.uuid4().hex[:6]
    invited = await client.post(
        "/api/v1/admin/agents",
        json={
            "email": f"agent.{tag}@exemple.fr",
            "full_name": f"Agente {tag}",
            "role": role,
            "structure_id": structure_id,
        },
    )
    assert invited.status_code == 201, invited.text
    body: Json = invited.json()
    return body


async def activate(api_url: str, link: str, password: str = "un-mot-de-passe-73") -> httpx.Cookies:
    """The agent follows the link and chooses a password: signed in."""
    path = "/" + link.split("/", 3)[3]
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as browser:
        form = await browser.get(path)
        assert form.status_code == 200 and "Choisir son mot de passe" in form.text
        token = csrf_in(form.text)
        done = await browser.post(
            path, data={"password": password, "confirm": password, "csrf_token": token}
        )
        assert done.status_code == 303, done.text
        return browser.cookies


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "PARCOURS_ENVIRONMENT": "test",
            "PARCOURS_SECRET_KEY": "test-secret-key",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_first_administrator_comes_from_the_command_line_once(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], api_url: str
) -> None:
    territory = await departement_without_admin(sessions)
    email = f"admin.{uuid.uuid4().hex[:6]}@departement.fr"
    created = await asyncio.to_thread(
        run_cli, settings, "admin", "create-admin", email, "--name", "Inès Morel",
        "--territory", territory,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    link = next(w for w in created.stdout.split() if "/activation/" in w)
    cookies = await activate(api_url, link)
    async with httpx.AsyncClient(base_url=api_url, cookies=cookies, timeout=30) as browser:
        console = await browser.get("/admin/structures")
    assert console.status_code == 200
    assert f"Administration du département {territory}" in html.unescape(console.text)

    again = await asyncio.to_thread(
        run_cli, settings, "admin", "create-admin", f"x{email}", "--name", "Autre",
        "--territory", territory,
    )  # fmt: skip
    assert again.returncode == 1
    assert "a déjà un administrateur" in again.stderr
    async with sessions() as session:
        found = await session.scalar(select(User).where(User.email == f"x{email}"))
        hosted = await session.get(Territory, territory)
    assert found is None
    # The département is hosted from its first administrator on: its people can be enrolled.
    assert hosted is not None and hosted.active

    unknown = await asyncio.to_thread(
        run_cli, settings, "admin", "create-admin", f"y{email}", "--name", "Autre",
        "--territory", "99",
    )  # fmt: skip
    assert unknown.returncode == 1 and "Département « 99 » inconnu." in unknown.stderr


async def test_an_administrator_creates_a_structure_invites_a_referente_who_enrols_a_person(
    api_url: str, staff: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with admin(api_url, staff) as client:
        structure = await new_structure(client)
        invited = await invite(client, structure["id"])
        agent = invited["agent"]
        assert (agent["role"], agent["invited"], agent["structure"]["id"]) == (
            "referent",
            True,
            structure["id"],
        )
        listed = {a["id"]: a for a in (await client.get("/api/v1/admin/agents")).json()}
        assert listed[agent["id"]]["invited"] is True

    cookies = await activate(api_url, invited["link"])
    async with httpx.AsyncClient(base_url=api_url, cookies=cookies, timeout=30) as browser:
        page = await browser.get("/parcours/nouveau")
        assert page.status_code == 200
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        payload = {k: str(v) for k, v in person_payload().items()}
        enrolled = await browser.post("/parcours/nouveau", data={**payload, "csrf_token": csrf})
    assert enrolled.status_code == 303, enrolled.text[:500]

    # The link works once; it was for 72 hours.
    path = "/" + invited["link"].split("/", 3)[3]
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as browser:
        token = csrf_in((await browser.get(path)).text)
        again = "un-autre-mot-de-passe-1"
        reused = await browser.post(
            path, data={"password": again, "confirm": again, "csrf_token": token}
        )
    assert reused.status_code == 422 and "n'est plus valable" in html.unescape(reused.text)

    async with sessions() as session:
        logged = set(
            await session.scalars(
                select(AccessLogEntry.what).where(
                    AccessLogEntry.user_id == staff.admin_id,
                    AccessLogEntry.subject.in_(
                        [f"structure:{structure['id']}", f"user:{agent['id']}"]
                    ),
                )
            )
        )
    assert logged == {"admin.structure.create", "admin.agent.invite"}


async def test_bad_input_is_refused_with_the_reason_and_changes_nothing(
    api_url: str, staff: Staff
) -> None:
    async with admin(api_url, staff) as client:
        structure = await new_structure(client)
        invited = await invite(client, structure["id"])
        again = await client.post(
            "/api/v1/admin/agents",
            json={
                "email": invited["agent"]["email"],
                "full_name": "Doublon",
                "role": "referent",
                "structure_id": structure["id"],
            },
        )
        assert again.status_code == 409 and "existe déjà" in again.json()["detail"]

        busy = await client.post(f"/api/v1/admin/structures/{structure['id']}/deactivation")
        assert busy.status_code == 409
        assert invited["agent"]["full_name"] in busy.json()["detail"]

        person = await client.post(
            "/api/v1/admin/agents",
            json={
                "email": f"p.{uuid.uuid4().hex[:6]}@exemple.fr",
                "full_name": "Personne",
                "role": "beneficiary",
                "structure_id": structure["id"],
            },
        )
        assert person.status_code == 422

    async with httpx.AsyncClient(
        base_url=api_url, headers=staff.headers("referent"), timeout=30
    ) as referent:
        refused = await referent.get("/api/v1/admin/structures")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Cette page est réservée aux administrateurs du département."


async def test_a_deactivated_agent_is_out_at_once_and_their_journeys_are_listed(
    api_url: str, staff: Staff
) -> None:
    async with admin(api_url, staff) as client:
        structure = await new_structure(client)
        invited = await invite(client, structure["id"])
        agent_id = invited["agent"]["id"]
        token = await client.post(
            "/api/v1/admin/tokens", json={"label": "script de l'agente", "agent_id": agent_id}
        )
        assert token.status_code == 201, token.text
        secret = token.json()["secret"]
    cookies = await activate(api_url, invited["link"])

    async with httpx.AsyncClient(base_url=api_url, cookies=cookies, timeout=30) as browser:
        page = await browser.get("/parcours/nouveau")
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        payload = {k: str(v) for k, v in person_payload().items()}
        assert (
            await browser.post("/parcours/nouveau", data={**payload, "csrf_token": csrf})
        ).status_code == 303
        assert (await browser.get("/parcours")).status_code == 200
        async with httpx.AsyncClient(
            base_url=api_url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
        ) as script:
            assert (await script.get("/api/v1/journeys")).status_code == 200

            async with admin(api_url, staff) as client:
                done = await client.post(f"/api/v1/admin/agents/{agent_id}/deactivation")
            assert done.status_code == 200, done.text
            body = done.json()
            assert (body["sessions_ended"], body["tokens_revoked"]) == (1, 1)
            assert [p["label"] for p in body["journeys_to_reassign"]] == [
                f"{payload['first_name']} {payload['last_name']}"
            ]

            assert (await script.get("/api/v1/journeys")).status_code == 401
        signed_out = await browser.get("/parcours")
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/connexion")


def training_decision(partner: str) -> bytes:
    return json.dumps(
        {
            "callback_id": str(uuid.uuid4()),
            "partner": partner,
            "kind": "training_decision",
            "request_id": str(uuid.uuid4()),
            "reference": "REF-INCONNUE",
            "decision": "refused",
            "reason": "Places épuisées",
        }
    ).encode()


async def test_a_partners_token_signs_its_callbacks_only_and_stops_when_revoked(
    api_url: str, staff: Staff
) -> None:
    async with admin(api_url, staff) as client:
        created = await client.post(
            "/api/v1/admin/tokens", json={"label": "Système de la Région", "partner": "region"}
        )
        assert created.status_code == 201, created.text
        secret, token_id = created.json()["secret"], created.json()["token"]["id"]
        listed = {t["id"]: t for t in (await client.get("/api/v1/admin/tokens")).json()}
        assert listed[token_id]["scope"] == "Partenaire : Région"
        assert "secret" not in listed[token_id]

    async def send(route: str, body: bytes) -> httpx.Response:
        async with httpx.AsyncClient(base_url=api_url, timeout=30) as partner:
            return await partner.post(
                f"/api/v1/partners/{route}/callbacks",
                content=body,
                headers={
                    **signed_headers(DEV_CALLBACK_SECRET, body),
                    "Authorization": f"Bearer {secret}",
                    "Content-Type": "application/json",
                },
            )

    accepted = await send("region", training_decision("region"))
    assert accepted.status_code == 200, accepted.text
    assert (await send("france_travail", training_decision("france_travail"))).status_code == 403
    assert (await send("region", training_decision("france_travail"))).status_code == 403
    # An agent's API is not a partner's: the token opens nothing else.
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
    ) as partner:
        assert (await partner.get("/api/v1/journeys")).status_code == 401

    async with admin(api_url, staff) as client:
        revoked = await client.post(f"/api/v1/admin/tokens/{token_id}/revocation")
        assert revoked.status_code == 200 and revoked.json()["active"] is False

        async def last_used() -> str | None:
            listed = (await client.get("/api/v1/admin/tokens")).json()
            found: str | None = {t["id"]: t for t in listed}[token_id]["last_used_at"]
            return found

        # Its last use is recorded just after the request that used it.
        async with asyncio.timeout(10):
            while await last_used() is None:
                await asyncio.sleep(0.05)
    assert (await send("region", training_decision("region"))).status_code == 401


async def test_structures_come_from_a_data_inclusion_file_of_the_departement_only(
    api_url: str, staff: Staff
) -> None:
    tag = uuid.uuid4().hex[:6]
    rows = [
        {
            "source": "dora",
            "id": f"savoie-{tag}",
            "nom": f"PLIE du bassin chambérien {tag}",
            "date_maj": "2026-10-01",
            "code_insee": "73065",
            "code_postal": "73000",
            "commune": "Chambéry",
            "reseaux_porteurs": ["plie"],
        },
        {
            "source": "dora",
            "id": f"rhone-{tag}",
            "nom": f"Association lyonnaise {tag}",
            "date_maj": "2026-10-01",
            "code_insee": "69123",
            "code_postal": "69001",
            "commune": "Lyon",
        },
    ]
    async with admin(api_url, staff) as client:
        files = {"file": ("structures.json", json.dumps(rows).encode(), "application/json")}
        first = await client.post("/api/v1/admin/structures/import", files=files)
        assert first.status_code == 200, first.text
        report = first.json()
        assert (report["created"], report["updated"]) == (1, 0)
        assert list(report["skipped"].values()) == [
            "structure d'un autre département (69) : non importée"
        ]
        again = await client.post("/api/v1/admin/structures/import", files=files)
        assert (again.json()["created"], again.json()["updated"]) == (0, 1)
        mine = [
            s for s in (await client.get("/api/v1/admin/structures")).json() if tag in s["name"]
        ]
    assert [(s["name"], s["kind"], s["source"]) for s in mine] == [
        (f"PLIE du bassin chambérien {tag}", "plie", "dora")
    ]
