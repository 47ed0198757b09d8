"""``parcours import-resources PATH...``: import data·inclusion structures and services and
trainings from files (or folders of them), then print the report in French."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.errors import ParcoursError
from parcours.core.settings import Settings
from parcours.resources.schemas import ImportReport
from parcours.resources.service import ResourceBaseService

SHOWN_REJECTS = 50


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in (".json", ".csv"))
        else:
            found.append(path)
    return found


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n <= 1 else many}"


def report_text(report: ImportReport, shown_rejects: int = SHOWN_REJECTS) -> str:
    lines: list[str] = []
    for f in report.files:
        if f.error:
            lines.append(f"« {f.filename} » : non importé — {f.error}")
            continue
        lines.append(
            f"« {f.filename} » ({f.kind_label}, {_plural(f.rows, f.unit, f.unit + 's')}) : "
            f"{_plural(f.created, 'ajout', 'ajouts')}, "
            f"{_plural(f.updated, 'mise à jour', 'mises à jour')}, "
            f"{_plural(len(f.rejected), 'rejet', 'rejets')}" + (" :" if f.rejected else ".")
        )
        for r in f.rejected[:shown_rejects]:
            lines.append(f"    {f.unit} {r.row}{f' ({r.id})' if r.id else ''} : {r.reason}")
        if len(f.rejected) > shown_rejects:
            lines.append(f"    … et {len(f.rejected) - shown_rejects} autres rejets.")
    return "\n".join(lines)


async def run_import(
    settings: Settings, paths: list[Path], *, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """0 when every file could be read (rejected rows are reported, not failures)."""
    files: list[tuple[str, bytes]] = []
    for path in _files(paths):
        try:
            files.append((path.name, await asyncio.to_thread(path.read_bytes)))
        except OSError as error:
            print(f"Impossible de lire {path} : {error.strerror}.", file=err)
            return 1
    if not files:
        print("Aucun fichier .json ou .csv à importer.", file=err)
        return 1
    engine = create_engine(settings.database_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            report = await ResourceBaseService(session).import_files(files)
    except ParcoursError as error:
        print(error.message, file=err)
        return 1
    finally:
        await engine.dispose()
    print(report_text(report), file=out)
    return 0 if report.ok else 1
