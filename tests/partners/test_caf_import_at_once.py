"""The same CAF file imported twice at once — by the JSON API and by ``parcours import-caf``, or
by two uploads — is imported once: one stored file, one ``CafImport`` workflow, one person and
one journey per CAF number, and neither side is shown an error (each says imported, or already
imported).

The race is made to happen, not hoped for: each import stops right before storing the file,
once it has looked for it and found nothing; when both are there, they store it — one then the
other while the first's transaction is open, or both at once — and one of them does."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus

from parcours.access.rules import Role
from parcours.carnet.models import Beneficiary
from parcours.core.settings import ROOT, Settings
from parcours.journey.models import JourneyRecord
from parcours.partners.messages import CafImportProgress, caf_import_workflow_id
from parcours.partners.models import CafFeedFile, CafFeedLine
from parcours.partners.repository import CafFeedRepository
from tests.support.caf_cli import FileWatch, watched_storing
from tests.support.caf_feed import Expected, feed_file, journeys_reach, people_with
from tests.support.partners import PartnerStack, api_token
from tests.support.platform import until


class AppWatch:
    """The imports of this process (the app's requests) as they store a file: what they say,
    in order; each waits before storing until ``let_store``."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self._go = asyncio.Event()

    def said(self) -> list[str]:
        return list(self.words)

    def let_store(self) -> None:
        self._go.set()

    async def storing(self) -> None:
        self.words.append("storing")
        await self._go.wait()

    def stored(self, stored: bool) -> None:
        self.words.append("stored" if stored else "already stored")


@pytest.fixture
def app_watch(monkeypatch: pytest.MonkeyPatch) -> Iterator[AppWatch]:
    watch = AppWatch()
    monkeypatch.setattr(
        CafFeedRepository, "add_file", watched_storing(CafFeedRepository.add_file, watch)
    )
    yield watch
    watch.let_store()  # a test that failed leaves no request waiting


@asynccontextmanager
async def cli_import(
    settings: Settings, path: Path, watch: FileWatch
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``parcours import-caf path`` in its own process, on the partner stack (whose worker runs
    the import), watched through ``watch``; stopped if still running at the end."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "PARCOURS_ENVIRONMENT": "test",
        "PARCOURS_SECRET_KEY": "test-secret-key",
        "PARCOURS_TEMPORAL_ADDRESS": settings.temporal_address,
        "PARCOURS_TASK_QUEUE": settings.task_queue,
        "PARCOURS_CAF_IMPORT_BATCH_LINES": str(settings.caf_import_batch_lines),
        "PARCOURS_LOG_FORMAT": "console",
        "PARCOURS_TEST_STORING": str(watch.mark),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.caf_cli",
        "import-caf",
        str(path),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def upload(
    partners: PartnerStack, auth: dict[str, str], name: str, content: bytes
) -> httpx.Response:
    files = {"file": (name, content, "text/csv")}
    return await partners.api.post("/api/v1/caf-imports", files=files, headers=auth)


async def until_said(
    check: Callable[[], bool],
    uploads: Sequence[asyncio.Task[httpx.Response]] = (),
    cli: asyncio.subprocess.Process | None = None,
) -> None:
    """Until the imports have said what ``check`` expects; one that ended without saying it
    fails the test with what it answered."""
    async with asyncio.timeout(30):
        while not check():
            for task in uploads:
                if task.done():
                    raise AssertionError(f"an upload ended unexpectedly: {task.result().text}")
            if cli is not None and cli.returncode is not None:
                _, err = await cli.communicate()
                raise AssertionError(f"the CLI ended unexpectedly:\n{err.decode()[-3000:]}")
            await asyncio.sleep(0.02)


async def imported_once(
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    content: bytes,
    expected: Expected,
) -> None:
    """One stored file with its lines each applied, one ``CafImport`` workflow that imported
    them all, one person and one journey per CAF number."""
    file_id = hashlib.sha256(content).hexdigest()
    workflow_id = caf_import_workflow_id(file_id)
    handle = partners.client.get_workflow_handle(workflow_id, result_type=CafImportProgress)
    result = await asyncio.wait_for(handle.result(), timeout=120)
    lines = len(expected.outcomes)
    assert (result.counts.processed, result.counts.created, result.counts.rejected) == (
        lines,
        expected.count("created"),
        expected.count("rejected"),
    )

    async with sessions() as session:
        files = await session.scalar(
            select(func.count()).select_from(CafFeedFile).where(CafFeedFile.id == file_id)
        )
        applied = await session.execute(
            select(CafFeedLine.outcome, func.count())
            .where(CafFeedLine.file_id == file_id)
            .group_by(CafFeedLine.outcome)
        )
        journeys = await session.execute(
            select(Beneficiary.caf_number, func.count())
            .join(JourneyRecord, JourneyRecord.beneficiary_id == Beneficiary.id)
            .where(Beneficiary.caf_number.in_(list(expected.final_status)))
            .group_by(Beneficiary.caf_number)
        )
        journeys_by_caf = dict(journeys.all())
    assert files == 1
    # Each line applied once (none left pending, none applied by both).
    assert dict(applied.all()) == {
        outcome: count
        for outcome in ("created", "signalled", "rejected")
        if (count := expected.count(outcome))
    }
    assert journeys_by_caf == dict.fromkeys(expected.final_status, 1)
    people = await people_with(sessions, list(expected.final_status))
    assert {caf: len(found) for caf, found in people.items() if len(found) != 1} == {}
    assert await journeys_reach(sessions, expected.final_status) == {
        caf: status.value for caf, status in expected.final_status.items()
    }

    # One run of the import, as Temporal lists the runs of its id (read once it lists the import
    # ended: a second run would have started with the imports, before the first one ended).
    async def runs() -> list[Any] | None:
        listed = [e async for e in partners.client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        ended = listed and all(e.status is not WorkflowExecutionStatus.RUNNING for e in listed)
        return listed if ended else None

    listed = await until(runs)
    assert [(e.workflow_type, e.status) for e in listed] == [
        ("CafImport", WorkflowExecutionStatus.COMPLETED)
    ]


@pytest.mark.parametrize("first", ["api", "cli", "both at once"])
async def test_the_api_and_the_cli_importing_one_file_at_once_import_it_once(
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    app_watch: AppWatch,
    first: str,
) -> None:
    path, expected = await feed_file(sessions, tmp_path, 40, malformed=4)
    content = path.read_bytes()
    auth = {"Authorization": f"Bearer {await api_token(sessions, partners.settings, Role.MANAGER)}"}
    cli_watch = FileWatch(tmp_path / "cli-storing")

    async with cli_import(partners.settings, path, cli_watch) as cli:
        uploading = asyncio.create_task(upload(partners, auth, path.name, content))
        # Both looked for the file, found nothing, and are about to store it.
        await until_said(
            lambda: app_watch.said() == ["storing"] and cli_watch.said() == ["storing"],
            [uploading],
            cli,
        )
        if first == "both at once":
            app_watch.let_store()
            cli_watch.let_store()
        else:
            # One stores it (its transaction still open when the other tries), then the other.
            winner, loser = (app_watch, cli_watch) if first == "api" else (cli_watch, app_watch)
            winner.let_store()
            await until_said(lambda: winner.said() == ["storing", "stored"], [uploading], cli)
            loser.let_store()
        uploaded = await uploading
        out, err = await asyncio.wait_for(cli.communicate(), timeout=120)

    # One of them stored the file; the other found it stored.
    api_says, cli_says = app_watch.said()[1:], cli_watch.said()[1:]
    assert sorted(api_says + cli_says) == ["already stored", "stored"]
    if first != "both at once":
        assert (api_says if first == "api" else cli_says) == ["stored"]
    # Neither was shown an error: the API says whether the file was already imported, the
    # CLI reports the import.
    assert uploaded.status_code == 202, uploaded.text
    assert uploaded.json()["already_imported"] is (api_says == ["already stored"])
    assert cli.returncode == 0, err.decode()
    assert f"Import du fichier « {path.name} » (40 lignes) : terminé." in out.decode()
    await imported_once(partners, sessions, content, expected)


async def test_two_uploads_of_one_file_at_once_import_it_once(
    partners: PartnerStack,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    app_watch: AppWatch,
) -> None:
    path, expected = await feed_file(sessions, tmp_path, 40, malformed=4)
    content = path.read_bytes()
    auth = {"Authorization": f"Bearer {await api_token(sessions, partners.settings, Role.MANAGER)}"}

    uploads = [asyncio.create_task(upload(partners, auth, path.name, content)) for _ in range(2)]
    await until_said(lambda: app_watch.said() == ["storing", "storing"], uploads)
    app_watch.let_store()  # both store at once
    responses = await asyncio.gather(*uploads)

    assert sorted(app_watch.said()[2:]) == ["already stored", "stored"]
    assert [r.status_code for r in responses] == [202, 202], [r.text for r in responses]
    assert sorted(r.json()["already_imported"] for r in responses) == [False, True]
    await imported_once(partners, sessions, content, expected)
