"""Convocation letters as the person receives them: the PDF's text (read back with pypdf)
says who is convoked, when (in French, Paris time), where, that it is mandatory and — only
before the équipe pluridisciplinaire — that an unexcused absence may suspend the RSA."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from parcours.appointments.letters import (
    ConvocationLetter,
    french_datetime,
    render_convocation_pdf,
)
from parcours.appointments.messages import AppointmentKind

pytestmark = pytest.mark.appointments

PARIS = ZoneInfo("Europe/Paris")
SANCTION = "Votre absence non justifiée peut entraîner une sanction (suspension du RSA)."

LETTER = ConvocationLetter(
    reference="RDV-2026-0042",
    kind=AppointmentKind.ORIENTATION,
    starts_at=datetime(2026, 12, 15, 9, 30, tzinfo=PARIS),
    duration=timedelta(minutes=45),
    department="Département de la Savoie",
    structure_name="Direction de l'insertion, territoire de Chambéry",
    structure_address=("Château des ducs de Savoie", "73018 Chambéry Cedex"),
    structure_phone="04 79 96 73 73",
    structure_email="insertion@savoie.fr",
    person_name="Camille Martin",
    person_address=("12 rue de la République", "73000 Chambéry"),
    place_name="Maison sociale du département",
    place_address=("107 rue Sommeiller", "73000 Chambéry"),
    accessibility="Accès de plain-pied, boucle magnétique à l'accueil",
    agent_name="Amélie Dupré",
    agent_role="référente RSA",
    written_in="Chambéry",
    written_on=date(2026, 12, 1),
)


def text_of(pdf: bytes) -> str:
    """The letter's text on one line per paragraph, spaces as a reader sees them."""
    reader = PdfReader(BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def test_a_convocation_says_who_when_where_and_that_it_is_mandatory() -> None:
    pdf = render_convocation_pdf(LETTER)

    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    assert "DÉPARTEMENT DE LA SAVOIE" in text
    assert "Camille Martin" in text and "12 rue de la République" in text
    assert "Objet : convocation à un rendez-vous" in text
    assert "Rendez-vous d'orientation" in text
    assert "le mardi 15 décembre 2026 à 9 h 30" in text
    assert "Maison sociale du département" in text and "107 rue Sommeiller" in text
    assert "boucle magnétique" in text
    assert "Amélie Dupré, référente RSA" in text
    assert "Ce rendez-vous est obligatoire." in text
    assert "04 79 96 73 73" in text and "insertion@savoie.fr" in text
    assert "Chambéry, le mardi 1er décembre 2026" in text
    assert SANCTION not in text
    assert len(PdfReader(BytesIO(pdf)).pages) == 1


def test_only_the_equipe_pluridisciplinaire_warns_of_a_sanction() -> None:
    for kind in AppointmentKind:
        text = text_of(render_convocation_pdf(replace(LETTER, kind=kind)))
        assert "Ce rendez-vous est obligatoire." in text
        assert (SANCTION in text) is (kind == "equipe_pluridisciplinaire"), kind
    team = text_of(
        render_convocation_pdf(replace(LETTER, kind=AppointmentKind.EQUIPE_PLURIDISCIPLINAIRE))
    )
    assert "Passage devant l'équipe pluridisciplinaire" in team


def test_names_with_accents_and_apostrophes_print_as_written() -> None:
    letter = replace(
        LETTER,
        person_name="Zoé N'Diaye-Lefèvre",
        person_address=("3 chemin de l'Œillet", "73190 Saint-Jeoire-Prieuré"),
        agent_name="Élodie D’Hérouville",
    )

    text = text_of(render_convocation_pdf(letter))

    assert "Zoé N'Diaye-Lefèvre" in text
    assert "3 chemin de l'Œillet" in text and "Saint-Jeoire-Prieuré" in text
    assert "Élodie D’Hérouville" in text
    # Escaped as HTML, never interpreted.
    assert "&#39;" not in text and "&amp;" not in text


def test_markup_in_a_value_is_printed_not_interpreted() -> None:
    text = text_of(render_convocation_pdf(replace(LETTER, person_name="<b>Martin</b> & fils")))
    assert "<b>Martin</b> & fils" in text


def test_the_letter_is_tagged_for_screen_readers_and_its_title_names_no_one() -> None:
    reader = PdfReader(BytesIO(render_convocation_pdf(LETTER)))
    catalog = reader.root_object
    # PDF/UA: a tagged PDF, read in order.
    mark_info = catalog["/MarkInfo"]
    assert isinstance(mark_info, DictionaryObject) and bool(mark_info["/Marked"])
    assert catalog["/Lang"] == "fr"
    assert reader.metadata is not None and reader.metadata.title is not None
    assert "RDV-2026-0042" in reader.metadata.title and "Martin" not in reader.metadata.title


def test_a_letter_stays_small() -> None:
    pdf = render_convocation_pdf(replace(LETTER, kind=AppointmentKind.EQUIPE_PLURIDISCIPLINAIRE))
    print(f"convocation_pdf_bytes={len(pdf)}")
    assert len(pdf) < 100_000


def test_the_time_is_printed_in_paris_time_whatever_zone_it_comes_in() -> None:
    in_utc = datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("UTC"))
    assert french_datetime(in_utc) == "mercredi 1er juillet 2026 à 14 h"
    with pytest.raises(ValueError, match="aware"):
        replace(LETTER, starts_at=datetime(2026, 12, 15, 9, 30))
