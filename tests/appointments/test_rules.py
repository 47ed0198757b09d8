"""The appointments' pure rules: which occurrences a slot offers (weekly, one-off, full, in
Paris time across the change to winter time), when the workflow wakes (the invitation's
reminder only if the link then stays valid 2 more days), and what people may do when."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from parcours.appointments.messages import (
    AppointmentKind,
    AppointmentMode,
    AppointmentState,
    AppointmentStatus,
    BookSlotInput,
    CancelAppointmentInput,
    RecordAttendanceInput,
)
from parcours.appointments.rules import PARIS, SlotRule, apply, due, occurrences, refusal

pytestmark = pytest.mark.appointments

MONDAY_NOON = datetime(2026, 10, 19, 10, 0, tzinfo=UTC)  # 12:00 in Paris, summer time


def weekly(weekday: int, capacity: int = 1) -> SlotRule:
    return SlotRule(
        id=f"w{weekday}",
        place_id="p",
        kind="orientation",
        start_time=time(9, 30),
        duration_minutes=45,
        capacity=capacity,
        weekday=weekday,
    )


def test_a_weekly_slot_offers_each_week_at_its_paris_time_across_winter_time() -> None:
    found = occurrences([weekly(1)], {}, MONDAY_NOON, MONDAY_NOON + timedelta(days=14))
    assert [o.starts_at.astimezone(PARIS).replace(tzinfo=None) for o in found] == [
        datetime(2026, 10, 20, 9, 30),
        datetime(2026, 10, 27, 9, 30),  # after the change to winter time (25 October)
    ]
    assert [o.starts_at.astimezone(UTC).hour for o in found] == [7, 8]


def test_a_full_occurrence_is_not_offered_and_a_collective_one_counts_its_seats() -> None:
    first = occurrences([weekly(1)], {}, MONDAY_NOON, MONDAY_NOON + timedelta(days=7))[0]
    taken = {(first.slot_id, first.starts_at.astimezone(UTC)): 1}
    assert occurrences([weekly(1)], taken, MONDAY_NOON, MONDAY_NOON + timedelta(days=7)) == []
    collective = occurrences([weekly(1, capacity=12)], taken, MONDAY_NOON, first.ends_at)
    assert [o.seats_left for o in collective] == [11]


def test_a_one_off_slot_offers_its_day_only_and_not_once_passed() -> None:
    rule = SlotRule(
        id="o",
        place_id="p",
        kind="suivi",
        start_time=time(11, 0),
        duration_minutes=30,
        on_date=date(2026, 10, 19),
    )
    assert occurrences([rule], {}, MONDAY_NOON, MONDAY_NOON + timedelta(days=30)) == []
    earlier = MONDAY_NOON - timedelta(hours=3)
    assert len(occurrences([rule], {}, earlier, MONDAY_NOON)) == 1


def invited(days: int) -> AppointmentState:
    return AppointmentState(
        appointment_id="a",
        mode=AppointmentMode.INVITATION,
        kind=AppointmentKind.ORIENTATION,
        status=AppointmentStatus.INVITED,
        planned_at=MONDAY_NOON,
        expires_at=MONDAY_NOON + timedelta(days=days),
    )


def test_the_invitation_is_reminded_at_day_3_only_if_the_link_stays_valid_2_more_days() -> None:
    assert [what for _, what in due(invited(7))] == ["invitation_reminder", "invitation_expired"]
    assert [what for _, what in due(invited(4))] == ["invitation_expired"]


def test_booking_cancelling_and_attendance_are_refused_when_they_cannot_be() -> None:
    state = invited(7)
    late = MONDAY_NOON + timedelta(days=8)
    slot = BookSlotInput(
        slot_id="s", starts_at=late + timedelta(days=1), ends_at=late + timedelta(days=1, hours=1)
    )
    assert "a expiré" in (refusal(state, slot, late) or "")
    booked = state.model_copy(
        update={"status": AppointmentStatus.BOOKED, "starts_at": MONDAY_NOON + timedelta(days=2)}
    )
    assert refusal(booked, CancelAppointmentInput(), MONDAY_NOON) is None
    day_before = MONDAY_NOON + timedelta(days=1, hours=1)
    assert "moins de 24 heures" in (refusal(booked, CancelAppointmentInput(), day_before) or "")
    attended = RecordAttendanceInput(status=AppointmentStatus.ATTENDED)
    assert "après le rendez-vous" in (refusal(booked, attended, MONDAY_NOON) or "")
    assert refusal(booked, attended, MONDAY_NOON + timedelta(days=3)) is None
    assert "Aucun créneau" in (refusal(state, attended, MONDAY_NOON) or "")


def test_booked_less_than_2_days_before_the_confirmation_is_the_reminder() -> None:
    state = invited(7)
    soon = MONDAY_NOON + timedelta(days=1)
    later = MONDAY_NOON + timedelta(days=4)
    for starts_at, reminded in ((soon, True), (later, False)):
        booked, _ = apply(
            state,
            BookSlotInput(slot_id="s", starts_at=starts_at, ends_at=starts_at + timedelta(hours=1)),
            MONDAY_NOON,
        )
        assert booked.appointment_reminded is reminded
        assert ("appointment_reminder" in [what for _, what in due(booked)]) is not reminded
