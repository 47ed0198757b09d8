"""Parts shared by the partners' request bodies: who a request is about, and who sends it."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

NIR_PATTERN = r"^[12378]\d{4}(\d{2}|2[AB])\d{6}(\d{2})?$"


class PersonRef(BaseModel):
    """A person as partners identify them: NIR (13 characters, or 15 with its key), birth date."""

    nir: str = Field(pattern=NIR_PATTERN)
    birth_date: date
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)

    @property
    def nir13(self) -> str:
        return self.nir[:13]


class Referent(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    structure: str | None = Field(default=None, max_length=200)
