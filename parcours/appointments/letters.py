"""Convocation letters: what a letter says (``ConvocationLetter``, plain values the appointments
service fills from SQL) and the PDF WeasyPrint prints from it
(``templates/appointments/letters/convocation.html`` and its print style sheet), kept in the
carnet's documents as proof that the person was convoked.

Rendering is pure and synchronous (a few tens of milliseconds of CPU): call it from an activity
or a worker thread, never from a workflow or on the event loop of a busy request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from parcours.appointments.messages import AppointmentKind
from parcours.core.french import DAY_NAMES, MONTH_NAMES
from parcours.core.letters import letter_templates, print_pdf
from parcours.core.settings import ROOT

PARIS = ZoneInfo("Europe/Paris")
LETTERS = ROOT / "templates" / "appointments" / "letters"

# How the letter names each kind of appointment (« Objet », body).
KIND_LABELS: dict[str, str] = {
    AppointmentKind.ORIENTATION: "rendez-vous d'orientation",
    AppointmentKind.ACCOMPAGNEMENT: "rendez-vous d'accompagnement",
    AppointmentKind.SUIVI: "rendez-vous de suivi",
    AppointmentKind.EQUIPE_PLURIDISCIPLINAIRE: "passage devant l'équipe pluridisciplinaire",
    AppointmentKind.INFORMATION_COLLECTIVE: "réunion d'information collective",
}

MANDATORY = "Ce rendez-vous est obligatoire."
# Only the équipe pluridisciplinaire gives its opinion on a sanction (code de l'action sociale
# et des familles, L. 262-52): the other kinds never threaten one in writing.
SANCTION_WARNING = "Votre absence non justifiée peut entraîner une sanction (suspension du RSA)."


@dataclass(frozen=True)
class ConvocationLetter:
    """Everything one convocation letter prints, as plain values.

    ``starts_at`` must be aware (it is printed in Paris time). Address lines are printed as
    given, one per line, in the window of the envelope."""

    reference: str
    kind: AppointmentKind
    starts_at: datetime
    duration: timedelta
    # Who writes: the département and the structure that convokes.
    department: str
    structure_name: str
    structure_address: tuple[str, ...]
    structure_phone: str
    structure_email: str
    # Whom the letter is for.
    person_name: str
    person_address: tuple[str, ...]
    # Where and with whom.
    place_name: str
    place_address: tuple[str, ...]
    agent_name: str
    # Printed under the date of the letter (« Chambéry, le … »); the letter's date.
    written_in: str
    written_on: date
    accessibility: str | None = None
    agent_role: str | None = None
    # What to bring (« votre pièce d'identité, … »), if anything.
    bring: str | None = None

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None:
            raise ValueError("starts_at must be aware: the letter prints it in Paris time")
        if self.kind not in KIND_LABELS:
            raise ValueError(f"unknown appointment kind: {self.kind!r}")

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def sanctionable(self) -> bool:
        return self.kind == AppointmentKind.EQUIPE_PLURIDISCIPLINAIRE


def french_day(value: date) -> str:
    """« mardi 15 décembre 2026 » (« 1er » for the first of the month)."""
    day = "1er" if value.day == 1 else str(value.day)
    return f"{DAY_NAMES[value.weekday()]} {day} {MONTH_NAMES[value.month - 1]} {value.year}"


def french_time(moment: datetime) -> str:
    """« 9 h 30 », « 14 h » — in Paris time."""
    local = moment.astimezone(PARIS)
    return f"{local.hour} h {local.minute:02d}" if local.minute else f"{local.hour} h"


def french_datetime(moment: datetime) -> str:
    """« mardi 15 décembre 2026 à 9 h 30 », in Paris time."""
    return f"{french_day(moment.astimezone(PARIS).date())} à {french_time(moment)}"


def french_duration(duration: timedelta) -> str:
    """« 45 minutes », « 1 h », « 1 h 30 »."""
    minutes = int(duration.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} minutes"
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


_templates = letter_templates(LETTERS)


def convocation_html(letter: ConvocationLetter) -> str:
    """The letter as the HTML WeasyPrint prints (also what a page could preview)."""
    return _templates.get_template("convocation.html").render(
        letter=letter,
        starts=french_datetime(letter.starts_at),
        duration=french_duration(letter.duration),
        written_on=french_day(letter.written_on),
        mandatory=MANDATORY,
        sanction_warning=SANCTION_WARNING if letter.sanctionable else None,
    )


def render_convocation_pdf(letter: ConvocationLetter) -> bytes:
    """The convocation letter as a PDF (``parcours.core.letters``)."""
    return print_pdf(convocation_html(letter), LETTERS)
