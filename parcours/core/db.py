"""The app's database: engine, sessions and the types every table shares."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from parcours.core.sqlite_driver import OneTripDBAPI, SQLiteConnection
from parcours.core.tracing import instrument_engine


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_engine(url: str, *, pool_size: int | None = None) -> AsyncEngine:
    """``pool_size`` fixes the number of connections (no overflow); by default the pool grows
    with the load."""
    fixed = {"pool_size": pool_size, "max_overflow": 0} if pool_size else None
    if url.startswith("sqlite"):
        # Enough connections for a busy API that they are not reopened under load: each
        # aiosqlite connection is a thread, a file opened and the pragmas below.
        sizing = fixed or {"pool_size": 20, "max_overflow": 10}
        engine = create_async_engine(
            url,
            module=OneTripDBAPI.load(),
            connect_args={"timeout": 30, "factory": SQLiteConnection},
            **sizing,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Worker and API write the same file: WAL lets readers through, the timeout
            # makes writers queue instead of failing.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # What is deleted or overwritten is zeroed in the file, not left in free space
            # (an erasure leaves no copy; see ``leave_no_copy``).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()
    else:
        sizing = fixed or {"pool_size": 10, "max_overflow": 20}
        engine = create_async_engine(url, **sizing)
        check_idle_connections(engine)
    instrument_engine(engine)
    return engine


# PostgreSQL: a connection that sat in the pool longer than this is checked before it serves
# (a database restarted or failed over has dropped it: another is opened, and the request
# never sees the dropped one). One back from a unit of work a moment ago is used at once:
# checking every connection (``pool_pre_ping``) took three round trips (begin, ping,
# rollback) and about 0.3 ms of the API's CPU on every request and every activity. A
# connection dropped within that second reaches its request, which answers the French 503
# (« réessayez ») while the pool replaces every connection opened before the drop.
CHECK_IDLE_AFTER_S = 1.0
_IDLE_SINCE = "idle_since"


def check_idle_connections(engine: AsyncEngine) -> None:
    sync = engine.sync_engine

    def _idle_from_now(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    # A connection is idle from its opening, and again from each return to the pool.
    event.listen(sync, "connect", _idle_from_now)
    event.listen(sync, "checkin", _idle_from_now)

    @event.listens_for(sync, "checkout")
    def _out(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        if time.monotonic() - record.info.get(_IDLE_SINCE, 0.0) < CHECK_IDLE_AFTER_S:
            return
        try:
            sync.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and hands out a new one.
            raise DisconnectionError("connection dropped while idle") from error


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends normally, rolls back otherwise."""
    async with sessions() as session, session.begin():
        yield session


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


# A session that erased a person's data says so here: once committed, ``leave_no_copy`` runs.
_ERASED = "personal_data_erased"


def mark_erasure(session: AsyncSession) -> None:
    session.info[_ERASED] = True


def erased(session: AsyncSession) -> bool:
    return bool(session.info.get(_ERASED))


async def leave_no_copy(sessions: async_sessionmaker[AsyncSession]) -> None:
    """After an erasure is committed: on SQLite, copy the write-ahead log into the database
    (whose deleted content ``secure_delete`` zeroes) and empty it, so the erased values stay
    in no file. PostgreSQL reuses its dead rows after VACUUM; its backups are the operator's
    (README, « Effacement »)."""
    async with sessions() as session:
        if session.get_bind().dialect.name != "sqlite":
            return
        await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
