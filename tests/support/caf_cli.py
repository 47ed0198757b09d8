"""Imports of a CAF file that stop right before storing it, for the tests that make two imports
of one file race: ``watched_storing`` makes ``CafFeedRepository.add_file`` tell a
``StoringWatch`` that it is about to store the file (the import looked for it and did not find
it), wait until the watch lets it, store, and tell whether it stored the file or found it stored
meanwhile by another import.

Run as a module, ``python -m tests.support.caf_cli import-caf FILE`` is ``parcours import-caf``
(the command of ``cli.main``, unchanged) in a process of its own, watched through files:
``PARCOURS_TEST_STORING`` names a file where it appends what it says (``storing``, then
``stored`` or ``already stored``), and it stores once a file of that name plus ``.go``
exists (``FileWatch``)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, Protocol

from parcours.partners.models import CafFeedFile
from parcours.partners.repository import CafFeedRepository

AddFile = Callable[
    [CafFeedRepository, CafFeedFile, Iterable[tuple[int, str]]], Coroutine[Any, Any, bool]
]


class StoringWatch(Protocol):
    async def storing(self) -> None:
        """An import is about to store the file: say so, and wait until it may."""

    def stored(self, stored: bool) -> None:
        """It stored the file (True), or another import had meanwhile (False)."""


def watched_storing(add_file: AddFile, watch: StoringWatch) -> AddFile:
    async def add_file_watched(
        repository: CafFeedRepository, feed: CafFeedFile, lines: Iterable[tuple[int, str]]
    ) -> bool:
        await watch.storing()
        stored = await add_file(repository, feed, lines)
        watch.stored(stored)
        return stored

    return add_file_watched


class FileWatch:
    """A ``StoringWatch`` through files, between processes: what is said is appended to
    ``mark``; storing is let go by ``mark`` + ``.go``."""

    def __init__(self, mark: Path) -> None:
        self.mark = mark
        self.go = mark.with_name(mark.name + ".go")

    def said(self) -> list[str]:
        return self.mark.read_text().splitlines() if self.mark.exists() else []

    def let_store(self) -> None:
        self.go.touch()

    def _say(self, word: str) -> None:
        with self.mark.open("a") as out:
            out.write(f"{word}\n")

    async def storing(self) -> None:
        self._say("storing")
        async with asyncio.timeout(60):
            while not self.go.exists():
                await asyncio.sleep(0.02)

    def stored(self, stored: bool) -> None:
        self._say("stored" if stored else "already stored")


if __name__ == "__main__":
    from cli.main import app

    watch = FileWatch(Path(os.environ["PARCOURS_TEST_STORING"]))
    CafFeedRepository.add_file = watched_storing(  # type: ignore[method-assign,assignment]
        CafFeedRepository.add_file, watch
    )
    app()
