"""Users' credentials: sessions, API tokens, invitations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.models import ApiToken, Invitation, User, WebSession


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

    async def end_web_session(self, session_id: str) -> None:
        await self.session.execute(delete(WebSession).where(WebSession.id == session_id))

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
