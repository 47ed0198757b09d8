"""The sanction rules alone (décret 2025-478): the bounds of a first and a repeated breach,
the household cap (R.262-68-6), the 12-month repeat window, and no decision before the window
ends or without a dated notice."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from parcours.sanctions import rules
from parcours.sanctions.messages import (
    Breach,
    CaseStatus,
    DecideSanctionInput,
    Measure,
    SanctionBounds,
    SanctionCaseState,
)

pytestmark = pytest.mark.law

BOUNDS = SanctionBounds()
OPENED = datetime(2026, 3, 2, 9, tzinfo=UTC)


def case(repeated: bool = False, **changes: object) -> SanctionCaseState:
    state = SanctionCaseState(
        case_id="c1",
        breach=Breach.ABSENCE,
        repeated=repeated,
        opened_at=OPENED,
        status=CaseStatus.NOTIFIED,
        received_on=date(2026, 3, 4),
        window_ends_on=date(2026, 3, 14),
        team_opinion="sanction",
    )
    return state.model_copy(update=changes)


def refusal(state: SanctionCaseState, today: date, **decision: object) -> str | None:
    action = DecideSanctionInput.model_validate(decision)
    return rules.decision_refusal(state, action, BOUNDS, today)


AFTER = date(2026, 3, 15)


def test_a_first_breach_suspends_30_to_100_percent_for_1_to_2_months() -> None:
    ok = {"measure": Measure.SUSPENSION, "rate_percent": 30, "months": 2}
    assert refusal(case(), AFTER, **ok) is None
    assert "au moins 30 %" in (refusal(case(), AFTER, **ok | {"rate_percent": 20}) or "")
    assert "de 1 à 2 mois" in (refusal(case(), AFTER, **ok | {"months": 3}) or "")
    assert "seule une suspension" in (refusal(case(), AFTER, **ok | {"measure": "removal"}) or "")


def test_a_repeated_breach_may_remove_all_for_4_months_but_a_couple_half() -> None:
    removal = {"measure": Measure.REMOVAL, "rate_percent": 100, "months": 4}
    assert refusal(case(repeated=True), AFTER, **removal) is None
    assert "de 1 à 4 mois" in (refusal(case(repeated=True), AFTER, **removal | {"months": 5}) or "")
    capped = refusal(case(repeated=True), AFTER, **removal | {"cap_percent": 50})
    assert capped is not None and "plafonné à 50 %" in capped and "R.262-68-6" in capped


def test_the_cap_comes_from_the_household() -> None:
    assert rules.household_cap(BOUNDS, {"adults": 1, "dependent_children": 0}) == 100
    assert rules.household_cap(BOUNDS, {"adults": 2, "dependent_children": 0}) == 50
    assert rules.household_cap(BOUNDS, {"adults": 1, "dependent_children": 1}) == 50
    assert rules.household_cap(BOUNDS, {"adults": 1, "single_parent_supplement": True}) == 50


def test_no_decision_before_the_window_ends_nor_without_a_dated_notice() -> None:
    ok = {"measure": Measure.SUSPENSION, "rate_percent": 30, "months": 1}
    last_day = refusal(case(), date(2026, 3, 14), **ok)
    assert last_day is not None and "jusqu'au 14/03/2026 inclus" in last_day
    undated = case(status=CaseStatus.OPENED, received_on=None, window_ends_on=None)
    assert "notification datée" in (refusal(undated, AFTER, **ok) or "")
    unheard = case(team_opinion=None)
    assert "équipe pluridisciplinaire" in (refusal(unheard, AFTER, **ok) or "")


def test_repeated_means_a_sanction_decided_in_the_12_months_before() -> None:
    opened = date(2026, 6, 1)
    assert rules.is_repeated([(date(2025, 6, 1), "suspension")], opened, BOUNDS)
    assert not rules.is_repeated([(date(2025, 5, 31), "suspension")], opened, BOUNDS)
    # A case closed without sanction found no breach.
    assert not rules.is_repeated([(date(2026, 5, 1), "none")], opened, BOUNDS)
