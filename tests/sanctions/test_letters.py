"""The notice before a sanction as the person receives it (the PDF read back with pypdf): the
facts, the planned measure, her rights and the deadline to answer."""

from __future__ import annotations

from datetime import date

import pytest

from parcours.sanctions.letters import SanctionNotice, render_notice_pdf
from tests.appointments.test_letters import text_of

pytestmark = pytest.mark.law


def test_the_notice_says_the_facts_the_measure_her_rights_and_the_deadline() -> None:
    pdf = render_notice_pdf(
        SanctionNotice(
            reference="SAN-1234ABCD",
            department="Département — 73",
            person_name="Camille Martin",
            person_address=("12 rue de la Gare", "73000 Chambéry"),
            facts="Absence non excusée à un rendez-vous.",
            planned="Une suspension d'au moins 30 % de votre RSA pendant 1 à 2 mois.",
            answer_days=10,
            written_on=date(2026, 3, 2),
        )
    )
    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    for expected in (
        "Objet : avis préalable à une suspension-remobilisation de votre RSA",
        "Absence non excusée à un rendez-vous.",
        "Une suspension d'au moins 30 % de votre RSA pendant 1 à 2 mois.",
        "dans un délai de 10 jours à compter de la réception de ce courrier",
        "accompagné(e) de la personne de votre choix",
        "L'équipe pluridisciplinaire sera consultée",
        "signez ou mettez à jour votre contrat d'engagement",
        "Camille Martin",
        "lundi 2 mars 2026",
    ):
        assert expected in text, expected
