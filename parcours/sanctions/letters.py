"""The notice before a sanction (« avis préalable »): the facts, the planned measure, the
person's rights and the deadline to answer, printed by WeasyPrint and kept in her carnet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from parcours.appointments.letters import _environment, french_day
from parcours.core.settings import ROOT

LETTERS = ROOT / "templates" / "sanctions" / "letters"
_templates = _environment(LETTERS)


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
    from weasyprint import CSS, HTML

    document = HTML(string=notice_html(letter), base_url=str(LETTERS))
    pdf: bytes = document.write_pdf(
        stylesheets=[CSS(filename=str(LETTERS / "notice.css"))], pdf_variant="pdf/ua-1"
    )
    return pdf
