"""What pages, the JSON API and the person's messages show of appointments: places, slots,
free occurrences, appointments with their history, and the French labels."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from parcours.appointments.messages import AppointmentKind, AppointmentStatus
from parcours.core.french import DAY_NAMES

# The mode of an appointment noted by hand in the carnet (before invitations existed).
NOTED = "noted"

KIND_LABELS: dict[str, str] = {
    AppointmentKind.ORIENTATION: "Rendez-vous d'orientation",
    AppointmentKind.ACCOMPAGNEMENT: "Rendez-vous d'accompagnement",
    AppointmentKind.SUIVI: "Rendez-vous de suivi",
    AppointmentKind.EQUIPE_PLURIDISCIPLINAIRE: "Équipe pluridisciplinaire",
    AppointmentKind.INFORMATION_COLLECTIVE: "Information collective",
}

STATUS_LABELS: dict[str, str] = {
    AppointmentStatus.INVITED: "Invitation envoyée",
    AppointmentStatus.BOOKED: "Rendez-vous pris",
    AppointmentStatus.CONVOKED: "Convoquée",
    AppointmentStatus.INVITATION_EXPIRED: "Invitation expirée",
    AppointmentStatus.CANCELLED: "Annulé",
    AppointmentStatus.ATTENDED: "Présente",
    AppointmentStatus.ABSENT_UNEXCUSED: "Absente non excusée",
    AppointmentStatus.ABSENT_EXCUSED: "Absente excusée",
    # Noted by hand in the carnet.
    "planned": "Prévu",
    "done": "Honoré",
    "missed": "Non honoré",
}

CHANGE_LABELS: dict[str, str] = {
    "invited": "Invitation envoyée",
    "invitation_reminder": "Rappel de l'invitation envoyé",
    "invitation_expired": "Invitation expirée",
    "booked": "Créneau choisi par la personne",
    "moved": "Rendez-vous déplacé par la personne",
    "cancelled": "Rendez-vous annulé",
    "withdrawn": "Rendez-vous annulé : parcours clôturé",
    "convoked": "Convocation envoyée",
    "appointment_reminder": "Rappel du rendez-vous envoyé",
    "attendance_due": "Présence à enregistrer (signalée à l'agent)",
    "attended": "Présente",
    "absent_unexcused": "Absente non excusée",
    "absent_excused": "Absente excusée",
}

MODE_LABELS = {"invitation": "Invitation", "convocation": "Convocation", NOTED: "Noté"}

WEEKDAYS = list(DAY_NAMES)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


class Form(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


class PlaceCreate(Form):
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=300)
    accessibility: str | None = Field(default=None, max_length=2000)


class PlaceRead(BaseModel):
    id: str
    name: str
    address: str
    accessibility: str | None


class SlotCreate(Form):
    """One day (``on_date``) or each week (``weekday``, 0 = Monday)."""

    place_id: str = Field(min_length=1, max_length=36)
    kind: AppointmentKind
    start_time: time
    duration_minutes: int = Field(default=45, ge=5, le=480)
    capacity: int = Field(default=1, ge=1, le=200)
    on_date: date | None = None
    weekday: int | None = Field(default=None, ge=0, le=6)
    valid_from: date | None = None
    valid_until: date | None = None
    agent_id: str | None = Field(default=None, max_length=36)

    @model_validator(mode="after")
    def _one_day_or_weekly(self) -> SlotCreate:
        if (self.on_date is None) == (self.weekday is None):
            raise ValueError("Indiquez soit une date, soit un jour de la semaine.")
        if self.capacity > 1 and self.kind is not AppointmentKind.INFORMATION_COLLECTIVE:
            raise ValueError("Seule une information collective reçoit plusieurs personnes.")
        return self


class SlotRead(BaseModel):
    id: str
    place_id: str
    place: str
    kind: str
    kind_label: str
    when: str
    start_time: time
    duration_minutes: int
    capacity: int


class SettingsUpdate(Form):
    invitation_days: int = Field(default=7, ge=1, le=60)
    contact_phone: str | None = Field(default=None, max_length=20, pattern=r"^[0-9 +().-]{6,20}$")
    contact_email: str | None = Field(
        default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    )


class SettingsRead(BaseModel):
    invitation_days: int
    contact_phone: str | None
    contact_email: str | None


class InvitationCreate(Form):
    beneficiary_id: str = Field(min_length=1, max_length=36)
    kind: AppointmentKind
    # The structure that receives her (the agent's own by default).
    structure_id: str | None = Field(default=None, max_length=36)


class ConvocationCreate(Form):
    beneficiary_id: str = Field(min_length=1, max_length=36)
    slot_id: str = Field(min_length=1, max_length=36)
    starts_at: datetime
    with_letter: bool = False


class AttendanceUpdate(Form):
    status: Literal["attended", "absent_unexcused", "absent_excused", "cancelled"]
    reason: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _reason_when_excused(self) -> AttendanceUpdate:
        if self.status == "absent_excused" and not self.reason:
            raise ValueError("Une absence excusée se justifie : indiquez le motif.")
        return self


class BookingChoice(Form):
    """The person's choice on her booking page: a slot's occurrence."""

    slot_id: str = Field(min_length=1, max_length=36)
    starts_at: datetime


class OccurrenceRead(BaseModel):
    slot_id: str
    kind_label: str
    starts_at: datetime
    ends_at: datetime
    place: str
    address: str
    label: str
    seats_left: int


class ChangeRead(BaseModel):
    change: str
    label: str
    at: datetime


class AppointmentRead(BaseModel):
    id: str
    beneficiary_id: str
    person: str | None = None
    mode: str
    mode_label: str
    kind: str | None
    kind_label: str
    status: str
    status_label: str
    starts_at: datetime | None
    ends_at: datetime | None
    place: str | None
    address: str | None = None
    expires_at: datetime | None
    attendance_reason: str | None = None
    history: list[ChangeRead] = Field(default_factory=list)


class InvitationRead(AppointmentRead):
    """The invitation as its agent gets it: the link, shown once (only its hash is kept)."""

    link: str


class BookingPageRead(BaseModel):
    """What the person's booking page shows (no account: the token is the key)."""

    appointment: AppointmentRead
    structure: str
    contact_phone: str | None
    contact_email: str | None
    expired: bool
    can_book: bool
    can_change: bool
    offers: list[OccurrenceRead]


class AgendaRead(BaseModel):
    start: date
    days: int
    appointments: list[AppointmentRead]


class AppointmentTabRead(BaseModel):
    """The carnet's « Rendez-vous » tab: invitations and convocations with their history, and
    what the reader may offer (none unless an agent of a structure)."""

    appointments: list[AppointmentRead]
    can_plan: bool
    kinds: dict[str, str]
    offers: list[OccurrenceRead]
