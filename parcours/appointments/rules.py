"""The appointments' pure rules, no I/O: what a person or an agent may do now (the workflow's
validators, the pages and the services share them), when the workflow wakes by itself, and
which slot occurrences a structure offers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from parcours.appointments.messages import (
    ATTENDANCE_STATUSES,
    AppointmentAction,
    AppointmentState,
    AppointmentStatus,
    BookSlotInput,
    CancelAppointmentInput,
    MoveSlotInput,
    RecordAttendanceInput,
)

PARIS = ZoneInfo("Europe/Paris")
# A booked appointment is cancelled or moved from the link until this long before it.
CHANGE_NOTICE = timedelta(hours=24)
# The invitation's reminder, if the link then stays valid at least ``REMINDER_MIN_LEFT``.
INVITATION_REMINDER_AFTER = timedelta(days=3)
REMINDER_MIN_LEFT = timedelta(days=2)
# The appointment's reminder, this long before it.
APPOINTMENT_REMINDER_BEFORE = timedelta(days=2)
# Attendance not recorded this long after the slot: the agent is told.
ATTENDANCE_GRACE = timedelta(days=2)
DEFAULT_INVITATION_DAYS = 7


class TransitionRefused(Exception):
    """The French reason an action is not possible now."""


def day_time_fr(moment: datetime) -> str:
    local = moment.astimezone(PARIS)
    return local.strftime("%d/%m/%Y à %Hh%M")


def refusal(state: AppointmentState, action: AppointmentAction, now: datetime) -> str | None:
    """Why ``action`` is not possible now (French), or None."""
    s = state.status
    match action:
        case BookSlotInput(starts_at=starts_at):
            if s is AppointmentStatus.INVITATION_EXPIRED or (
                s is AppointmentStatus.INVITED and state.expires_at and now >= state.expires_at
            ):
                return "Ce lien d'invitation a expiré : il ne permet plus de prendre rendez-vous."
            if s is not AppointmentStatus.INVITED:
                return "Un rendez-vous a déjà été pris avec ce lien."
            if starts_at <= now:
                return "Ce créneau est passé : choisissez-en un autre."
        case MoveSlotInput(starts_at=starts_at):
            reason = _change_refusal(state, now, "déplacé")
            if reason:
                return reason
            if starts_at <= now:
                return "Ce créneau est passé : choisissez-en un autre."
        case CancelAppointmentInput():
            return _change_refusal(state, now, "annulé")
        case RecordAttendanceInput(status=status):
            if status not in ATTENDANCE_STATUSES:
                return (
                    "Présence à choisir parmi : présent, absent excusé, absent non excusé, annulé."
                )
            if s in (AppointmentStatus.INVITED, AppointmentStatus.INVITATION_EXPIRED):
                return "Aucun créneau n'a été pris : il n'y a pas de présence à enregistrer."
            if s not in (AppointmentStatus.BOOKED, AppointmentStatus.CONVOKED):
                return "La présence à ce rendez-vous est déjà enregistrée."
            if (
                status is not AppointmentStatus.CANCELLED
                and state.starts_at is not None
                and now < state.starts_at
            ):
                return (
                    "La présence s'enregistre après le rendez-vous (prévu le "
                    f"{day_time_fr(state.starts_at)})."
                )
    return None


def _change_refusal(state: AppointmentState, now: datetime, done: str) -> str | None:
    if state.status is not AppointmentStatus.BOOKED or state.starts_at is None:
        return "Aucun rendez-vous réservé avec ce lien ne peut être " + done + "."
    if now >= state.starts_at - CHANGE_NOTICE:
        return (
            f"Le rendez-vous du {day_time_fr(state.starts_at)} ne peut plus être {done} en "
            "ligne à moins de 24 heures : appelez la structure."
        )
    return None


def check(state: AppointmentState, action: AppointmentAction, now: datetime) -> None:
    reason = refusal(state, action, now)
    if reason:
        raise TransitionRefused(reason)


def apply(
    state: AppointmentState, action: AppointmentAction, now: datetime
) -> tuple[AppointmentState, str]:
    """The appointment after ``action``, and the name of the change (its history entry)."""
    check(state, action, now)
    match action:
        case BookSlotInput(slot_id=slot_id, starts_at=starts_at, ends_at=ends_at):
            return state.model_copy(
                update={
                    "status": AppointmentStatus.BOOKED,
                    "slot_id": slot_id,
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                    # Booked less than 2 days before: the confirmation is the reminder.
                    "appointment_reminded": starts_at - APPOINTMENT_REMINDER_BEFORE <= now,
                }
            ), "booked"
        case MoveSlotInput(slot_id=slot_id, starts_at=starts_at, ends_at=ends_at):
            return state.model_copy(
                update={
                    "slot_id": slot_id,
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                    "appointment_reminded": starts_at - APPOINTMENT_REMINDER_BEFORE <= now,
                }
            ), "moved"
        case CancelAppointmentInput():
            return state.model_copy(update={"status": AppointmentStatus.CANCELLED}), "cancelled"
        case RecordAttendanceInput(status=status):
            return state.model_copy(update={"status": status}), status.value
    raise TransitionRefused("Action inconnue.")


def apply_withdrawal(state: AppointmentState) -> AppointmentState | None:
    """The journey closed: an appointment still to come is cancelled; None when it is over."""
    if state.status in (
        AppointmentStatus.INVITED,
        AppointmentStatus.BOOKED,
        AppointmentStatus.CONVOKED,
    ):
        return state.model_copy(update={"status": AppointmentStatus.CANCELLED})
    return None


# --- Time ---


def invitation_reminder_at(state: AppointmentState) -> datetime | None:
    """Day +3 of the invitation, if the link then stays valid at least 2 more days."""
    if state.expires_at is None:
        return None
    at = state.planned_at + INVITATION_REMINDER_AFTER
    return at if state.expires_at - at >= REMINDER_MIN_LEFT else None


def due(state: AppointmentState) -> list[tuple[datetime, str]]:
    """What the workflow waits for by itself, with when: the invitation's reminder and
    expiry, the appointment's reminder, attendance left unrecorded."""
    s, moments = state.status, []
    if s is AppointmentStatus.INVITED:
        remind = invitation_reminder_at(state)
        if remind is not None and not state.invitation_reminded:
            moments.append((remind, "invitation_reminder"))
        if state.expires_at is not None:
            moments.append((state.expires_at, "invitation_expired"))
    elif s in (AppointmentStatus.BOOKED, AppointmentStatus.CONVOKED) and state.starts_at:
        remind = state.starts_at - APPOINTMENT_REMINDER_BEFORE
        if not state.appointment_reminded and remind > state.planned_at:
            moments.append((remind, "appointment_reminder"))
        if not state.attendance_chased:
            end = state.ends_at or state.starts_at
            moments.append((end + ATTENDANCE_GRACE, "attendance_due"))
    return sorted(moments)


