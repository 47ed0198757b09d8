"""The sanction case's rules, pure: what the président may decide (décret 2025-478), when
(not before a dated notice and the end of the answer window, not without the équipe
pluridisciplinaire), the household cap, and whether a breach is repeated. The workflow's
validators, the pages and the tests call them."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from parcours.sanctions.messages import (
    CaseAction,
    CaseStatus,
    DecideSanctionInput,
    Measure,
    RecordHearingInput,
    RecordReceiptInput,
    RecordTeamOpinionInput,
    RequestHearingInput,
    SanctionBounds,
    SanctionCaseState,
    SendObservationsInput,
)

BREACH_LABELS = {
    "absence": "Absence non excusée à un rendez-vous",
    "contract_not_signed": "Contrat d'engagement non signé dans le délai",
    "plan_not_done": "Actions du plan non réalisées",
}
STATUS_LABELS = {
    "opened": "Courrier envoyé, réception à dater",
    "notified": "Délai pour répondre",
    "sanctioned": "Sanction en cours",
    "closed": "Close",
}
MEASURE_LABELS = {
    "suspension": "Suspension",
    "removal": "Suppression",
    "none": "Pas de sanction",
}


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def fr(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def household_cap(bounds: SanctionBounds, household: dict[str, Any] | None) -> int:
    """The highest rate allowed for this household (R.262-68-6): capped when it has more than
    one person or receives the single-parent supplement; 100 otherwise (or when the CAF's data
    is unknown: the président then checks it himself)."""
    if not household:
        return 100
    people = int(household.get("adults") or 0) + int(household.get("dependent_children") or 0)
    if people > 1 or household.get("single_parent_supplement"):
        return bounds.household_cap_percent
    return 100


def is_repeated(
    previous: Iterable[tuple[date | None, str | None]], opened_on: date, bounds: SanctionBounds
) -> bool:
    """Repeated breach: a previous case ended with a sanction (suspension or removal) decided
    in the ``repeat_window_months`` before this one opens. A case closed without sanction does
    not count: no breach was found."""
    since = add_months(opened_on, -bounds.repeat_window_months)
    return any(
        decided_on is not None and measure in ("suspension", "removal") and decided_on >= since
        for decided_on, measure in previous
    )


def window_ends_on(received_on: date, bounds: SanctionBounds) -> date:
    """The last day of the answer window (``answer_days`` from receipt)."""
    return received_on + timedelta(days=bounds.answer_days)


def allowed(state: SanctionCaseState, bounds: SanctionBounds, cap_percent: int) -> str:
    """The bounds for this case, in French (shown by the form)."""
    if state.repeated:
        top = min(bounds.repeated_max_percent, cap_percent)
        return (
            f"Manquement répété : suspension ou suppression de {bounds.repeated_min_percent} % "
            f"à {top} % pendant {bounds.repeated_min_months} à {bounds.repeated_max_months} mois."
        )
    top = min(100, cap_percent)
    return (
        f"Premier manquement : suspension de {bounds.first_min_percent} % à {top} % pendant "
        f"{bounds.first_min_months} à {bounds.first_max_months} mois."
    )


def decision_refusal(
    state: SanctionCaseState, action: DecideSanctionInput, bounds: SanctionBounds, today: date
) -> str | None:
    """Why this decision may not be taken, in French with the rule, or None."""
    if state.status is not CaseStatus.NOTIFIED:
        if state.status is CaseStatus.OPENED:
            return (
                "Aucune décision sans notification datée : enregistrez d'abord la date à "
                "laquelle la personne a reçu le courrier (art. R.262-68 CASF)."
            )
        return "La décision de ce dossier est déjà prise."
    assert state.received_on is not None
    ends = window_ends_on(state.received_on, bounds)
    if today <= ends:
        return (
            f"La personne peut présenter ses observations jusqu'au {fr(ends)} inclus "
            f"({bounds.answer_days} jours après réception) : aucune décision avant le "
            f"{fr(ends + timedelta(days=1))}."
        )
    if state.team_opinion is None:
        return "L'équipe pluridisciplinaire doit être consultée avant la décision."
    if action.measure is Measure.NONE:
        if action.rate_percent or action.months:
            return "Sans sanction, ni taux ni durée."
        return None
    cap = action.cap_percent
    if state.repeated:
        low, high = bounds.repeated_min_percent, min(bounds.repeated_max_percent, cap)
        months = (bounds.repeated_min_months, bounds.repeated_max_months)
    else:
        if action.measure is Measure.REMOVAL:
            return (
                "Premier manquement : seule une suspension est possible, la suppression est "
                "réservée au manquement répété (décret 2025-478)."
            )
        low, high = bounds.first_min_percent, min(100, cap)
        months = (bounds.first_min_months, bounds.first_max_months)
    if action.rate_percent < low:
        return f"Le taux doit être d'au moins {low} % ({allowed(state, bounds, cap)})"
    if action.rate_percent > high:
        if cap < 100 and action.rate_percent > cap:
            return (
                f"Le taux est plafonné à {cap} % : le foyer compte plus d'une personne ou perçoit "
                "la majoration pour parent isolé (art. R.262-68-6 CASF)."
            )
        return f"Le taux ne peut dépasser {high} % ({allowed(state, bounds, cap)})"
    if not months[0] <= action.months <= months[1]:
        return (
            f"La durée doit être de {months[0]} à {months[1]} mois ({allowed(state, bounds, cap)})"
        )
    return None


def refusal(
    state: SanctionCaseState, action: CaseAction, bounds: SanctionBounds, now: datetime
) -> str | None:
    """Why ``action`` is not allowed now (French), or None."""
    today = now.date()
    if state.status is CaseStatus.CLOSED:
        return "Ce dossier de sanction est clos."
    match action:
        case RecordReceiptInput(received_on=received_on):
            if state.received_on is not None:
                return f"La réception est déjà enregistrée (le {fr(state.received_on)})."
            if received_on > today:
                return "La date de réception ne peut pas être dans le futur."
            if received_on < state.opened_at.date():
                return "La date de réception précède l'ouverture du dossier."
        case SendObservationsInput() | RequestHearingInput():
            if state.status is not CaseStatus.NOTIFIED or state.received_on is None:
                return "Le délai pour répondre court à partir de la réception du courrier."
            ends = window_ends_on(state.received_on, bounds)
            if today > ends:
                return f"Le délai pour répondre a pris fin le {fr(ends)}."
        case RecordHearingInput(held_on=held_on):
            if state.status is not CaseStatus.NOTIFIED:
                return "L'audition se tient avant la décision, une fois le courrier reçu."
            if held_on > today:
                return "La date de l'audition ne peut pas être dans le futur."
        case RecordTeamOpinionInput(session_on=session_on):
            if state.status is not CaseStatus.NOTIFIED:
                return "L'équipe pluridisciplinaire est consultée avant la décision."
            if session_on > today:
                return "La date de la séance ne peut pas être dans le futur."
        case DecideSanctionInput():
            return decision_refusal(state, action, bounds, today)
    return None


def apply(
    state: SanctionCaseState, action: CaseAction, bounds: SanctionBounds, now: datetime
) -> tuple[SanctionCaseState, str | None]:
    """The case after ``action`` and the journey event it makes (None: none)."""
    new = state.model_copy(deep=True)
    match action:
        case RecordReceiptInput(received_on=received_on):
            new.received_on = received_on
            new.window_ends_on = window_ends_on(received_on, bounds)
            new.status = CaseStatus.NOTIFIED
            return new, "sanction_notified"
        case SendObservationsInput():
            new.observations_received = True
            return new, "sanction_observations_received"
        case RequestHearingInput(with_companion=companion):
            new.hearing_requested = True
            new.hearing_with_companion = companion
            return new, "sanction_hearing_requested"
        case RecordHearingInput(held_on=held_on, with_companion=companion):
            new.hearing_on, new.hearing_with_companion = held_on, companion
            return new, "sanction_hearing_held"
        case RecordTeamOpinionInput(session_on=session_on, member_ids=members, opinion=opinion):
            new.team_session_on, new.team_member_ids = session_on, list(members)
            new.team_opinion = opinion
            return new, "sanction_team_consulted"
        case DecideSanctionInput(measure=measure, rate_percent=rate, months=months):
            today = now.date()
            new.measure, new.rate_percent, new.months = measure, rate, months
            new.cap_percent, new.decided_on = action.cap_percent, today
            if measure is Measure.NONE:
                new.status = CaseStatus.CLOSED
            else:
                new.status = CaseStatus.SANCTIONED
                new.ends_on = add_months(today, months)
            return new, "sanction_decided"
    return new, None


def proposes_removal_to_france_travail(state: SanctionCaseState, bounds: SanctionBounds) -> bool:
    """After a total removal for the longest duration (100 %, 4 months) that ran to its end."""
    return (
        state.measure is Measure.REMOVAL
        and state.rate_percent == 100
        and (state.months or 0) >= bounds.repeated_max_months
        and state.lift_reason == "ended"
    )
