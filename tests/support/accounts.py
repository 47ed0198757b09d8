"""People who sign in: ``Account`` (a user with the shared test password and an API token),
``create_account`` / ``NewAccount`` behind the ``new_account`` fixture, and ``Staff``, the
structure and its people that the ``staff`` fixture creates."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.access.models import User
from parcours.access.service import AccountService
from parcours.core.db import transaction
from parcours.core.security import hash_password
from parcours.core.settings import Settings

STAFF_PASSWORD = "Mot-de-passe-des-tests-2024"


@functools.cache
def staff_password_hash() -> str:
    """Argon2 is slow on purpose: hash the shared test password once, reuse the hash."""
    return hash_password(STAFF_PASSWORD)


@dataclass
class Account:
    """A user who can sign in: their id, e-mail (password ``STAFF_PASSWORD``) and API token."""

    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def create_account(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    role: str,
    *,
    full_name: str | None = None,
    email: str | None = None,
    territory: str = "73",
    structure_id: str | None = None,
    beneficiary_id: str | None = None,
    password: bool = True,
) -> Account:
    """A user of ``role`` with an API token (and the shared password unless told otherwise)."""
    suffix = uuid.uuid4().hex[:8]
    async with transaction(sessions) as session:
        user = User(
            email=email or f"{role}-{suffix}@test.parcours.fr",
            full_name=full_name or f"{role.title()} {suffix}",
            role=role,
            structure_id=structure_id,
            territory=territory,
            beneficiary_id=beneficiary_id,
            password_hash=staff_password_hash() if password else None,
        )
        session.add(user)
        await session.flush()
        token = await AccountService(session, settings).create_api_token(user, "tests")
    return Account(user.id, user.email, token)


class NewAccount(Protocol):
    async def __call__(
        self,
        role: str,
        *,
        full_name: str | None = None,
        email: str | None = None,
        territory: str = "73",
        structure_id: str | None = None,
        beneficiary_id: str | None = None,
        password: bool = True,
    ) -> Account: ...


@dataclass
class Staff:
    """A structure of the test département with its référent and chargée d'orientation, plus
    a manager and a funder of the département, an admin, and a référent of another structure
    of the same département (``outsider``). Each can sign in and has an API token."""

    structure_id: str
    referent_id: str
    other_referent_id: str
    orientation_id: str
    accounts: dict[str, Account] = field(default_factory=dict)
    outsider_structure_id: str = ""

    def __getitem__(self, who: str) -> Account:
        return self.accounts[who]

    def token(self, who: str = "referent") -> str:
        return self.accounts[who].token

    def headers(self, who: str = "referent") -> dict[str, str]:
        return self.accounts[who].headers

    @property
    def manager_id(self) -> str:
        return self.accounts["manager"].id

    @property
    def admin_id(self) -> str:
        return self.accounts["admin"].id

    @property
    def funder_id(self) -> str:
        return self.accounts["funder"].id

    @property
    def outsider_id(self) -> str:
        return self.accounts["outsider"].id