# --- Slots ---


@dataclass(frozen=True)
class SlotRule:
    """A slot as declared: one day, or each week on a weekday from a day on (until an end)."""

    id: str
    place_id: str
    kind: str
    start_time: time
    duration_minutes: int
    capacity: int = 1
    on_date: date | None = None
    weekday: int | None = None  # 0: Monday
    valid_from: date | None = None
    valid_until: date | None = None


@dataclass(frozen=True)
class Occurrence:
    slot_id: str
    place_id: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    seats_left: int


def occurrences(
    rules: list[SlotRule],
    taken: dict[tuple[str, datetime], int],
    now: datetime,
    until: datetime,
    kind: str | None = None,
) -> list[Occurrence]:
    """The free occurrences between ``now`` and ``until`` (Paris local times), soonest first.
    ``taken``: seats booked per (slot id, start)."""
    found: list[Occurrence] = []
    first_day = now.astimezone(PARIS).date()
    last_day = until.astimezone(PARIS).date()
    for rule in rules:
        if kind is not None and rule.kind != kind:
            continue
        days: list[date] = []
        if rule.on_date is not None:
            days = [rule.on_date] if first_day <= rule.on_date <= last_day else []
        elif rule.weekday is not None:
            day = max(first_day, rule.valid_from or first_day)
            day += timedelta(days=(rule.weekday - day.weekday()) % 7)
            end = min(last_day, rule.valid_until or last_day)
            while day <= end:
                days.append(day)
                day += timedelta(days=7)
        for day in days:
            starts = datetime.combine(day, rule.start_time, tzinfo=PARIS)
            if starts <= now or starts > until:
                continue
            left = rule.capacity - taken.get((rule.id, _utc_key(starts)), 0)
            if left <= 0:
                continue
            found.append(
                Occurrence(
                    slot_id=rule.id,
                    place_id=rule.place_id,
                    kind=rule.kind,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=rule.duration_minutes),
                    seats_left=left,
                )
            )
    return sorted(found, key=lambda o: (o.starts_at, o.slot_id))


def _utc_key(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def occurrence_of(rule: SlotRule, starts_at: datetime) -> bool:
    """Whether ``starts_at`` is an occurrence of ``rule``."""
    local = starts_at.astimezone(PARIS)
    if local.time().replace(tzinfo=None) != rule.start_time:
        return False
    day = local.date()
    if rule.on_date is not None:
        return day == rule.on_date
    if rule.weekday is None or day.weekday() != rule.weekday:
        return False
    if rule.valid_from and day < rule.valid_from:
        return False
    return not (rule.valid_until and day > rule.valid_until)
