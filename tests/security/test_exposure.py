"""What the platform lets out: /metrics only with its token (or in development and tests),
and a refused request never echoes what was sent (a NIR, an address) — issue 16, item 6."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from parcours.core.settings import Settings
from tests.support.api import served
from tests.support.clients import ApiClients
from tests.support.people import person_payload

pytestmark = pytest.mark.security


async def test_metrics_ask_for_their_token_when_one_is_set(
    settings: Settings, dev_env: WorkflowEnvironment
) -> None:
    guarded = settings.model_copy(update={"metrics_token": "jeton-des-metriques"})
    async with served(create_app(guarded, temporal=dev_env.client)) as http:
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer autre-chose"})
        assert wrong.status_code == 401
        right = await http.get("/metrics", headers={"Authorization": "Bearer jeton-des-metriques"})
        assert right.status_code == 200
        assert "parcours_http_requests_total" in right.text


async def test_metrics_are_closed_in_production_without_a_token(
    settings: Settings, dev_env: WorkflowEnvironment
) -> None:
    production = settings.model_copy(update={"environment": "production"})
    async with served(create_app(production, temporal=dev_env.client)) as http:
        closed = await http.get("/metrics")
        assert closed.status_code == 404
        assert "PARCOURS_METRICS_TOKEN" in closed.json()["detail"]


async def test_a_refused_enrolment_names_the_fields_and_echoes_nothing(api: ApiClients) -> None:
    payload = person_payload(nir="288047311512399", phone="06 pas un numéro")
    payload["birth_date"] = "1850-01-01"
    response = await api.orientation.post("/api/v1/beneficiaries", json=payload)
    assert response.status_code == 422
    fields = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert ("body", "nir") in fields and ("body", "birth_date") in fields
    for sent in ("288047311512399", "1850-01-01", str(payload["first_name"])):
        assert sent not in response.text
    assert all("input" not in error for error in response.json()["detail"])
