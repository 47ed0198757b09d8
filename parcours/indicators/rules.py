"""Which milestone a journey event marks, and how milestones merge (pure Python).

The projection (one event at a time, in SQL) and the backfill (a journey's whole timeline, in
Python) share these rules, so both give the same row:

- the first time a milestone is reached counts (``FIRST``: a late, older event still fills it);
- the follow-up is the newest follow-up event's (``FOLLOW_UP``, numbered by
  ``follow_up_seq``: an older event delivered again does not undo a later outcome);
- closing keeps its value once set (``LATEST``: a journey closes once);
- where the journey stands (territory, structure) is the newest event's (``CURRENT``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from parcours.journey.messages import Step

PARIS = ZoneInfo("Europe/Paris")

# The follow-up check-in whose "still employed" makes the follow-up count as kept.
KEPT_MONTH = 6

FIRST = ("reference_on", "diagnosis_on", "oriented_on", "contract_signed_on", "employment_on")
FOLLOW_UP = ("follow_up_on", "follow_up_outcome", "follow_up_seq")
LATEST = (
    "closed_on",
    "exit_reason",
    "exit_code",
    "orientation",
    "oriented_by",
    "subject_to_duties",
    "transferred_in_on",
)
CURRENT = ("territory", "structure_id", "rsa_opened_on")
COLUMNS = ("beneficiary_id", *CURRENT, *FIRST, *FOLLOW_UP, *LATEST, "seq")

PENDING, KEPT, LOST = "pending", "kept", "lost"

# The events that move a milestone or where the journey stands; the others write nothing.
MILESTONE_KINDS = frozenset(
    {
        "journey_started",
        "diagnosis_started",
        "orientation_decided",
        "contract_signed",
        "employment_recorded",
        "follow_up_consent",
        "check_in_recorded",
        "job_lost",
        "closed",
        "referent_reassigned",
        "handed_off",
        # The 2023 law (issue 15): duties, transfers in.
        "duties_changed",
        "transferred_in",
    }
)

# The procedures' events the indicators count one by one (``journey_procedure_events``).
PROCEDURE_KINDS = frozenset(
    {
        "france_travail_orientation_requested",
        "social_review_concluded",
        "sanction_opened",
        "sanction_lifted",
        "sanction_closed",
    }
)
FRANCE_TRAVAIL = "france_travail"
DEPARTMENT = "department"
REMOBILISATION = "remobilisation"


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), kept within the month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    days_in_month = (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days
    return date(year, month, min(day.day, days_in_month))


def local_day(moment: datetime) -> date:
    """The day in France of an instant: indicators count in the days people live in."""
    return moment.astimezone(PARIS).date()


def _iso_day(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def milestone_row(
    *,
    beneficiary_id: str,
    journey_id: str | None = None,
    seq: int,
    kind: str,
    occurred_at: datetime,
    step: str | None,
    detail: Mapping[str, Any],
    territory: str,
    structure_id: str | None,
    rsa_opened_on: date | None,
) -> dict[str, Any] | None:
    """The milestones one event sets (None where it sets nothing), or None for an event that
    marks no milestone. ``step`` is the step the event happened in; territory, structure and
    RSA opening are the journey's after the event."""
    if kind not in MILESTONE_KINDS:
        return None
    day = local_day(occurred_at)
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    if journey_id is not None:
        row["journey_id"] = journey_id
    row.update(
        beneficiary_id=beneficiary_id,
        seq=seq,
        territory=territory,
        structure_id=structure_id,
        rsa_opened_on=rsa_opened_on,
        reference_on=rsa_opened_on or day,
    )
    match kind:
        case "diagnosis_started":
            row["diagnosis_on"] = day
        case "orientation_decided":
            row["oriented_on"] = day
            row["orientation"] = detail.get("orientation")
            row["oriented_by"] = (
                FRANCE_TRAVAIL if detail.get("decided_by") == FRANCE_TRAVAIL else DEPARTMENT
            )
        case "duties_changed":
            subject = detail.get("subject_to_duties")
            row["subject_to_duties"] = subject if isinstance(subject, bool) else None
        case "transferred_in":
            row["transferred_in_on"] = day
        case "contract_signed":
            # The date the contract was signed, as the référent recorded it.
            row["contract_signed_on"] = _iso_day(detail.get("signed_on")) or day
        case "employment_recorded":
            row["employment_on"] = day
        case "follow_up_consent":
            if detail.get("consent") is True:
                row["follow_up_on"], row["follow_up_outcome"] = day, PENDING
            elif step == Step.FOLLOW_UP:
                row["follow_up_outcome"] = LOST  # the person left the follow-up
        case "check_in_recorded":
            still_employed = detail.get("still_employed") is True
            if not still_employed:
                row["follow_up_outcome"] = LOST
            elif detail.get("month") == KEPT_MONTH:
                row["follow_up_outcome"] = KEPT
        case "job_lost":
            if detail.get("step") == Step.FOLLOW_UP:
                row["follow_up_outcome"] = LOST
        case "closed":
            row["closed_on"] = day
            row["exit_reason"] = detail.get("exit_reason")
            row["exit_code"] = detail.get("exit_code")
    if row["follow_up_outcome"] is not None:
        row["follow_up_seq"] = seq
    return row


