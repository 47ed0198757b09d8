"""The notice before a sanction (« avis préalable »): the facts, the planned measure, the
person's rights and the deadline to answer, printed by WeasyPrint and kept in her carnet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from parcours.appointments.letters import french_day
from parcours.core.letters import letter_templates, print_pdf
from parcours.core.settings import ROOT

LETTERS = ROOT / "templates" / "sanctions" / "letters"
_templates = letter_templates(LETTERS)


@dataclass(frozen=True)
class SanctionNotice:
    reference: str
    department: str
    person_name: str
    person_address: tuple[str, ...]
    facts: str
    planned: str
    answer_days: int
    written_on: date


def notice_html(letter: SanctionNotice) -> str:
    return _templates.get_template("notice.html").render(
        letter=letter, written_on=french_day(letter.written_on)
    )


def render_notice_pdf(letter: SanctionNotice) -> bytes:
    return print_pdf(notice_html(letter), LETTERS)
