"""SQL of accounts and access: users, structures and the people they follow, sessions, API
tokens, invitations, the access log, and which journeys a signed-in user may see."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

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

    async def user_by_email(self, email: str) -> User | None:
        return await self.session.scalar(
            select(User).where(func.lower(User.email) == email.lower())
        )

    async def user_of_beneficiary(self, beneficiary_id: str) -> User | None:
        """A person's own sign-in account, if they have one."""
        return await self.session.scalar(select(User).where(User.beneficiary_id == beneficiary_id))

    async def web_session(self, session_id: str, now: datetime) -> tuple[WebSession, User] | None:
        row = (
            await self.session.execute(
                select(WebSession, User)
                .join(User, User.id == WebSession.user_id)
                .where(
                    WebSession.id == session_id, WebSession.expires_at > now, User.active.is_(True)
                )
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def end_web_session(self, session_id: str) -> WebSession | None:
        """Delete the session; return it as it was (None if there was none)."""
        ended = await self.session.get(WebSession, session_id)
        if ended is not None:
            await self.session.delete(ended)
        return ended

    async def end_user_sessions(self, user_id: str) -> None:
        await self.session.execute(delete(WebSession).where(WebSession.user_id == user_id))

    async def api_token_user(self, token_hash: str) -> User | None:
        return await self.session.scalar(
            select(User)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(
                ApiToken.token_hash == token_hash,
                ApiToken.revoked_at.is_(None),
                User.active.is_(True),
            )
        )

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
        rows = await self.session.scalars(select(User).where(User.id.in_(ids)))
        return {u.id: u for u in rows}

    async def structures(self, ids: set[str]) -> dict[str, Structure]:
        if not ids:
            return {}
        rows = await self.session.scalars(select(Structure).where(Structure.id.in_(ids)))
        return {s.id: s for s in rows}

    async def referents(self, territory: str | None = None) -> Sequence[User]:
        query = select(User).where(User.role == "referent").order_by(User.full_name)
        if territory:
            query = query.where(User.territory == territory)
        return (await self.session.scalars(query)).all()

    async def all_structures(self, territory: str | None = None) -> Sequence[Structure]:
        query = select(Structure).order_by(Structure.name)
        if territory:
            query = query.where(Structure.territory == territory)
        return (await self.session.scalars(query)).all()

    async def delete_account_of(self, beneficiary_id: str) -> None:
        """A person's own sign-in account, removed when their data is erased."""
        await self.session.execute(delete(User).where(User.beneficiary_id == beneficiary_id))
