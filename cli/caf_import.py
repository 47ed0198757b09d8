"""``parcours import-caf FILE``: store a CAF feed file, run its import as a workflow, show the
progress, then the summary and the rejected lines, in French."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from parcours.core.db import create_engine, create_sessionmaker, transaction
from parcours.core.errors import ParcoursError
from parcours.core.settings import Settings
from parcours.core.temporal import connect
from parcours.partners.caf_import import CafImportService
from parcours.partners.messages import CafImportProgress, caf_import_workflow_id
from parcours.partners.schemas import CafImportRead

SHOWN_REJECTS = 50


def number(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def plural(n: int, one: str, many: str) -> str:
    return f"{number(n)} {one if n <= 1 else many}"


def summary(read: CafImportRead, shown_rejects: int = SHOWN_REJECTS) -> str:
    lines = [
        f"Import du fichier « {read.filename} » ({plural(read.lines, 'ligne', 'lignes')}) : "
        f"{read.status_label.lower()}.",
        f"  {plural(read.created, 'personne inscrite', 'personnes inscrites')} (parcours démarrés)",
        f"  {plural(read.signalled, 'parcours informé', 'parcours informés')} "
        "d'un changement de droits",
        f"  {plural(read.unchanged, 'ligne sans effet', 'lignes sans effet')} "
        "(déjà appliquées ou sans parcours)",
        f"  {plural(read.rejected, 'ligne rejetée', 'lignes rejetées')}"
        + (" :" if read.rejected else ""),
    ]
    lines += [f"    ligne {r.line} : {r.reason}" for r in read.rejects[:shown_rejects]]
    if read.rejected > shown_rejects:
        lines.append(
            f"    … et {number(read.rejected - shown_rejects)} autres "
            f"(GET /api/v1/caf-imports/{read.id})"
        )
    lines.append(f"Identifiant de l'import : {read.id}")
    return "\n".join(lines)


async def _read(
    sessions: async_sessionmaker[AsyncSession], client: Client, settings: Settings, file_id: str
) -> CafImportRead:
    async with transaction(sessions) as session:
        return await CafImportService(session, client, settings).read(
            file_id, rejects_limit=SHOWN_REJECTS
        )


async def run_import(
    settings: Settings,
    path: Path,
    *,
    out: TextIO = sys.stdout,
    progress_to: TextIO = sys.stderr,
    poll_s: float = 1.0,
) -> int:
    try:
        source = path.open("rb")
    except OSError as error:
        print(f"Impossible de lire {path} : {error.strerror}.", file=progress_to)
        return 1
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    try:
        client = await connect(settings)
        async with transaction(sessions) as session:
            # Read chunk by chunk: the file's size does not weigh on the memory.
            file_id, _ = await CafImportService(session, client, settings).store(path.name, source)
        current = await _read(sessions, client, settings, file_id)
        if current.status == "completed":
            print("Ce fichier a déjà été importé (même contenu) : rien n'a été refait.", file=out)
            print(summary(current), file=out)
            return 0
        async with transaction(sessions) as session:
            await CafImportService(session, client, settings).start(file_id)
        handle = client.get_workflow_handle(
            caf_import_workflow_id(file_id), result_type=CafImportProgress
        )
        result = asyncio.create_task(handle.result())
        while not result.done():
            try:
                progress = await handle.query("progress", result_type=CafImportProgress)
            except Exception:  # the workflow may not have run its first task yet
                progress = None
            if progress is not None and progress.lines:
                c = progress.counts
                print(
                    f"\r{number(c.processed)}/{number(progress.lines)} lignes traitées "
                    f"({number(c.created)} inscrites, {number(c.signalled)} changements, "
                    f"{number(c.unchanged)} sans effet, {number(c.rejected)} rejetées)",
                    end="",
                    file=progress_to,
                    flush=True,
                )
            await asyncio.wait({result}, timeout=poll_s)
        await result
        print(file=progress_to)
        print(summary(await _read(sessions, client, settings, file_id)), file=out)
        return 0
    except ParcoursError as error:
        print(error.message, file=progress_to)
        return 1
    finally:
        source.close()
        await engine.dispose()
