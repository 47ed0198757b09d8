"""What the territories are read as: a département, whether it is hosted, and its label."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TerritoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    active: bool

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"
