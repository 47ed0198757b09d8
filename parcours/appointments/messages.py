"""What crosses the Temporal boundary for an appointment: the ``Appointment`` workflow's name
and id, what the journey starts it with, its state, the updates (booking, cancelling,
moving, attendance), its activities' names and inputs.

Ids, dates, kinds and statuses only: no name, no phone, no e-mail, no address, no reason for
an absence (those stay in SQL, where they can be corrected and erased)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from parcours.core.messages import Message

APPOINTMENT_WORKFLOW = "Appointment"


def appointment_workflow_id(appointment_id: str) -> str:
    return f"appointment-{appointment_id}"


# Activities are named, not imported: their module touches the database.
RECORD_APPOINTMENT = "record_appointment"
# The one place a message to the person is built and enqueued (e-mail today; the SMS channel
# plugs in here): ``notify_person(appointment_id, event)``.
NOTIFY_PERSON = "notify_person"
# Where a convocation's letter is made when the agent asked for one (the letter itself, a PDF
# kept in the carnet, is built by the convocation-letter work: for now it records the ask).
PREPARE_CONVOCATION_DOCUMENTS = "prepare_convocation_documents"
# The person's journey closed: what still waits is cancelled (``JourneySettlement``).
WITHDRAW_SIGNAL = "withdraw"


class AppointmentKind(StrEnum):
    ORIENTATION = "orientation"
    ACCOMPAGNEMENT = "accompagnement"
    SUIVI = "suivi"
    EQUIPE_PLURIDISCIPLINAIRE = "equipe_pluridisciplinaire"
    INFORMATION_COLLECTIVE = "information_collective"


class AppointmentMode(StrEnum):
    # The person picks her slot from a link.
    INVITATION = "invitation"
    # The agent sets the slot.
    CONVOCATION = "convocation"


class AppointmentStatus(StrEnum):
    INVITED = "invited"
    BOOKED = "booked"
    CONVOKED = "convoked"
    INVITATION_EXPIRED = "invitation_expired"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    ABSENT_UNEXCUSED = "absent_unexcused"
    ABSENT_EXCUSED = "absent_excused"


# Where the workflow ends.
FINAL_STATUSES = frozenset(
    {
        AppointmentStatus.INVITATION_EXPIRED,
        AppointmentStatus.CANCELLED,
        AppointmentStatus.ATTENDED,
        AppointmentStatus.ABSENT_UNEXCUSED,
        AppointmentStatus.ABSENT_EXCUSED,
    }
)

# What an agent records after the slot.
ATTENDANCE_STATUSES = frozenset(
    {
        AppointmentStatus.ATTENDED,
        AppointmentStatus.ABSENT_UNEXCUSED,
        AppointmentStatus.ABSENT_EXCUSED,
        AppointmentStatus.CANCELLED,
    }
)


class NotifyEvent(StrEnum):
    """What the person is told of."""

    INVITED = "invited"
    INVITATION_REMINDER = "invitation_reminder"
    BOOKED = "booked"
    MOVED = "moved"
    CANCELLED = "cancelled"
    CONVOKED = "convoked"
    APPOINTMENT_REMINDER = "appointment_reminder"


class AppointmentStart(Message):
    """Input of the ``Appointment`` workflow, started by the journey (update
    ``plan_appointment``)."""

    appointment_id: str
    beneficiary_id: str
    journey_workflow_id: str
    mode: AppointmentMode
    kind: AppointmentKind
    structure_id: str
    # Invitation: until when the link books.
    expires_at: datetime | None = None
    # Convocation: the slot the agent set.
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    with_letter: bool = False
    planned_by: str | None = None
    # Its statuses go to France Travail (an orientation or accompaniment appointment).
    france_travail: bool = False
    planned_at: datetime


class AppointmentState(Message):
    appointment_id: str
    mode: AppointmentMode
    kind: AppointmentKind
    status: AppointmentStatus
    planned_at: datetime
    expires_at: datetime | None = None
    slot_id: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # Reminders sent: of the invitation link, of the appointment itself.
    invitation_reminded: bool = False
    appointment_reminded: bool = False
    # The agent was told (inbox) that attendance is still to record.
    attendance_chased: bool = False
    seq: int = 0


# --- Updates (people: each with its validator) ---


class AppointmentAction(Message):
    actor_id: str | None = None


class BookSlotInput(AppointmentAction):
    """The person picks a slot from her link."""

    slot_id: str
    starts_at: datetime
    ends_at: datetime


class MoveSlotInput(AppointmentAction):
    """The person moves her booked appointment to another slot."""

    slot_id: str
    starts_at: datetime
    ends_at: datetime


class CancelAppointmentInput(AppointmentAction):
    """The person cancels her booked appointment."""


class RecordAttendanceInput(AppointmentAction):
    """The agent records what happened (the reason of an excused absence stays in SQL)."""

    status: AppointmentStatus


UPDATE_NAMES: dict[type[AppointmentAction], str] = {
    BookSlotInput: "book",
    MoveSlotInput: "move",
    CancelAppointmentInput: "cancel",
    RecordAttendanceInput: "record_attendance",
}


# --- Activities ---


class RecordAppointmentInput(Message):
    """The appointment after a change, and what changed (``change``: a history entry)."""

    state: AppointmentState
    change: str
    actor_id: str | None = None


class NotifyPersonInput(Message):
    appointment_id: str
    event: NotifyEvent
    # The appointment's change this notice is about: the activity waits until SQL has it.
    seq: int = Field(ge=0)


class WithdrawAppointmentInput(Message):
    """Signal: the journey closed."""


class ConvocationDocumentsInput(Message):
    appointment_id: str


# --- France Travail (issue 14, item 7) ---

FRANCE_TRAVAIL_APPOINTMENT_WORKFLOW = "FranceTravailAppointmentNotice"
# The kinds France Travail follows: where a journey's orientation and its contract are made.
FRANCE_TRAVAIL_KINDS = frozenset({AppointmentKind.ORIENTATION, AppointmentKind.ACCOMPAGNEMENT})
# Each change France Travail hears of, as its status (planned again when moved).
FRANCE_TRAVAIL_STATUSES: dict[str, str] = {
    "booked": "planned",
    "convoked": "planned",
    "moved": "planned",
    "attended": "attended",
    "absent_excused": "excused_absence",
    "absent_unexcused": "unexcused_absence",
    "cancelled": "cancelled",
    "withdrawn": "cancelled",
}


def france_travail_notice_id(appointment_id: str, seq: int) -> str:
    """One notice per change: a second start of the same one is refused by Temporal."""
    return f"{appointment_workflow_id(appointment_id)}-france-travail-{seq}"