def procedure_row(
    *,
    beneficiary_id: str,
    journey_id: str,
    seq: int,
    kind: str,
    occurred_at: datetime,
    detail: Mapping[str, Any],
    territory: str,
    structure_id: str | None,
) -> dict[str, Any] | None:
    """The row of a procedure's event the indicators count, or None for any other event."""
    if kind not in PROCEDURE_KINDS:
        return None
    on_time = detail.get("on_time")
    case_id, reason = detail.get("case_id"), detail.get("reason")
    return {
        "journey_id": journey_id,
        "seq": seq,
        "beneficiary_id": beneficiary_id,
        "kind": kind,
        "occurred_on": local_day(occurred_at),
        "territory": territory,
        "structure_id": structure_id,
        "case_id": str(case_id) if case_id is not None else None,
        "on_time": on_time if isinstance(on_time, bool) else None,
        "reason": str(reason) if reason is not None else None,
    }


def follow_up_applies(current: dict[str, Any], row: dict[str, Any]) -> bool:
    """Whether ``row`` says something of the follow-up newer than what ``current`` holds."""
    known = current["follow_up_seq"]
    return row["follow_up_outcome"] is not None and (known is None or row["seq"] >= known)


def merge(current: dict[str, Any] | None, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` applied to ``current``, as the projection's upsert applies it."""
    if current is None:
        return dict(row)
    merged = dict(current)
    for column in FIRST:
        new, old = row[column], current[column]
        if old is None or (new is not None and new < old):
            merged[column] = new
    if follow_up_applies(current, row):
        for column in FOLLOW_UP:
            if row[column] is not None:
                merged[column] = row[column]
    for column in LATEST:
        if row[column] is not None:
            merged[column] = row[column]
    if row["seq"] > current["seq"]:
        for column in CURRENT:
            merged[column] = row[column]
        merged["seq"] = row["seq"]
    return merged


# The step a journey enters with each event (the journey's rules, ``parcours.journey.rules``),
# for the backfill, which has the events but not the journey after each of them.
def entered_step(kind: str, step: str | None, detail: Mapping[str, Any]) -> str | None:
    match kind:
        case "journey_started":
            return Step.INTAKE
        case "diagnosis_started":
            return Step.DIAGNOSIS
        case "diagnosis_completed":
            return Step.ORIENTATION
        case "orientation_decided":
            return Step.ACCOMPANIMENT
        case "employment_recorded":
            return Step.EMPLOYMENT
        case "follow_up_consent":
            return Step.FOLLOW_UP if detail.get("consent") is True else None
        case "check_in_recorded":
            return None if detail.get("still_employed") is True else Step.ACCOMPANIMENT
        case "job_lost":
            return Step.ACCOMPANIMENT
        case "handed_off":
            before = (Step.DIAGNOSIS, Step.ORIENTATION, Step.ACCOMPANIMENT)
            return Step.ORIENTATION if step in before else None
        case "closed":
            return Step.CLOSED
    return None


def journey_rows(
    journey: dict[str, Any], rsa_opened_on: date | None, events: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """One journey's milestones and spans, from its events in order (keyed by the journey's
    ``journey_id`` when ``journey`` has one; the indicators' first migration keys by person)."""
    territory, structure_id = journey["territory"], journey["structure_id"]
    key = {"journey_id": journey["journey_id"]} if "journey_id" in journey else {}
    # Where the journey stood after each event, as far as its events tell.
    here: tuple[str, str | None] | None = None
    milestones: dict[str, Any] | None = None
    entries: list[dict[str, Any]] = []
    for event in events:
        detail = event["detail"] or {}
        kind = event["kind"]
        if kind == "journey_started":
            here = (detail.get("territory") or territory, structure_id)
        elif kind in ("orientation_decided", "referent_reassigned") and here:
            here = (here[0], detail.get("structure_id") or here[1])
        elif kind == "handed_off" and here:
            here = (detail.get("to_territory") or here[0], None)
        where = here or (territory, structure_id)
        row = milestone_row(
            beneficiary_id=journey["beneficiary_id"],
            journey_id=key.get("journey_id"),
            seq=event["seq"],
            kind=kind,
            occurred_at=event["occurred_at"],
            step=event["step"],
            detail=detail,
            territory=where[0],
            structure_id=where[1],
            rsa_opened_on=rsa_opened_on,
        )
        if row is not None:
            milestones = merge(milestones, row)
        step = entered_step(kind, event["step"], detail)
        if step is not None:
            entries.append(
                {
                    "beneficiary_id": journey["beneficiary_id"],
                    **key,
                    "entered_at": event["occurred_at"],
                    "step": step,
                    "entered_seq": event["seq"],
                    "territory": where[0],
                    "structure_id": where[1],
                }
            )
    if milestones is not None:
        # Where the journey stands now is the read model's.
        milestones.update(territory=territory, structure_id=structure_id)
    # The journey's current step is what the read model says, whatever the events suggest.
    current: datetime = journey["step_since"]
    if not entries or entries[-1]["entered_at"] < current:
        entries.append(
            {
                "beneficiary_id": journey["beneficiary_id"],
                **key,
                "entered_at": current,
                "step": journey["step"],
                "entered_seq": events[-1]["seq"] if events else 0,
                "territory": territory,
                "structure_id": structure_id,
            }
        )
    spans: list[dict[str, Any]] = []
    for entry in entries:
        if spans and spans[-1]["entered_at"] == entry["entered_at"]:
            spans[-1].update(entry)  # two entries at one instant: the later wins
        else:
            spans.append(dict(entry))
    for before, after in pairwise(spans):
        before["left_at"] = after["entered_at"]
    if spans:
        spans[-1]["left_at"] = None
    return milestones, spans


# --- Time spent in each step, from the stays (``journey_step_spans``) ---


def stay_days(step: Step, entered_at: datetime, left_at: datetime | None, now: datetime) -> float:
    """Days a stay lasted (the current one: until ``now``); a closed journey stays nowhere."""
    if step is Step.CLOSED:
        return 0.0
    return ((left_at or now) - entered_at).total_seconds() / 86400


def days_per_step(
    stays: Iterable[tuple[Step, datetime, datetime | None]], now: datetime
) -> dict[Step, float]:
    """Days spent in each step the journey went through, stays added up, in the steps' order
    (what the journey's page and its story show). The stays are the projection's: a step's
    time runs from its entry to the next, whatever other events happened in between."""
    totals: dict[Step, float] = {}
    for step, entered_at, left_at in stays:
        if step is not Step.CLOSED:
            totals[step] = totals.get(step, 0.0) + stay_days(step, entered_at, left_at, now)
    return {step: totals[step] for step in Step if step in totals}


# --- Appointments (issue 14, item 8) ---


def first_attended_after(oriented_on: date, attended: Sequence[datetime]) -> int | None:
    """Days (in French time) from the orientation to the first appointment the person
    attended on that day or after it; None while she has attended none."""
    delays = [(local_day(a) - oriented_on).days for a in attended]
    after = [d for d in delays if d >= 0]
    return min(after) if after else None
