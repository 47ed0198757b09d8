"""SQL of accounts and access: users, structures and the people they follow, sessions, API
tokens, invitations, the access log, and which journeys a signed-in user may see."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    and_,
    bindparam,
    delete,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from parcours.access.models import (
    AccessLogEntry,
    ApiToken,
    Invitation,
    Structure,
    User,
    WebSession,
)
from parcours.access.rules import Principal, Role
from parcours.carnet.models import Beneficiary
from parcours.core.db import utcnow
from parcours.journey.models import JourneyRecord

# Built once, run with each request's values: every call looks its token or session up, every read
# of a journey its actors' names (a statement's building and cache key cost about as much as
# running it on SQLite).
_TOKEN_IN_FORCE = (
    select(ApiToken, User)
    .outerjoin(User, User.id == ApiToken.user_id)
    .where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.revoked_at.is_(None),
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > bindparam("now")),
    )
)
_SESSION_OPEN = (
    select(WebSession, User)
    .join(User, User.id == WebSession.user_id)
    .where(
        WebSession.id == bindparam("session_id"),
        WebSession.expires_at > bindparam("now"),
        WebSession.last_seen_at > bindparam("idle_since"),
        User.active.is_(True),
    )
)
_USERS = select(User).where(User.id.in_(bindparam("ids", expanding=True)))
_STRUCTURES_BY_ID = select(Structure).where(Structure.id.in_(bindparam("ids", expanding=True)))
_ORIENTATION_AGENTS = (
    select(User)
    .where(User.role == "orientation", User.territory == bindparam("territory"), User.active)
    .order_by(User.full_name)
    .limit(bindparam("limit"))
)


def visible_journeys(p: Principal) -> ColumnElement[bool]:
    """SQL condition on ``JourneyRecord``: the journeys whose carnet ``p`` may read."""
    match p.role:
        case Role.REFERENT:
            mine = JourneyRecord.referent_id == p.id
            if p.structure_id:
                return or_(mine, JourneyRecord.structure_id == p.structure_id)
            return mine
        case Role.ORIENTATION | Role.MANAGER:
            return JourneyRecord.territory == p.territory
        case Role.BENEFICIARY:
            if p.beneficiary_id is None:
                return false()
            return JourneyRecord.beneficiary_id == p.beneficiary_id
    return false()


def log_access(
    session: AsyncSession, p: Principal | None, beneficiary_id: str, action: str, what: str
) -> None:
    """Write who read or changed what, in the caller's transaction (at its next flush)."""
    session.add(
        AccessLogEntry(
            at=utcnow(),
            user_id=p.id if p else None,
            beneficiary_id=beneficiary_id,
            action=action,
            what=what,
        )
    )


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def user_by_email(self, email: str) -> User | None:
        return await self.session.scalar(
            select(User).where(func.lower(User.email) == email.lower())
        )

    async def user_of_beneficiary(self, beneficiary_id: str) -> User | None:
        """A person's own sign-in account, if they have one."""
        return await self.session.scalar(select(User).where(User.beneficiary_id == beneficiary_id))

    async def web_session(
        self, session_id: str, now: datetime, idle_since: datetime
    ) -> tuple[WebSession, User] | None:
        """A session still open: before its end, seen since ``idle_since``, its user active."""
        values = {"session_id": session_id, "now": now, "idle_since": idle_since}
        row = (await self.session.execute(_SESSION_OPEN, values)).first()
        return (row[0], row[1]) if row else None

    async def touch_web_sessions(self, ids: list[str], now: datetime) -> None:
        await self.session.execute(
            update(WebSession).where(WebSession.id.in_(ids)).values(last_seen_at=now)
        )

    async def end_web_session(self, session_id: str) -> WebSession | None:
        """Delete the session; return it as it was (None if there was none)."""
        ended = await self.session.get(WebSession, session_id)
        if ended is not None:
            await self.session.delete(ended)
        return ended

    async def end_user_sessions(self, user_id: str) -> None:
        await self.session.execute(delete(WebSession).where(WebSession.user_id == user_id))

    async def touch_tokens(self, ids: list[str], now: datetime, unless_since: datetime) -> None:
        """Set the tokens' last use to ``now``, unless it is already after ``unless_since``."""
        await self.session.execute(
            update(ApiToken)
            .where(
                ApiToken.id.in_(ids),
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < unless_since),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )

    async def api_token(
        self, token_hash: str, now: datetime
    ) -> tuple[ApiToken, User | None] | None:
        """A token in force (not revoked, not expired) and the active agent it acts for (None:
        a partner's token)."""
        row = (
            await self.session.execute(_TOKEN_IN_FORCE, {"token_hash": token_hash, "now": now})
        ).first()
        if row is None:
            return None
        token, user = row[0], row[1]
        if token.user_id is not None and (user is None or not user.active):
            return None
        return token, user

    async def invitation(self, token_hash: str, now: datetime) -> tuple[Invitation, User] | None:
        row = (
            await self.session.execute(
                select(Invitation, User)
                .join(User, User.id == Invitation.user_id)
                .where(
                    Invitation.token_hash == token_hash,
                    Invitation.used_at.is_(None),
                    Invitation.expires_at > now,
                )
            )
        ).first()
        return (row[0], row[1]) if row else None

    def add(self, item: WebSession | ApiToken | Invitation | User) -> None:
        self.session.add(item)


class PeopleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, item: Beneficiary | User | Structure) -> None:
        self.session.add(item)

    async def beneficiary(self, beneficiary_id: str) -> Beneficiary | None:
        return await self.session.get(Beneficiary, beneficiary_id)

    async def user(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def structure(self, structure_id: str) -> Structure | None:
        return await self.session.get(Structure, structure_id)

    async def users(self, ids: set[str]) -> dict[str, User]:
        if not ids:
            return {}
        rows = await self.session.scalars(_USERS, {"ids": list(ids)})
        return {u.id: u for u in rows}

    async def structures(self, ids: set[str]) -> dict[str, Structure]:
        if not ids:
            return {}
        rows = await self.session.scalars(_STRUCTURES_BY_ID, {"ids": list(ids)})
        return {s.id: s for s in rows}

    async def referents(self, territory: str | None = None) -> Sequence[User]:
        query = select(User).where(User.role == "referent").order_by(User.full_name)
        if territory:
            query = query.where(User.territory == territory)
        return (await self.session.scalars(query)).all()

    async def orientation_agents(self, territory: str, limit: int) -> Sequence[User]:
        """The département's active chargé·es d'orientation (at most ``limit``), by name."""
        found = await self.session.scalars(
            _ORIENTATION_AGENTS, {"territory": territory, "limit": limit}
        )
        return found.all()

    async def all_structures(self, territory: str | None = None) -> Sequence[Structure]:
        query = select(Structure).order_by(Structure.name)
        if territory:
            query = query.where(Structure.territory == territory)
        return (await self.session.scalars(query)).all()

    async def delete_account_of(self, beneficiary_id: str) -> None:
        """A person's own sign-in account, removed when their data is erased."""
        await self.session.execute(delete(User).where(User.beneficiary_id == beneficiary_id))


def log_admin(session: AsyncSession, p: Principal, subject: str, action: str, what: str) -> None:
    """An administrator's action, about a structure, an account or a token (``subject``)."""
    session.add(
        AccessLogEntry(
            at=utcnow(),
            user_id=p.id,
            beneficiary_id=None,
            subject=subject,
            action=action,
            what=what,
        )
    )


class AdminRepository:
    """SQL of the administration console: a département's structures, agents and tokens."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def admins(self, territory: str) -> Sequence[User]:
        rows = await self.session.scalars(
            select(User).where(User.territory == territory, User.role == "admin")
        )
        return rows.all()

    async def structures(self, territory: str) -> Sequence[Structure]:
        rows = await self.session.scalars(
            select(Structure)
            .where(Structure.territory == territory)
            .order_by(Structure.active.desc(), Structure.name)
        )
        return rows.all()

    async def structure(self, structure_id: str) -> Structure | None:
        return await self.session.get(Structure, structure_id)

    async def structure_from(self, territory: str, source: str, source_id: str) -> Structure | None:
        return await self.session.scalar(
            select(Structure).where(
                Structure.territory == territory,
                Structure.source == source,
                Structure.source_id == source_id,
            )
        )

    async def active_agents_by_structure(self, territory: str) -> dict[str, int]:
        rows = await self.session.execute(
            select(User.structure_id, func.count())
            .where(
                User.territory == territory, User.active.is_(True), User.structure_id.is_not(None)
            )
            .group_by(User.structure_id)
        )
        return {structure_id: count for structure_id, count in rows.all() if structure_id}

    async def active_agents_of(self, structure_id: str) -> Sequence[User]:
        rows = await self.session.scalars(
            select(User)
            .where(User.structure_id == structure_id, User.active.is_(True))
            .order_by(User.full_name)
        )
        return rows.all()

    async def agents(self, territory: str) -> Sequence[User]:
        rows = await self.session.scalars(
            select(User)
            .where(User.territory == territory, User.role != "beneficiary")
            .order_by(User.active.desc(), User.full_name)
        )
        return rows.all()

    async def pending_activations(self, user_ids: set[str]) -> set[str]:
        """Among ``user_ids``, the accounts invited that never chose a password."""
        if not user_ids:
            return set()
        rows = await self.session.scalars(
            select(User.id).where(User.id.in_(user_ids), User.password_hash.is_(None))
        )
        return set(rows.all())

    async def end_invitations(self, user_id: str, purpose: str | None = None) -> None:
        """The account's links not used yet stop working (of one ``purpose``, or all)."""
        query = update(Invitation).where(
            Invitation.user_id == user_id, Invitation.used_at.is_(None)
        )
        if purpose is not None:
            query = query.where(Invitation.purpose == purpose)
        await self.session.execute(query.values(expires_at=utcnow()))

    async def end_sessions(self, user_id: str) -> int:
        result = await self.session.execute(delete(WebSession).where(WebSession.user_id == user_id))
        assert isinstance(result, CursorResult)
        return int(result.rowcount or 0)

    async def revoke_tokens_of(self, user_id: str, now: datetime) -> int:
        result = await self.session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        assert isinstance(result, CursorResult)
        return int(result.rowcount or 0)

    async def journeys_followed_by(self, user_id: str) -> list[tuple[str, str, str]]:
        """The open journeys the agent is the référent of: the person's id, first and last
        names."""
        rows = await self.session.execute(
            select(Beneficiary.id, Beneficiary.first_name, Beneficiary.last_name)
            .join(JourneyRecord, JourneyRecord.beneficiary_id == Beneficiary.id)
            .where(JourneyRecord.referent_id == user_id, JourneyRecord.step != "closed")
            .order_by(Beneficiary.last_name, Beneficiary.first_name)
        )
        return [(r[0], r[1], r[2]) for r in rows.all()]

    def _tokens_of(self, territory: str) -> Any:
        """A département's tokens: its agents', and its partners' (made by its admins)."""
        creators = select(User.id).where(User.territory == territory, User.role == "admin")
        agent = aliased(User)
        return (
            select(ApiToken, agent)
            .outerjoin(agent, agent.id == ApiToken.user_id)
            .where(
                or_(
                    agent.territory == territory,
                    and_(ApiToken.partner.is_not(None), ApiToken.created_by.in_(creators)),
                )
            )
        )

    async def tokens(self, territory: str, admin_id: str) -> list[tuple[ApiToken, User | None]]:
        rows = await self.session.execute(
            self._tokens_of(territory).order_by(ApiToken.created_at.desc())
        )
        return [(token, user) for token, user in rows.all()]

    async def token(
        self, token_id: str, territory: str, admin_id: str
    ) -> tuple[ApiToken, User | None] | None:
        row = (
            await self.session.execute(self._tokens_of(territory).where(ApiToken.id == token_id))
        ).first()
        return (row[0], row[1]) if row else None


class AccessLogRepository:
    """SQL of the access log as a département's administrator or DPO searches it: the entries
    written by the département's own accounts (an agent of another département never shows)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _entries(
        self,
        territory: str,
        *,
        beneficiary_ids: Sequence[str] | None,
        agent_id: str | None,
        start: datetime,
        end: datetime,
        action: str | None,
    ) -> Any:
        query = (
            select(AccessLogEntry, User, Structure, Beneficiary)
            .join(User, User.id == AccessLogEntry.user_id)
            .outerjoin(Structure, Structure.id == User.structure_id)
            .outerjoin(Beneficiary, Beneficiary.id == AccessLogEntry.beneficiary_id)
            .where(User.territory == territory, AccessLogEntry.at >= start, AccessLogEntry.at < end)
        )
        if beneficiary_ids is not None:
            query = query.where(AccessLogEntry.beneficiary_id.in_(beneficiary_ids))
        if agent_id:
            query = query.where(AccessLogEntry.user_id == agent_id)
        if action:
            query = query.where(AccessLogEntry.action == action)
        return query

    async def search(
        self,
        territory: str,
        *,
        beneficiary_ids: Sequence[str] | None,
        agent_id: str | None,
        start: datetime,
        end: datetime,
        action: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[tuple[AccessLogEntry, User, Structure | None, Beneficiary | None]], int]:
        """Entries in [start, end), the newest first (``limit`` from ``offset``), and how many
        there are in all."""
        query = self._entries(
            territory,
            beneficiary_ids=beneficiary_ids,
            agent_id=agent_id,
            start=start,
            end=end,
            action=action,
        )
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.execute(
            query.order_by(AccessLogEntry.at.desc(), AccessLogEntry.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows.all()], int(total or 0)

    async def people_matching(self, territory: str, text: str, limit: int) -> Sequence[Beneficiary]:
        """The département's people whose id is ``text`` or whose name contains it."""
        words = text.lower().split()
        full = func.lower(Beneficiary.first_name + " " + Beneficiary.last_name)
        # Each word somewhere in the name: « benali nadia » finds Nadia Benali.
        named = and_(true(), *(full.contains(w, autoescape=True) for w in words))
        rows = await self.session.scalars(
            select(Beneficiary)
            .where(Beneficiary.territory == territory, or_(Beneficiary.id == text, named))
            .order_by(Beneficiary.last_name, Beneficiary.first_name, Beneficiary.id)
            .limit(limit)
        )
        return rows.all()

    async def carnets_read(
        self, territory: str, start: datetime, end: datetime
    ) -> list[tuple[str, str]]:
        """Each (agent, person) pair where an agent of the département read the person's
        carnet in [start, end), once."""
        rows = await self.session.execute(
            select(AccessLogEntry.user_id, AccessLogEntry.beneficiary_id)
            .join(User, User.id == AccessLogEntry.user_id)
            .where(
                User.territory == territory,
                User.role.in_(["referent", "orientation", "manager"]),
                AccessLogEntry.action == "read",
                AccessLogEntry.beneficiary_id.is_not(None),
                AccessLogEntry.at >= start,
                AccessLogEntry.at < end,
            )
            .distinct()
        )
        return [(r[0], r[1]) for r in rows.all() if r[0] and r[1]]

    async def journeys(self, beneficiary_ids: Sequence[str]) -> dict[str, JourneyRecord]:
        if not beneficiary_ids:
            return {}
        rows = await self.session.scalars(
            select(JourneyRecord).where(JourneyRecord.beneficiary_id.in_(beneficiary_ids))
        )
        return {j.beneficiary_id: j for j in rows}

    async def users(self, ids: set[str]) -> Sequence[User]:
        if not ids:
            return []
        return (await self.session.scalars(select(User).where(User.id.in_(ids)))).all()
