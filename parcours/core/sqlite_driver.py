"""How the app talks to SQLite: each statement in one trip to the connection's thread.

aiosqlite runs a SQLite connection in a thread of its own and hands it one call at a time;
SQLAlchemy's adapter makes four such calls per statement (open a cursor, execute, fetch the
rows, close the cursor), and each one is a round trip between the event loop and the thread,
about 45 µs of CPU here. A journey read by the API runs seven statements: 29 trips, a quarter
of the read's CPU. Here a statement is one call run in the thread: execute, fetch, close, and
what the statement left (columns, rows counted, last row id) read there and kept.

It relies on two names aiosqlite keeps private and that SQLAlchemy's own adapter uses too
(``Connection._execute``, ``Connection._conn``); the tests of every SQLite query run through
it, so a release that changes them fails there first."""

from __future__ import annotations

import collections
import sqlite3
from threading import Thread
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_


class SQLiteConnection(sqlite3.Connection):
    """A SQLite connection that rolls its transaction back before it closes.

    A unit of work cancelled in the middle of a statement (an activity cancelled, a request
    abandoned) has its connection closed while the statement is still referenced by the
    cancellation's traceback. SQLite then keeps the connection half-open, with its transaction
    and the database's write lock, until that statement is garbage-collected: minutes during
    which every other writer fails with « database is locked ». Rolling back first releases
    the lock at once; closing would have discarded the transaction anyway."""

    def close(self) -> None:
        try:
            if self.in_transaction:
                self.rollback()
        except sqlite3.Error:
            pass  # closing still releases what it can
        super().close()


class _Outcome:
    """What a statement left, read in the connection's thread before its cursor closed."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self) -> None:
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    def close(self) -> None:
        """Its cursor closed in the thread already."""


def _run(
    connection: sqlite3.Connection, outcome: _Outcome, operation: str, parameters: Any, many: bool
) -> list[Any] | None:
    """In the connection's thread: the whole statement, its cursor closed whatever happens, so
    no statement outlives the call (a cancelled caller leaves nothing half-run behind)."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else None
        outcome.description = cursor.description
        outcome.rowcount = cursor.rowcount
        outcome.lastrowid = cursor.lastrowid
        return rows
    finally:
        cursor.close()


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    # Nothing to close on the way out: ``_run`` closed it.
    _awaitable_cursor_close = False

    def _make_new_cursor(self, connection: Any) -> Any:
        return _Outcome()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._in_thread(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._in_thread(operation, seq_of_parameters, many=True)

    async def _in_thread(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection = self._connection
        async with self._adapt_connection._execute_mutex:
            rows = await connection._execute(
                _run, connection._conn, self._cursor, operation, parameters, many
            )
        if rows is not None:
            self._rows = collections.deque(rows)


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _OneTripCursor


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite as SQLAlchemy's adapter sees it, its connections running each statement in
    one trip (``create_async_engine(url, module=OneTripDBAPI.load())``)."""

    @classmethod
    def load(cls) -> OneTripDBAPI:
        import aiosqlite

        return cls(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = self.aiosqlite.connect(*arg, **kw)
        # A connection's thread must not keep the process alive (as SQLAlchemy's adapter).
        thread = connection if isinstance(connection, Thread) else connection._thread
        thread.daemon = True
        return _OneTripConnection(self, await_(connection))
