"""Hosting départements: which are hosted on this platform, and an administrator's activation
of a new one. Never commits: the request, or the command, owns the transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.rules import Principal, Role
from parcours.core.errors import Forbidden, InvalidReference
from parcours.territories import rules
from parcours.territories.models import Territory
from parcours.territories.repository import TerritoryRepository
from parcours.territories.schemas import TerritoryRead


class TerritoryService:
    """``principal`` is who acts (``None``: the platform itself, e.g. a command)."""

    def __init__(self, session: AsyncSession, principal: Principal | None = None) -> None:
        self.session = session
        self.principal = principal
        self.territories = TerritoryRepository(session)

    async def all(self) -> list[TerritoryRead]:
        return [TerritoryRead.model_validate(t) for t in await self.territories.all()]

    async def hosted(self) -> list[TerritoryRead]:
        return [t for t in await self.all() if t.active]

    async def territory(self, code: str) -> Territory:
        found = await self.territories.get(rules.departement_code(code))
        if found is None:
            raise InvalidReference(f"Département « {code.strip()} » inconnu.")
        return found

    async def ensure_hosted(self, code: str) -> TerritoryRead:
        """The département, if this platform hosts it; else a French refusal."""
        territory = await self.territory(code)
        if not territory.active:
            raise InvalidReference(
                f"Le département {territory.code} ({territory.name}) n'est pas accueilli sur "
                "la plateforme."
            )
        return TerritoryRead.model_validate(territory)

    async def activate(self, code: str) -> TerritoryRead:
        """Host a département from now on (its people can be enrolled, its CAF lines apply).
        Activating one already hosted changes nothing."""
        if self.principal is not None and self.principal.role is not Role.ADMIN:
            raise Forbidden("Seuls les administrateurs ouvrent un département sur la plateforme.")
        territory = await self.territory(code)
        territory.active = True
        await self.session.flush()
        return TerritoryRead.model_validate(territory)
