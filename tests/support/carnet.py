"""The carnet de bord through the JSON API: read it, write to it, upload a document (``PDF``),
and bring a journey to accompaniment."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.accounts import Staff
from tests.support.api import act
from tests.support.clients import ApiClients

Json = dict[str, Any]

# The smallest file a PDF reader opens, with a marker to find it by.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def carnet_of(beneficiary_id: str) -> str:
    return f"/api/v1/beneficiaries/{beneficiary_id}"


async def carnet(client: httpx.AsyncClient, beneficiary_id: str) -> Json:
    response = await client.get(f"{carnet_of(beneficiary_id)}/carnet")
    assert response.status_code == 200, response.text
    found: Json = response.json()
    return found


async def write(
    client: httpx.AsyncClient, beneficiary_id: str, what: str, body: Json, method: str = "POST"
) -> httpx.Response:
    return await client.request(method, f"{carnet_of(beneficiary_id)}/{what}", json=body)


async def upload(
    client: httpx.AsyncClient,
    beneficiary_id: str,
    data: bytes,
    filename: str = "attestation.pdf",
    content_type: str = "application/pdf",
) -> httpx.Response:
    return await client.post(
        f"{carnet_of(beneficiary_id)}/documents", files={"file": (filename, data, content_type)}
    )


async def to_accompaniment(api: ApiClients, staff: Staff, beneficiary_id: str) -> None:
    """Diagnosis by the référent, orientation by the chargée d'orientation, back to them."""
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
