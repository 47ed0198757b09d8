"""TODO docstring."""

from __future__ import annotations

from pydantic import BaseModel

TERRITORY_PATTERN = r"^(\d{2,3}|2[AB])$"


class PersonRef(BaseModel):
    id: str
    label: str
