"""The sanction panels render every state of a case (opened, notified, sanctioned, lifted,
closed without sanction) with what each reader may do: a template error would take the
journey's page or the person's space down with it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from api.forms import local_time
from api.templating import templates
from parcours.sanctions.messages import (
    Breach,
    CaseStatus,
    Measure,
    SanctionBounds,
    SanctionCaseState,
)
from parcours.sanctions.rules import MEASURE_LABELS, STATUS_LABELS
from parcours.sanctions.service import case_read

pytestmark = pytest.mark.law

OPENED = SanctionCaseState(
    case_id="c1", breach=Breach.ABSENCE, repeated=False, opened_at=datetime(2026, 3, 2, tzinfo=UTC)
)
NOTIFIED = OPENED.model_copy(
    update={
        "status": CaseStatus.NOTIFIED,
        "received_on": date(2026, 3, 4),
        "window_ends_on": date(2026, 3, 14),
        "observations_received": True,
        "hearing_requested": True,
        "hearing_with_companion": True,
        "hearing_on": date(2026, 3, 10),
        "team_session_on": date(2026, 3, 16),
        "team_member_ids": ["a", "b"],
        "team_opinion": "sanction",
    }
)
SANCTIONED = NOTIFIED.model_copy(
    update={
        "status": CaseStatus.SANCTIONED,
        "measure": Measure.SUSPENSION,
        "rate_percent": 50,
        "months": 2,
        "decided_on": date(2026, 3, 16),
        "ends_on": date(2026, 5, 16),
    }
)
LIFTED = SANCTIONED.model_copy(
    update={
        "status": CaseStatus.CLOSED,
        "lifted_on": date(2026, 4, 1),
        "lift_reason": "remobilisation",
        "france_travail_proposed": True,
    }
)
NONE = NOTIFIED.model_copy(
    update={"status": CaseStatus.CLOSED, "measure": Measure.NONE, "rate_percent": 0, "months": 0}
)


class FakeRequest:
    """What the macros read of the request (its CSRF token)."""

    state = type("S", (), {"csrf": "token"})()


def render(name: str, role: str, cases: list[SanctionCaseState] | None) -> str:
    reads = None if cases is None else [case_read(c, SanctionBounds(), 50) for c in cases]
    context: dict[str, Any] = {
        "sanctions": reads,
        "sanction_statuses": STATUS_LABELS,
        "sanction_measures": list(MEASURE_LABELS.items()),
        "role": role,
        "b": type("B", (), {"id": "p1"})(),
        "form": {},
        "failed": None,
        "field_errors": {},
        "local": local_time,
        "request": FakeRequest(),
    }
    return templates.env.get_template(name).render(context)


@pytest.mark.parametrize("role", ["referent", "orientation", "manager"])
def test_the_journey_panel_renders_every_state(role: str) -> None:
    page = render(
        "sanctions/journey_panel.html", role, [OPENED, NOTIFIED, SANCTIONED, LIFTED, NONE]
    )
    assert "Suspension de 50 % pendant 2 mois" in page
    assert "Plafond calculé du foyer déclaré à la CAF : <strong>50 %</strong>" in page
    assert "contrat signé (remobilisation)" in page
    assert "Radiation proposée à France Travail" in page
    assert ("Enregistrer la décision" in page) is (role != "referent")
    assert ("Dater la réception" in page) is (role == "referent")
    unavailable = render("sanctions/journey_panel.html", role, None)
    assert "moteur de workflows indisponible" in unavailable


def test_the_person_sees_her_cases_and_her_rights() -> None:
    page = render("sanctions/me_panel.html", "beneficiary", [OPENED, NOTIFIED, LIFTED])
    assert "Accuser réception" in page
    assert "Envoyer mes observations" in page
    assert "Levée le 01/04/2026 : vous avez signé votre contrat d'engagement." in page
    assert "elle ne dépassera pas 50 %" in page
