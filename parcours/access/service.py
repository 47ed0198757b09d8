"""Signing in and out: passwords with lock-out, browser sessions, API tokens, invitations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.models import ApiToken, Invitation, User, WebSession
from parcours.access.repository import AccountRepository
from parcours.access.rules import Principal, Role
from parcours.core.db import utcnow
from parcours.core.errors import Forbidden, InvalidReference, Unauthenticated
from parcours.core.security import (
    hash_password,
    new_token,
    password_problem,
    token_hash,
    verify_password,
)
from parcours.core.settings import Settings

WRONG_CREDENTIALS = "Adresse électronique ou mot de passe incorrect."
NO_AGENT_ACCOUNT = "Aucun compte Parcours ne correspond à cette identité ProConnect."
ACCOUNT_DEACTIVATED = (
    "Votre compte Parcours est désactivé : adressez-vous à l'administrateur de votre structure."
)


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    session_token: str
    csrf_token: str


class AccountService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.accounts = AccountRepository(session)

    async def sign_in(self, email: str, password: str) -> SignedIn:
        """Check the password; after too many failures the account is locked for a while."""
        now = utcnow()
        user = await self.accounts.user_by_email(email.strip())
        if user is not None and user.locked_until is not None and user.locked_until > now:
            minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
            raise Unauthenticated(
                "Compte verrouillé après plusieurs échecs de connexion : "
                f"réessayez dans {minutes} minute(s)."
            )
        if user is None or not user.active or not verify_password(user.password_hash, password):
            if user is not None:
                user.failed_logins += 1
                if user.failed_logins >= self.settings.max_failed_logins:
                    user.locked_until = now + timedelta(minutes=self.settings.lockout_minutes)
                    user.failed_logins = 0
            raise Unauthenticated(WRONG_CREDENTIALS)
        user.failed_logins, user.locked_until = 0, None
        return await self.open_session(user)

    async def open_session(self, user: User, *, provider_id_token: str | None = None) -> SignedIn:
        token, csrf = new_token(), new_token()
        self.accounts.add(
            WebSession(
                id=token_hash(token),
                user_id=user.id,
                csrf_token=csrf,
                expires_at=utcnow() + timedelta(hours=self.settings.session_hours),
                provider_id_token=provider_id_token,
            )
        )
        return SignedIn(Principal.of(user), token, csrf)

    async def sign_in_as_agent(self, email: str, *, provider_id_token: str) -> SignedIn:
        """ProConnect's sign-in, for agents only: the provider vouches for the e-mail, which
        must be an active professional account's (an invited agent's first sign-in too)."""
        user = await self.accounts.user_by_email(email.strip()) if email.strip() else None
        if user is None or user.role == Role.BENEFICIARY:
            raise Forbidden(NO_AGENT_ACCOUNT)
        if not user.active:
            raise Forbidden(ACCOUNT_DEACTIVATED)
        return await self.open_session(user, provider_id_token=provider_id_token)

    async def session_principal(self, token: str) -> tuple[Principal, str] | None:
        """The signed-in user of a session cookie and the session's CSRF token."""
        found = await self.accounts.web_session(token_hash(token), utcnow())
        if found is None:
            return None
        web_session, user = found
        return Principal.of(user), web_session.csrf_token

    async def sign_out(self, token: str) -> str | None:
        """End the session; return ProConnect's id_token if the session came from it."""
        ended = await self.accounts.end_web_session(token_hash(token))
        return ended.provider_id_token if ended else None

    async def token_principal(self, token: str) -> Principal | None:
        user = await self.accounts.api_token_user(token_hash(token))
        return Principal.of(user) if user else None

    async def create_api_token(self, user: User, label: str) -> str:
        token = new_token()
        self.accounts.add(ApiToken(token_hash=token_hash(token), user_id=user.id, label=label))
        return token

    async def invite(self, user: User) -> str:
        """A one-time link token for the user to choose their password."""
        token = new_token()
        self.accounts.add(
            Invitation(
                token_hash=token_hash(token),
                user_id=user.id,
                expires_at=utcnow() + timedelta(days=self.settings.invitation_days),
            )
        )
        return token

    async def accept_invitation(self, token: str, password: str) -> SignedIn:
        found = await self.accounts.invitation(token_hash(token), utcnow())
        if found is None:
            raise InvalidReference("Ce lien n'est plus valable : demandez-en un nouveau.")
        problem = password_problem(password)
        if problem:
            raise InvalidReference(problem)
        invitation, user = found
        invitation.used_at = utcnow()
        user.password_hash = hash_password(password)
        user.failed_logins, user.locked_until = 0, None
        await self.accounts.end_user_sessions(user.id)
        return await self.open_session(user)

    async def create_user(
        self,
        *,
        email: str,
        full_name: str,
        role: Role,
        territory: str,
        structure_id: str | None = None,
        beneficiary_id: str | None = None,
        password: str | None = None,
    ) -> User:
        if await self.accounts.user_by_email(email):
            raise InvalidReference("Un compte existe déjà avec cette adresse électronique.")
        user = User(
            email=email,
            full_name=full_name,
            role=role.value,
            territory=territory,
            structure_id=structure_id,
            beneficiary_id=beneficiary_id,
            password_hash=hash_password(password) if password else None,
        )
        self.accounts.add(user)
        await self.session.flush()
        return user
