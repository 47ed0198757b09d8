"""Letters printed as PDF (a convocation, a sanction's notice): their templates' environment and
the one stylesheet and printer they share (A4, fonts subset and embedded, tagged PDF/UA so that
screen readers read them in order, RGAA)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from parcours.core.settings import ROOT

LETTER_CSS = ROOT / "templates" / "letters" / "letter.css"


def letter_templates(directory: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def print_pdf(html: str, base: Path) -> bytes:
    """The letter ``html`` as a PDF, its relative links read from ``base``."""
    # Imported here: WeasyPrint loads Pango when imported, which only letter-making processes
    # (the worker's activities, the tests) need.
    from weasyprint import CSS, HTML

    pdf: bytes = HTML(string=html, base_url=str(base)).write_pdf(
        stylesheets=[CSS(filename=str(LETTER_CSS))], pdf_variant="pdf/ua-1"
    )
    return pdf
