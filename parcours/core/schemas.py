"""Read and write shapes every feature shares: a reference to a person or a structure with its
label, how a person's name is written, and the pattern of a département's code."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

TERRITORY_PATTERN = r"^(\d{2,3}|2[AB])$"


class PersonRef(BaseModel):
    id: str
    label: str


def person_name(first_name: str, last_name: str) -> str:
    """A person's name as Parcours writes it everywhere (pages, lists, choices, exports): the
    first name, then the last name, each as it was typed (« Rayan Blanc »)."""
    return f"{first_name.strip()} {last_name.strip()}"


def born_on(birth_date: date) -> str:
    """What tells two people of the same name apart on a list: their birth date."""
    return f"né·e le {birth_date:%d/%m/%Y}"


def person_choice(first_name: str, last_name: str, birth_date: date) -> str:
    """A person offered in a list of choices, told apart from a namesake (« Rayan Blanc, né·e le
    03/02/1988 »)."""
    return f"{person_name(first_name, last_name)}, {born_on(birth_date)}"
