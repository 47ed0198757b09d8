"""The ``.ics`` of an appointment as a calendar reads it back (parsed with icalendar): the
event in Paris time with its VTIMEZONE, a REQUEST while it stands, a CANCEL with the same UID
and a higher SEQUENCE when it is cancelled — so the calendar removes the event it holds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from parcours.appointments.calendar import CalendarEvent, appointment_ics

pytestmark = pytest.mark.appointments

PARIS = ZoneInfo("Europe/Paris")

EVENT = CalendarEvent(
    uid="rdv-0042@parcours.savoie.fr",
    starts_at=datetime(2026, 12, 15, 9, 30, tzinfo=PARIS),
    duration=timedelta(minutes=45),
    summary="Rendez-vous d'orientation",
    location="Maison sociale du département, 107 rue Sommeiller, 73000 Chambéry",
    description="Ce rendez-vous est obligatoire.\nEmpêché·e ? Appelez le 04 79 96 73 73.",
    organizer_email="insertion@savoie.fr",
    organizer_name="Département de la Savoie",
    stamped_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
)


def parsed(ics: bytes) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(ics)
    (event,) = calendar.walk("VEVENT")
    assert isinstance(event, Event)
    return calendar, event


def test_an_appointment_is_a_request_in_paris_time() -> None:
    calendar, event = parsed(appointment_ics(EVENT))

    assert calendar["METHOD"] == "REQUEST"
    assert calendar["PRODID"] and calendar["VERSION"] == "2.0"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert event["UID"] == "rdv-0042@parcours.savoie.fr"
    assert event["SEQUENCE"] == 0 and event["STATUS"] == "CONFIRMED"
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert start == datetime(2026, 12, 15, 9, 30, tzinfo=PARIS)
    assert end - start == timedelta(minutes=45)
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert str(event["SUMMARY"]) == "Rendez-vous d'orientation"
    assert "107 rue Sommeiller" in str(event["LOCATION"])
    assert str(event["DESCRIPTION"]).startswith("Ce rendez-vous est obligatoire.\nEmpêché·e")
    assert str(event["ORGANIZER"]) == "mailto:insertion@savoie.fr"
    assert event["ORGANIZER"].params["CN"] == "Département de la Savoie"
    assert event.decoded("DTSTAMP") == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_a_cancelled_appointment_cancels_the_same_event() -> None:
    moved = replace(EVENT, starts_at=EVENT.starts_at + timedelta(days=1), sequence=1)
    cancelled = replace(moved, sequence=2, status="CANCELLED")

    first, moved_event = parsed(appointment_ics(EVENT))[1], parsed(appointment_ics(moved))[1]
    calendar, cancel = parsed(appointment_ics(cancelled))

    assert calendar["METHOD"] == "CANCEL"
    assert cancel["STATUS"] == "CANCELLED"
    assert cancel["UID"] == moved_event["UID"] == first["UID"]
    assert [e.decoded("SEQUENCE") for e in (first, moved_event, cancel)] == [0, 1, 2]
    assert cancel.decoded("DTSTART") == datetime(2026, 12, 16, 9, 30, tzinfo=PARIS)


def test_summer_time_is_written_with_its_own_offset() -> None:
    summer = replace(EVENT, starts_at=datetime(2027, 7, 6, 7, 0, tzinfo=UTC))
    calendar, event = parsed(appointment_ics(summer))

    assert event.decoded("DTSTART") == datetime(2027, 7, 6, 9, 0, tzinfo=PARIS)
    assert b"DTSTART;TZID=Europe/Paris:20270706T090000" in appointment_ics(summer)
    offsets = {c.decoded("TZOFFSETTO") for c in calendar.walk("DAYLIGHT")}
    assert offsets == {timedelta(hours=2)}


def test_without_organizer_the_event_has_none() -> None:
    _, event = parsed(appointment_ics(replace(EVENT, organizer_email=None)))
    assert "ORGANIZER" not in event


def test_an_event_without_its_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        replace(EVENT, starts_at=datetime(2026, 12, 15, 9, 30))
