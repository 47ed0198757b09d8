"""SQL of the console's own tables: interventions, partner incidents, digests."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.models import User
from parcours.core.db import utcnow
from parcours.management.models import Digest, JourneyIntervention, PartnerIncident


@dataclass(frozen=True)
class FailedCall:
    """One failed attempt of a partner call, as the activity knows it (ids only)."""

    workflow_id: str
    run_id: str
    activity_id: str
    activity_type: str
    partner: str
    beneficiary_id: str | None
    attempt: int
    since: datetime
    failure: str


class InterventionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, intervention: JourneyIntervention) -> None:
        self.session.add(intervention)

    async def of_journey(self, beneficiary_id: str) -> Sequence[JourneyIntervention]:
        rows = await self.session.scalars(
            select(JourneyIntervention)
            .where(JourneyIntervention.beneficiary_id == beneficiary_id)
            .order_by(JourneyIntervention.created_at.desc())
        )
        return rows.all()

    async def latest_of(self, ids: Sequence[str]) -> dict[str, JourneyIntervention]:
        if not ids:
            return {}
        rows = await self.session.scalars(
            select(JourneyIntervention)
            .where(JourneyIntervention.beneficiary_id.in_(ids))
            .order_by(JourneyIntervention.created_at)
        )
        return {i.beneficiary_id: i for i in rows}  # the last one wins

    async def addressed_to(
        self, user_id: str, structure_id: str | None, after: datetime, limit: int = 100
    ) -> Sequence[JourneyIntervention]:
        """Reminders to this user, escalations to their structure, most recent first."""
        addressed = JourneyIntervention.target_user_id == user_id
        if structure_id:
            addressed = or_(addressed, JourneyIntervention.target_structure_id == structure_id)
        rows = await self.session.scalars(
            select(JourneyIntervention)
            .where(addressed, JourneyIntervention.created_at > after)
            .order_by(JourneyIntervention.created_at.desc())
            .limit(limit)
        )
        return rows.all()

    async def of_ids(self, ids: Sequence[str]) -> Sequence[JourneyIntervention]:
        if not ids:
            return []
        rows = await self.session.scalars(
            select(JourneyIntervention).where(JourneyIntervention.id.in_(ids))
        )
        return rows.all()

    async def escalations_to(
        self, structure_id: str, after: datetime, until: datetime
    ) -> Sequence[JourneyIntervention]:
        rows = await self.session.scalars(
            select(JourneyIntervention)
            .where(
                JourneyIntervention.target_structure_id == structure_id,
                JourneyIntervention.kind == "escalation",
                JourneyIntervention.created_at > after,
                JourneyIntervention.created_at <= until,
            )
            .order_by(JourneyIntervention.created_at)
        )
        return rows.all()

    async def erase_bodies(self, beneficiary_id: str) -> None:
        """What managers wrote about a person goes with their carnet (who did what stays)."""
        rows = await self.session.scalars(
            select(JourneyIntervention).where(
                JourneyIntervention.beneficiary_id == beneficiary_id,
                JourneyIntervention.body.is_not(None),
            )
        )
        for intervention in rows:
            intervention.body = None


class IncidentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, incident_id: int) -> PartnerIncident | None:
        return await self.session.get(PartnerIncident, incident_id)

    async def of_call(self, workflow_id: str, run_id: str, activity_id: str) -> int | None:
        """The open incident of this call, if any (its id)."""
        found: int | None = await self.session.scalar(
            select(PartnerIncident.id).where(
                PartnerIncident.workflow_id == workflow_id,
                PartnerIncident.run_id == run_id,
                PartnerIncident.activity_id == activity_id,
            )
        )
        return found

    async def record_failure(self, call: FailedCall, *, known: int | None) -> None:
        """Open the incident (``known`` None) or count one more failure on it."""
        incident = await self.session.get(PartnerIncident, known) if known is not None else None
        now = utcnow()
        if incident is None:
            self.session.add(
                PartnerIncident(
                    workflow_id=call.workflow_id,
                    run_id=call.run_id,
                    activity_id=call.activity_id,
                    activity_type=call.activity_type,
                    partner=call.partner,
                    beneficiary_id=call.beneficiary_id,
                    attempts=call.attempt,
                    last_failure=call.failure[:1000],
                    since=call.since,
                    updated_at=now,
                )
            )
            return
        incident.attempts += 1
        incident.last_failure = call.failure[:1000]
        incident.updated_at = now

    async def close(self, incident_id: int) -> None:
        await self.session.execute(delete(PartnerIncident).where(PartnerIncident.id == incident_id))

    async def of_people(self, ids: Sequence[str]) -> dict[str, list[PartnerIncident]]:
        if not ids:
            return {}
        rows = await self.session.scalars(
            select(PartnerIncident)
            .where(PartnerIncident.beneficiary_id.in_(ids))
            .order_by(PartnerIncident.since)
        )
        found: dict[str, list[PartnerIncident]] = defaultdict(list)
        for incident in rows:
            assert incident.beneficiary_id is not None
            found[incident.beneficiary_id].append(incident)
        return found


class DigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, digest: Digest) -> None:
        self.session.add(digest)

    async def recipients(self) -> Sequence[User]:
        """Managers, and administrators of a structure: those who get a daily digest."""
        rows = await self.session.scalars(
            select(User)
            .where(
                User.active.is_(True),
                or_(
                    User.role == "manager",
                    (User.role == "admin") & User.structure_id.is_not(None),
                ),
            )
            .order_by(User.id)
        )
        return rows.all()

    async def on(self, recipient_id: str, day: date) -> Digest | None:
        found: Digest | None = await self.session.scalar(
            select(Digest).where(Digest.recipient_id == recipient_id, Digest.day == day)
        )
        return found

    async def last_before(self, recipient_id: str, day: date) -> Digest | None:
        found: Digest | None = await self.session.scalar(
            select(Digest)
            .where(Digest.recipient_id == recipient_id, Digest.day < day)
            .order_by(Digest.day.desc())
            .limit(1)
        )
        return found

    async def of_recipient(self, recipient_id: str, limit: int = 7) -> Sequence[Digest]:
        rows = await self.session.scalars(
            select(Digest)
            .where(Digest.recipient_id == recipient_id)
            .order_by(Digest.day.desc())
            .limit(limit)
        )
        return rows.all()

    async def unsent_ids(self, day: date) -> list[str]:
        rows = await self.session.scalars(
            select(Digest.id).where(Digest.day == day, Digest.sent_at.is_(None)).order_by(Digest.id)
        )
        return list(rows)

    async def get(self, digest_id: str) -> Digest | None:
        return await self.session.get(Digest, digest_id)
