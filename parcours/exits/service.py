"""A département's end-of-support reasons: read by everyone who closes a journey or reads the
indicators, changed by its administrator."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.rules import Principal, Role
from parcours.core.errors import Conflict, Forbidden, InvalidReference
from parcours.exits.models import ExitCode
from parcours.exits.repository import ExitCodeRepository
from parcours.exits.rules import DEFAULT_EXIT_CODES
from parcours.exits.schemas import ExitCodeCreate, ExitCodeRead, ExitCodeUpdate
from parcours.journey.messages import ExitReason

ADMINS_ONLY = "La liste des motifs de sortie est administrée par l'administrateur du département."


def _read(row: ExitCode) -> ExitCodeRead:
    return ExitCodeRead(
        code=row.code,
        label=row.label,
        exit_reason=ExitReason(row.exit_reason),
        positive=row.positive,
        active=row.active,
    )


class ExitCodeService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = ExitCodeRepository(session)

    async def codes(self, territory: str, *, active_only: bool = False) -> list[ExitCodeRead]:
        """The département's list (the default one while it has none of its own)."""
        rows = await self.repo.of(territory)
        found = (
            [_read(r) for r in rows]
            if rows
            else [
                ExitCodeRead(
                    code=d.code,
                    label=d.label,
                    exit_reason=d.exit_reason,
                    positive=d.positive,
                    active=True,
                )
                for d in DEFAULT_EXIT_CODES
            ]
        )
        return [c for c in found if c.active] if active_only else found

    async def by_code(self, territory: str) -> dict[str, ExitCodeRead]:
        return {c.code: c for c in await self.codes(territory)}

    async def for_closing(self, territory: str, code: str) -> ExitCodeRead:
        """The active code a journey of this département is closed with; anything else is
        refused with the reason."""
        found = (await self.by_code(territory)).get(code)
        if found is None:
            raise InvalidReference(f"Motif de sortie inconnu dans le département {territory}.")
        if not found.active:
            raise InvalidReference(f"Le motif de sortie « {found.label} » n'est plus proposé.")
        return found

    # --- Administration ---

    async def _own_rows(self, principal: Principal) -> str:
        """The administrator's département, with its own copy of the list."""
        if principal.role is not Role.ADMIN:
            raise Forbidden(ADMINS_ONLY)
        territory = principal.territory
        if not await self.repo.of(territory):
            for position, d in enumerate(DEFAULT_EXIT_CODES):
                self.repo.add(
                    ExitCode(
                        territory=territory,
                        code=d.code,
                        label=d.label,
                        exit_reason=d.exit_reason.value,
                        positive=d.positive,
                        active=True,
                        position=position,
                    )
                )
            await self.session.flush()
        return territory

    async def create(self, principal: Principal, data: ExitCodeCreate) -> ExitCodeRead:
        territory = await self._own_rows(principal)
        if await self.repo.get(territory, data.code) is not None:
            raise Conflict(f"Le code « {data.code} » existe déjà : modifiez-le plutôt.")
        position = len(await self.repo.of(territory))
        row = ExitCode(
            territory=territory,
            code=data.code,
            label=data.label.strip(),
            exit_reason=data.exit_reason.value,
            positive=data.positive,
            active=data.active,
            position=position,
        )
        self.repo.add(row)
        await self.session.flush()
        return _read(row)

    async def update(self, principal: Principal, code: str, data: ExitCodeUpdate) -> ExitCodeRead:
        territory = await self._own_rows(principal)
        row = await self.repo.get(territory, code)
        if row is None:
            raise InvalidReference("Motif de sortie introuvable.")
        row.label = data.label.strip()
        row.exit_reason = data.exit_reason.value
        row.positive = data.positive
        row.active = data.active
        await self.session.flush()
        return _read(row)
