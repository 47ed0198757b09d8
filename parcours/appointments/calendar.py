"""The ``.ics`` file that comes with every appointment (RFC 5545, iTIP RFC 5546): a calendar
invitation the person's or agent's calendar adds, updates and removes by its UID.

One UID per appointment for its whole life; each new version of it (moved, cancelled) carries a
higher ``sequence``, so calendars replace the event they hold instead of adding another. Times
are written in Europe/Paris with its VTIMEZONE, as French calendars expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress, vText

PARIS = ZoneInfo("Europe/Paris")
PRODID = "-//Parcours//Rendez-vous//FR"

EventStatus = Literal["CONFIRMED", "CANCELLED"]
# iTIP: a confirmed appointment is a REQUEST (add or update), a cancelled one a CANCEL.
METHODS: dict[str, str] = {"CONFIRMED": "REQUEST", "CANCELLED": "CANCEL"}


@dataclass(frozen=True)
class CalendarEvent:
    """One version of an appointment as a calendar sees it.

    ``uid`` stays the same for the appointment's whole life (e.g. ``<appointment id>@<host>``);
    ``sequence`` grows with each version sent (0 first, then 1 when moved, 2 when cancelled…).
    ``stamped_at`` is when this version was made (DTSTAMP); by default, now."""

    uid: str
    starts_at: datetime
    duration: timedelta
    summary: str
    location: str
    description: str
    sequence: int = 0
    status: EventStatus = "CONFIRMED"
    organizer_email: str | None = None
    organizer_name: str | None = None
    stamped_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None:
            raise ValueError("starts_at must be aware")
        if self.duration <= timedelta(0):
            raise ValueError("an appointment lasts some time")
        if self.sequence < 0:
            raise ValueError("sequence starts at 0")
        if self.status not in METHODS:
            raise ValueError(f"unknown status: {self.status!r}")

    @property
    def method(self) -> str:
        return METHODS[self.status]


def appointment_ics(event: CalendarEvent) -> bytes:
    """The ``.ics`` of ``event`` (``text/calendar; method=REQUEST`` or ``CANCEL``)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", event.method)

    starts = event.starts_at.astimezone(PARIS)
    ends = starts + event.duration
    # The definitions of Europe/Paris the event's dates need (summer and winter time).
    calendar.add_component(Timezone.from_tzid("Europe/Paris", first_date=starts.date()))

    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", (event.stamped_at or datetime.now(UTC)).astimezone(UTC))
    vevent.add("dtstart", starts)
    vevent.add("dtend", ends)
    vevent.add("sequence", event.sequence)
    vevent.add("status", event.status)
    vevent.add("summary", event.summary)
    vevent.add("location", event.location)
    vevent.add("description", event.description)
    vevent.add("transp", "OPAQUE")
    if event.organizer_email:
        organizer = vCalAddress(f"mailto:{event.organizer_email}")
        if event.organizer_name:
            organizer.params["cn"] = vText(event.organizer_name)
        vevent.add("organizer", organizer)
    calendar.add_component(vevent)
    ics: bytes = calendar.to_ical()
    return ics
