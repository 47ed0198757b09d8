"""Read and write shapes every feature shares: a reference to a person or a structure with its
label, and the pattern of a département's code."""

from __future__ import annotations

from pydantic import BaseModel

TERRITORY_PATTERN = r"^(\d{2,3}|2[AB])$"


class PersonRef(BaseModel):
    id: str
    label: str
