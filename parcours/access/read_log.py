"""The access log's read rows, written at the read's commit rather than in the middle of it.

A read of a carnet or a journey writes one ``AccessLogEntry`` (who, whom, when, what) in the
read's own transaction, as before: the DPO's "who read this carnet this year" stays exact to
the read, and a read whose transaction does not commit — a crash, a database gone — answers an
error, never the carnet. What changes is *when* the row is written: ``log_read`` keeps it on
the session until the commit (``before_commit``) instead of adding it, so an autoflush at the
read's next query no longer inserts it. On SQLite that insert took the single write lock at the
read's first query after the check and held it to the end of the request: twenty concurrent
readers queued behind each other, and behind the worker's read-model writes. Now the lock is
held only for the commit's insert.

Neither batched across readers (a group commit measured no better here: the reads are bound by
the API's CPU, and the batch's connection queued behind actions) nor deduplicated (one row per
agent, person and minute would lose each read's time and what was read)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import Table, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from parcours.access.models import AccessLogEntry
from parcours.access.rules import Principal
from parcours.core.db import utcnow

# The session's read rows not written yet (``Session.info``).
_PENDING_READS = "access_log_pending_reads"
# The rows go in as plain rows (built once): nothing reads them back in the request, and the
# unit of work's flush of one object — identity, key fetched back — cost a read on SQLite
# about as much as two of its queries.
_INSERT_READS = insert(cast(Table, AccessLogEntry.__table__))
# How long a read's commit waits for its turn (``commit_turn``) before going ahead anyway.
TURN_WAIT_S = 0.05
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def log_read(session: AsyncSession, p: Principal | None, beneficiary_id: str, what: str) -> None:
    """Log that ``p`` read ``what`` of ``beneficiary_id``'s carnet: written when the session
    commits, in its transaction."""
    pending: list[dict[str, Any]] = session.info.setdefault(_PENDING_READS, [])
    pending.append(
        {
            "at": utcnow(),
            "user_id": p.id if p else None,
            "beneficiary_id": beneficiary_id,
            "subject": None,
            "action": "read",
            "what": what,
        }
    )


@event.listens_for(Session, "before_commit")
def _write_pending_reads(session: Session) -> None:
    # Before the commit itself: the rows go in the same transaction.
    if pending := session.info.pop(_PENDING_READS, None):
        session.connection().execute(_INSERT_READS, pending)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending_reads(session: Session, previous: SessionTransaction) -> None:
    # What was read in a rolled-back transaction was not shown: nothing to log.
    if not previous.nested:
        session.info.pop(_PENDING_READS, None)


@asynccontextmanager
async def commit_turn(session: AsyncSession) -> AsyncIterator[None]:
    """Around the commit of a session that has read rows to write, on SQLite: the process's
    such commits go one at a time instead of meeting at the file's write lock, where SQLite's
    busy handler sleeps 1 to 100 ms between its tries while the lock is held a fraction of a
    millisecond (twenty clients reading journeys, nothing else: p95 215–439 ms with the rows,
    167 without them, the median the same). A commit that finds no turn within
    ``TURN_WAIT_S`` goes ahead as before: a session that wrote earlier already holds the file's
    lock, and must not wait for one that waits for it. Elsewhere (PostgreSQL, no read rows),
    nothing changes."""
    if not session.info.get(_PENDING_READS) or session.get_bind().dialect.name != "sqlite":
        yield
        return
    loop = asyncio.get_running_loop()
    turn = _turns.get(loop) or _turns.setdefault(loop, asyncio.Lock())
    try:
        async with asyncio.timeout(TURN_WAIT_S):
            await turn.acquire()
    except TimeoutError:
        yield
        return
    try:
        yield
    finally:
        turn.release()
