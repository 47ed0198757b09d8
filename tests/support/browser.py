"""What the Playwright tests share: Debian's Chromium and its arguments, where screenshots go, and
the ``Carnet`` (a référent and a person they follow) the ``carnet`` fixture creates."""

from __future__ import annotations

import os
from dataclasses import dataclass

from parcours.core.settings import ROOT

CHROMIUM = os.environ.get("PARCOURS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "navigateur-parcours-73"
SCREENSHOTS = ROOT / "var" / "screenshots"


@dataclass(frozen=True)
class Carnet:
    """A référent who signs in, and a person they follow (who can sign in too)."""

    referent_email: str
    beneficiary_id: str
    first_name: str
    last_name: str
    person_email: str
