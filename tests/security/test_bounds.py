"""Numbers a client sends are bounded: an offset, a page or an id beyond what the database
holds (2^63 here) is refused as invalid — 422 from the JSON API with the parameter's name, a
French page from the pages — never a 500 (issue 16, item 3)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import VALUE_REFUSED
from tests.conftest import POSTGRES
from tests.support.accounts import NewAccount
from tests.support.clients import ApiClients, Browsers
from tests.support.training_requests import funder_account

pytestmark = pytest.mark.security

HUGE = str(2**63)


@pytest.mark.parametrize(
    ("who", "method", "path", "parameter"),
    [
        ("referent", "GET", f"/api/v1/journeys?offset={HUGE}", "offset"),
        ("referent", "GET", f"/api/v1/training-requests?offset={HUGE}", "offset"),
        ("manager", "GET", f"/api/v1/management/stalled?offset={HUGE}", "offset"),
        ("referent", "GET", f"/api/v1/resources/services/{HUGE}", "service_id"),
        ("manager", "POST", f"/api/v1/management/incidents/{HUGE}/retry", "incident_id"),
    ],
)
async def test_the_api_refuses_numbers_out_of_range_with_a_422(
    api: ApiClients, who: str, method: str, path: str, parameter: str
) -> None:
    response = await api(who).request(method, path)
    assert response.status_code == 422, response.text
    assert parameter in response.text


async def test_the_funders_list_refuses_an_offset_out_of_range(
    api: ApiClients, sessions: async_sessionmaker[AsyncSession], new_account: NewAccount
) -> None:
    region = await funder_account(sessions, new_account, "region")
    response = await api(region).get(f"/api/v1/funder/training-requests?offset={HUGE}")
    assert response.status_code == 422, response.text


async def test_the_pages_answer_out_of_range_numbers_in_french(browsers: Browsers) -> None:
    referent = await browsers("referent")
    service = await referent.get(f"/ressources/services/{HUGE}")
    assert service.status_code == 400
    assert "contient une valeur qui n" in service.text and "pas valide" in service.text
    listing = await referent.get(f"/parcours?page={HUGE}")
    assert listing.status_code == 400
    assert "pas valide" in listing.text
    # The stalled list reads its page by hand: past the last, it shows its last (empty) page.
    manager = await browsers("manager")
    stalled = await manager.get(f"/gestion/bloques?page={HUGE}")
    assert stalled.status_code == 200
    assert "<html" in stalled.text


async def test_a_nul_character_is_refused_not_a_server_error(api: ApiClients) -> None:
    """PostgreSQL cannot store a NUL character (SQLite can, and finds nobody): the client
    sent it, the answer says so, never a 500 (schemathesis found it on PostgreSQL)."""
    response = await api.referent.get("/api/v1/journeys/%00abc")
    assert response.status_code in (404, 422), response.text
    if POSTGRES:
        assert response.status_code == 422
        assert response.json() == {"detail": VALUE_REFUSED}
