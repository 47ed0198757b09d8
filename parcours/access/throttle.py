"""Sign-in that holds under attack: attempts are counted before the password is checked, under
three keys, each in one SQL statement (an upsert that returns the new count), in a short
transaction of its own so that parallel tries see each other at once.

- **the address typed, from one client address** (``pair``): every attempt counts; past
  ``sign_in_attempts_per_pair`` within the window, each further try waits twice as long as the
  one before (30 s, 1 min, 2 min… at most 15 min). A stranger elsewhere never makes the agent
  wait: the pair is theirs. A success forgets the pair.
- **the client address** (``client``): failures count, whatever the address typed (one machine
  trying many accounts).
- **the address typed** (``account``): failures count, from anywhere (many machines trying one
  account); its limit is high, so that only a wide attack slows the agent down.

Keys are hashes: the table tells nothing of who tried from where. The answer to a throttled
try is the same whether the account exists or not (the keys are built from what was typed).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import SignInThrottle
from parcours.core.db import transaction, utcnow
from parcours.core.errors import TooManyAttempts
from parcours.core.settings import Settings


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{kind}:{digest}"


def _typed(email: str) -> str:
    return email.strip().lower()


def waits(limit: int, first_s: int, max_s: int) -> list[int]:
    """The waits, in seconds, set by the ``limit``-th try and each one after it: twice as long
    each time, up to ``max_s``."""
    found, wait = [], first_s
    while wait < max_s:
        found.append(wait)
        wait *= 2
    return [*found, max_s]


def waiting_message(until: datetime, now: datetime) -> str:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    delay = f"{seconds} secondes" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    return (
        "Trop de tentatives de connexion : par sécurité, réessayez dans "
        f"{delay}. Mot de passe oublié ? Utilisez « Mot de passe oublié »."
    )


class SignInGuard:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    def _keys(self, email: str, client: str) -> tuple[str, str, str]:
        typed = _typed(email)
        return _key("pair", typed, client), _key("client", client), _key("account", typed)

    async def admit(self, email: str, client: str) -> None:
        """Count this attempt; refuse it (``TooManyAttempts``, 429) while any of its keys
        waits. The try that reaches the pair's limit sets its wait, in the same statement
        that counts it: parallel tries after it find the wait set and are not checked."""
        pair, by_client, by_account = self._keys(email, client)
        now = utcnow()
        s = self.settings
        async with self.sessions() as session:  # a read: a try refused now is not counted
            blocked = await _blocked_until(session, [by_client, by_account], now)
        if blocked is not None:
            raise TooManyAttempts(waiting_message(blocked, now))
        async with transaction(self.sessions) as session:  # its first statement writes
            counted = await _count(session, pair, now, s, s.sign_in_attempts_per_pair)
            if counted is None:
                blocked = await _blocked_until(session, [pair], now)
        if counted is None:
            raise TooManyAttempts(waiting_message(blocked or now, now))

    async def failed(self, email: str, client: str) -> None:
        """A wrong address or password: count it for the client and for the address typed."""
        _, by_client, by_account = self._keys(email, client)
        now = utcnow()
        s = self.settings
        async with transaction(self.sessions) as session:
            await _count(session, by_client, now, s, s.sign_in_failures_per_client)
            await _count(session, by_account, now, s, s.sign_in_failures_per_account)

    async def succeeded(self, email: str, client: str) -> None:
        """Signed in: this client's tries for this address start again from nothing."""
        pair, _, _ = self._keys(email, client)
        async with transaction(self.sessions) as session:
            await session.execute(delete(SignInThrottle).where(SignInThrottle.key == pair))


async def _blocked_until(session: AsyncSession, keys: list[str], now: datetime) -> datetime | None:
    found: datetime | None = (
        await session.execute(
            select(func.max(SignInThrottle.blocked_until)).where(
                SignInThrottle.key.in_(keys), SignInThrottle.blocked_until > now
            )
        )
    ).scalar_one_or_none()
    return found


async def _count(
    session: AsyncSession, key: str, now: datetime, settings: Settings, limit: int
) -> int | None:
    """One more try under ``key``, in one statement, unless ``key`` waits (then None, and
    nothing written). A window older than ``sign_in_window_minutes`` starts again at 1. The
    try that reaches ``limit``, and each one after, sets the next wait."""
    table = SignInThrottle.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stale = table.c.window_start < now - timedelta(minutes=settings.sign_in_window_minutes)
    attempts = case((stale, 1), else_=table.c.attempts + 1)
    steps = waits(limit, settings.sign_in_first_wait_s, settings.sign_in_max_wait_s)
    # The wait set by this try: none below the limit, then each step in turn.
    wait = case(
        *((attempts == limit + n, now + timedelta(seconds=w)) for n, w in enumerate(steps)),
        (attempts < limit, None),
        else_=now + timedelta(seconds=steps[-1]),
    )
    first_wait = now + timedelta(seconds=steps[0]) if limit <= 1 else None
    statement = (
        dialect.insert(table)
        .values(key=key, attempts=1, window_start=now, blocked_until=first_wait)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "attempts": attempts,
                "window_start": case((stale, now), else_=table.c.window_start),
                "blocked_until": wait,
            },
            # A key that waits is left as it is: the statement returns no row.
            where=or_(table.c.blocked_until.is_(None), table.c.blocked_until <= now),
        )
        .returning(table.c.attempts)
    )
    counted = (await session.execute(statement)).scalar_one_or_none()
    return int(counted) if counted is not None else None
