"""Where the recorded ``Journey`` histories that the replay tests replay are kept."""

from __future__ import annotations

from pathlib import Path

HISTORIES = Path(__file__).parents[1] / "replay" / "histories"
