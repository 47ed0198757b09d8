"""Beneficiaries, professionals and structures."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.models import Beneficiary, Structure, User


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
