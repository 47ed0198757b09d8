"""The DPO's tools on the access log: a département's administrator, délégué·e à la
protection des données or managers search who read or changed whose carnet (by person, agent,
period, action) and export it as CSV; and the report of unusual access (an agent reading many
carnets outside her follow-up list in a day) that the managers' daily digest carries.

Reading the log is itself an access: each search and export is logged, with its filters'
subject (the person or agent looked for)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.models import AccessLogEntry, Structure, User
from parcours.access.repository import AccessLogRepository, AdminRepository, log_admin
from parcours.access.rules import (
    PARIS,
    ROLE_LABELS,
    CarnetReading,
    Principal,
    Role,
    UnusualReader,
    ensure_access_log_reader,
    unusual_readers,
)
from parcours.access.schemas import (
    ACCESS_ACTIONS,
    AccessLogFilter,
    AccessLogLine,
    AccessLogPage,
    what_label,
)
from parcours.carnet.models import Beneficiary
from parcours.core.db import utcnow
from parcours.core.errors import InvalidReference
from parcours.core.schemas import PersonRef, person_name

MAX_MATCHES = 50
# An export holds at most this many lines (the page says to narrow the period beyond).
MAX_EXPORT_LINES = 50_000
CHUNK = 500


def day_start(day: date) -> datetime:
    """Midnight in French time, as the UTC moment the log is written in."""
    return datetime.combine(day, time(0), PARIS).astimezone(UTC)


def this_year(today: date) -> tuple[date, date]:
    return date(today.year, 1, 1), today


class AccessLogService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = ensure_access_log_reader(principal)
        self.territory = principal.territory
        self.log = AccessLogRepository(session)

    async def agents(self) -> list[PersonRef]:
        """The département's agents, to choose whose accesses to list."""
        return [
            PersonRef(id=u.id, label=f"{u.full_name} ({ROLE_LABELS.get(Role(u.role), u.role)})")
            for u in await AdminRepository(self.session).agents(self.territory)
        ]

    async def _people(self, f: AccessLogFilter) -> tuple[list[PersonRef], list[str] | None]:
        """The people the filter names (an id, or a name matched in the département) and
        their ids to search by (None: anyone)."""
        if f.beneficiary_id:
            found = await self.log.people_matching(self.territory, f.beneficiary_id, 1)
            return [_person_ref(p) for p in found], [f.beneficiary_id]
        if not f.person:
            return [], None
        found = await self.log.people_matching(self.territory, f.person, MAX_MATCHES)
        return [_person_ref(p) for p in found], [p.id for p in found]

    def _period(self, f: AccessLogFilter) -> tuple[date, date]:
        default_from, default_to = this_year(utcnow().astimezone(PARIS).date())
        du, au = f.du or default_from, f.au or default_to
        if au < du:
            raise InvalidReference("La période est inversée : « du » doit précéder « au ».")
        return du, au

    def _logged(self, f: AccessLogFilter, ids: list[str] | None, what: str) -> None:
        # Whom the reading was about: the person looked for (each, when a name matched
        # several), else the agent, else the whole département's log.
        if ids:
            for beneficiary_id in ids:
                self.session.add(
                    AccessLogEntry(
                        at=utcnow(),
                        user_id=self.principal.id,
                        beneficiary_id=beneficiary_id,
                        action="read",
                        what=what,
                    )
                )
            return
        subject = f"user:{f.agent_id}" if f.agent_id else f"territory:{self.territory}"
        log_admin(self.session, self.principal, subject, "read", what)

    async def _rows(
        self,
        f: AccessLogFilter,
        ids: list[str] | None,
        du: date,
        au: date,
        *,
        limit: int,
        offset: int,
    ) -> tuple[list[tuple[AccessLogEntry, User, Structure | None, Beneficiary | None]], int]:
        """The département's log lines the filter selects (none when a name matched nobody),
        newest first, and how many there are in all."""
        if ids == []:
            return [], 0
        return await self.log.search(
            self.territory,
            beneficiary_ids=ids,
            agent_id=f.agent_id or None,
            start=day_start(du),
            end=day_start(au + timedelta(days=1)),
            action=f.action,
            limit=limit,
            offset=offset,
        )

    async def search(self, f: AccessLogFilter, *, limit: int, offset: int) -> AccessLogPage:
        du, au = self._period(f)
        matches, ids = await self._people(f)
        rows, total = await self._rows(f, ids, du, au, limit=limit, offset=offset)
        self._logged(f, ids, "access_log.search")
        return AccessLogPage(
            du=du,
            au=au,
            matches=matches,
            total=total,
            limit=limit,
            offset=offset,
            items=[_line(*row) for row in rows],
        )

    async def export(self, f: AccessLogFilter) -> tuple[str, str]:
        """The search's lines as CSV (« ; », UTF-8 with BOM: what Excel expects in France)
        and the file's name."""
        du, au = self._period(f)
        _, ids = await self._people(f)
        rows, _ = await self._rows(f, ids, du, au, limit=MAX_EXPORT_LINES, offset=0)
        self._logged(f, ids, "access_log.export")
        return access_log_csv([_line(*row) for row in rows]), (
            f"journal-des-acces-{self.territory}-{du.isoformat()}-{au.isoformat()}.csv"
        )


