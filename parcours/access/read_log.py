"""The access log's read rows, off the read's critical path but never behind the response.

A read of a carnet or a journey writes one ``AccessLogEntry`` (who, whom, when, what), as
before: the DPO's "who read this carnet this year" stays exact to the read. What changes is
*when* the row is written:

- ``log_read`` keeps the row aside on the session instead of adding it: an autoflush in the
  middle of the read no longer inserts it, which on SQLite took the single write lock at the
  read's first query after the check and held it for the rest of the request, so twenty
  concurrent readers queued one behind the other. The row is added when the session commits
  (``before_commit``): any caller that commits its session — an activity, a script, a test —
  writes it in the same transaction as before.
- The API's request session hands its read rows to the process's ``ReadLogWriter`` before it
  commits: a group commit. Readers arriving while a batch is being written wait for the next
  one, so one short write transaction logs the reads of all concurrent readers. The request
  answers only once its batch is committed: a crash (process, database) before that commit
  sends no response, so no read is shown unlogged; a crash between the commit and the
  response logs a read nobody saw, the safe side.

Deduplicating (one row per agent, person and minute, with a count) would write less but lose
each read's time and what was read; the batch keeps the log's rows as they were."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from parcours.access.models import AccessLogEntry
from parcours.access.rules import Principal
from parcours.core.db import transaction, utcnow

# The session's read rows not written yet, and whether its transaction wrote (``Session.info``).
_PENDING_READS = "access_log_pending_reads"
_WROTE = "access_log_transaction_wrote"


def log_read(session: AsyncSession, p: Principal | None, beneficiary_id: str, what: str) -> None:
    """Log that ``p`` read ``what`` of ``beneficiary_id``'s carnet: written when the session
    commits (or by the API's group commit), never before."""
    pending: list[AccessLogEntry] = session.info.setdefault(_PENDING_READS, [])
    pending.append(
        AccessLogEntry(
            at=utcnow(),
            user_id=p.id if p else None,
            beneficiary_id=beneficiary_id,
            action="read",
            what=what,
        )
    )


def take_pending_reads(session: AsyncSession) -> list[AccessLogEntry]:
    """The session's read rows, now the caller's to write — none when the session has
    written in its transaction: on SQLite it holds the write lock, which another
    connection's batch would wait for; then they go in its own commit, as before."""
    if session.info.get(_WROTE):
        return []
    pending: list[AccessLogEntry] = session.info.pop(_PENDING_READS, [])
    return pending


@event.listens_for(Session, "before_commit")
def _write_pending_reads(session: Session) -> None:
    # Before the commit's own flush: the rows go in the same transaction.
    if pending := session.info.pop(_PENDING_READS, None):
        session.add_all(pending)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending_reads(session: Session, previous: SessionTransaction) -> None:
    # What was read in a rolled-back transaction was not shown: nothing to log.
    if not previous.nested:
        session.info.pop(_PENDING_READS, None)
        session.info.pop(_WROTE, None)


@event.listens_for(Session, "after_commit")
def _transaction_ended(session: Session) -> None:
    session.info.pop(_WROTE, None)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


class ReadLogWriter:
    """Group commit of read rows for one process (created in the API's lifespan)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._waiting: list[tuple[list[AccessLogEntry], asyncio.Future[None]]] = []
        self._writing = asyncio.Lock()
        self.batches = 0  # how many commits, for the tests and the curious

    async def write(self, entries: list[AccessLogEntry]) -> None:
        """Return once ``entries`` are committed, with those of every reader who came
        while the previous batch was being written; raise if their commit failed."""
        if not entries:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((entries, done))
        async with self._writing:
            if not done.done():  # else an earlier writer took ours in its batch
                batch, self._waiting = self._waiting, []
                await self._commit(batch)
        await done

    async def _commit(self, batch: list[tuple[list[AccessLogEntry], asyncio.Future[None]]]) -> None:
        outcome: BaseException | None = None
        try:
            async with transaction(self._sessions) as session:
                session.add_all([entry for entries, _ in batch for entry in entries])
            self.batches += 1
        except BaseException as error:  # cancelled included: nobody of the batch is answered
            outcome = error
        for _, done in batch:
            if done.done():
                continue
            if outcome is None:
                done.set_result(None)
            else:
                done.set_exception(_unlogged(outcome))
        if isinstance(outcome, asyncio.CancelledError):
            raise outcome


def _unlogged(error: BaseException) -> Exception:
    if isinstance(error, Exception):
        return error
    return RuntimeError(f"access log not written: {error!r}")
