"""The journeys' search attributes: what operators filter on in Temporal (ids, never names)."""

from __future__ import annotations

from datetime import datetime

from temporalio.common import SearchAttributeKey

from parcours.journey.messages import JourneyState

STEP_KEY = SearchAttributeKey.for_keyword("JourneyStep")
DEADLINE_KEY = SearchAttributeKey.for_datetime("StepDeadline")
REFERENT_KEY = SearchAttributeKey.for_keyword("Referent")
TERRITORY_KEY = SearchAttributeKey.for_keyword("Territory")

SearchValues = dict[str, str | datetime | None]


def search_values(state: JourneyState) -> SearchValues:
    return {
        STEP_KEY.name: state.step.value,
        DEADLINE_KEY.name: state.deadline,
        REFERENT_KEY.name: state.referent_id,
        TERRITORY_KEY.name: state.territory,
    }