CSV_HEADER = ["Date", "Heure", "Agent", "Rôle", "Structure", "Personne", "Action", "Quoi"]


def access_log_csv(lines: Sequence[AccessLogLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for line in lines:
        at = line.at.astimezone(PARIS)
        writer.writerow(
            [
                at.strftime("%d/%m/%Y"),
                at.strftime("%H:%M:%S"),
                line.agent.label if line.agent else "",
                line.role_label or "",
                line.structure.label if line.structure else "",
                line.person.label if line.person else "",
                line.action_label,
                line.what_label,
            ]
        )
    return "\ufeff" + out.getvalue()


def _person_ref(p: Beneficiary) -> PersonRef:
    return PersonRef(id=p.id, label=person_name(p.first_name, p.last_name))


def _line(
    entry: AccessLogEntry, agent: User, structure: Structure | None, person: Beneficiary | None
) -> AccessLogLine:
    role = Role(agent.role) if agent.role in Role.__members__.values() else None
    if person is not None:
        person_ref: PersonRef | None = _person_ref(person)
    elif entry.beneficiary_id:
        person_ref = PersonRef(id=entry.beneficiary_id, label="Personne effacée")
    else:
        person_ref = None
    return AccessLogLine(
        at=entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC),
        agent=PersonRef(id=agent.id, label=agent.full_name),
        role=agent.role,
        role_label=ROLE_LABELS[role] if role else agent.role,
        structure=PersonRef(id=structure.id, label=structure.name) if structure else None,
        person=person_ref,
        action=entry.action,
        action_label=ACCESS_ACTIONS.get(entry.action, entry.action),
        what=entry.what,
        what_label=what_label(entry.what),
    )


async def unusual_access(
    session: AsyncSession, territory: str, day: date, threshold: int
) -> list[UnusualReader]:
    """The département's agents who read more than ``threshold`` carnets outside their
    follow-up list on ``day`` (French time), most first."""
    log = AccessLogRepository(session)
    pairs = await log.carnets_read(territory, day_start(day), day_start(day + timedelta(days=1)))
    if not pairs:
        return []
    # Only those who read more carnets than the threshold can be over it.
    per_agent: dict[str, int] = {}
    for user_id, _ in pairs:
        per_agent[user_id] = per_agent.get(user_id, 0) + 1
    candidates = {u for u, n in per_agent.items() if n > threshold}
    if not candidates:
        return []
    reads = [CarnetReading(u, b) for u, b in pairs if u in candidates]
    ids = sorted({r.beneficiary_id for r in reads})
    journeys = {}
    for i in range(0, len(ids), CHUNK):
        journeys.update(await log.journeys(ids[i : i + CHUNK]))
    users = await log.users(candidates)
    agents = {u.id: Principal.of(u) for u in users}
    return unusual_readers(reads, agents, journeys, threshold)
