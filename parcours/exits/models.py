"""The end-of-support reasons of each département (``exit_codes``).

A département without rows of its own uses the default list (``rules.DEFAULT_EXIT_CODES``,
seeded for every département by migration ``0023``); its administrator's first change copies
the defaults into its own rows. A code is never deleted (closed journeys carry it): it is made
inactive, and no longer offered.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base


class ExitCode(Base):
    __tablename__ = "exit_codes"

    territory: Mapped[str] = mapped_column(String(3), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(120))
    # The journey's exit reason this code is a case of (``parcours.journey.messages.ExitReason``).
    exit_reason: Mapped[str] = mapped_column(String(30))
    positive: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The order the close form offers them in.
    position: Mapped[int] = mapped_column(Integer, default=0)
