"""The 15-hours rule: the weekly activity hours a person's plan adds up to, against the
target of their contrat d'engagement (15 hours by default, as the law on full employment
sets it for RSA beneficiaries).

An action's hours are, in this order: what the référent entered on the action, the linked
service's ``volume_horaire_hebdomadaire`` (data·inclusion), the linked training's
``weekly_hours``. An action with none of them is counted as unknown, not as zero hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFAULT_WEEKLY_TARGET = 15.0


@dataclass(frozen=True)
class PlannedActivity:
    """One active action of the plan, as the rule needs it."""

    weekly_hours: float | None = None
    service_id: int | None = None
    training_id: str | None = None


@dataclass(frozen=True)
class WeeklyHours:
    total: float
    target: float
    counted: int
    unknown: int

    @property
    def reached(self) -> bool:
        return self.total >= self.target

    @property
    def missing(self) -> float:
        return max(0.0, self.target - self.total)

    @property
    def label(self) -> str:
        """« 12 h / 15 h par semaine (2 actions sans durée connue) »."""
        text = f"{_hours(self.total)} / {_hours(self.target)} par semaine"
        if self.unknown:
            s = "s" if self.unknown > 1 else ""
            text += f" ({self.unknown} action{s} sans durée connue)"
        return text


def _hours(value: float) -> str:
    return f"{value:g} h".replace(".", ",")


def hours_of(
    activity: PlannedActivity,
    service_hours: Mapping[int, float | None],
    training_hours: Mapping[str, float | None],
) -> float | None:
    if activity.weekly_hours is not None:
        return activity.weekly_hours
    if activity.service_id is not None and service_hours.get(activity.service_id) is not None:
        return service_hours[activity.service_id]
    if activity.training_id is not None:
        return training_hours.get(activity.training_id)
    return None


def weekly_hours(
    activities: Iterable[PlannedActivity],
    service_hours: Mapping[int, float | None],
    training_hours: Mapping[str, float | None],
    target: float | None = None,
) -> WeeklyHours:
    """The plan's weekly hours; ``target`` is the contract's (``None``: 15 hours)."""
    total, counted, unknown = 0.0, 0, 0
    for activity in activities:
        hours = hours_of(activity, service_hours, training_hours)
        if hours is None:
            unknown += 1
        else:
            total += hours
            counted += 1
    return WeeklyHours(
        total=round(total, 2),
        target=float(target) if target is not None else DEFAULT_WEEKLY_TARGET,
        counted=counted,
        unknown=unknown,
    )
