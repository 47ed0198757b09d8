"""Stalled journeys for managers: which, why, since when, sorted by how overdue they are.

A manager sees the journeys of their territory only (``parcours.access.rules``); the list says
each journey's causes (see ``parcours.repositories.stalled``) with the partner incidents to
retry and the last intervention, and counts the journeys per cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.models import Structure, User
from parcours.access.repository import PeopleRepository
from parcours.access.rules import Principal, Role
from parcours.core.errors import Forbidden
from parcours.core.schemas import PersonRef
from parcours.core.settings import Settings
from parcours.journey.messages import Step
from parcours.journey.models import JourneyRecord
from parcours.journey.schemas import STEP_LABELS
from parcours.management.models import JourneyIntervention, PartnerIncident
from parcours.management.repository import IncidentRepository, InterventionRepository
from parcours.management.schemas import (
    CAUSE_LABELS,
    INTERVENTION_LABELS,
    PARTNER_CALL_LABELS,
    PARTNER_LABELS,
    IncidentRead,
    InterventionKind,
    InterventionRead,
    StallCause,
    StalledCauseRead,
    StalledJourneyRead,
    StalledPage,
)
from parcours.repositories.stalled import StalledFilter, StalledRepository, StalledRow

PARIS = ZoneInfo("Europe/Paris")
MANAGERS_ONLY = "Cette page est réservée aux responsables de territoire."


def ensure_manager(principal: Principal) -> None:
    if principal.role is not Role.MANAGER:
        raise Forbidden(MANAGERS_ONLY)


def manager_scope(principal: Principal) -> StalledFilter:
    """What a manager may see: the journeys of their territory."""
    ensure_manager(principal)
    return StalledFilter(visible=JourneyRecord.territory == principal.territory)


def day_fr(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%d/%m/%Y")


def overdue_days(since: datetime, now: datetime) -> int:
    return max(0, (now - since).days)


def temporal_url(settings: Settings, workflow_id: str) -> str:
    """The workflow in the Temporal UI (operators: its history, pending activities)."""
    base = settings.temporal_ui_url.rstrip("/")
    namespace = quote(settings.temporal_namespace, safe="")
    return f"{base}/namespaces/{namespace}/workflows/{quote(workflow_id, safe='')}"


def incident_read(incident: PartnerIncident, settings: Settings) -> IncidentRead:
    return IncidentRead(
        id=incident.id,
        beneficiary_id=incident.beneficiary_id,
        workflow_id=incident.workflow_id,
        run_id=incident.run_id,
        activity_type=incident.activity_type,
        call_label=PARTNER_CALL_LABELS.get(incident.activity_type, incident.activity_type),
        partner=incident.partner,
        partner_label=PARTNER_LABELS.get(incident.partner, incident.partner),
        attempts=incident.attempts,
        last_failure=incident.last_failure,
        since=incident.since,
        updated_at=incident.updated_at,
        temporal_url=temporal_url(settings, incident.workflow_id),
    )


def intervention_read(
    intervention: JourneyIntervention, users: dict[str, User], structures: dict[str, Structure]
) -> InterventionRead:
    def user_ref(user_id: str | None) -> PersonRef | None:
        user = users.get(user_id) if user_id else None
        return PersonRef(id=user.id, label=user.full_name) if user else None

    to = user_ref(intervention.target_user_id)
    if to is None and intervention.target_structure_id in structures:
        structure = structures[intervention.target_structure_id]
        to = PersonRef(id=structure.id, label=structure.name)
    kind = InterventionKind(intervention.kind)
    return InterventionRead(
        id=intervention.id,
        beneficiary_id=intervention.beneficiary_id,
        kind=kind,
        label=INTERVENTION_LABELS[kind],
        by=user_ref(intervention.actor_id),
        to=to,
        body=intervention.body,
        created_at=intervention.created_at,
    )


async def interventions_read(
    people: PeopleRepository, interventions: Sequence[JourneyIntervention]
) -> list[InterventionRead]:
    users = await people.users(
        {i for x in interventions for i in (x.actor_id, x.target_user_id) if i}
    )
    structures = await people.structures(
        {x.target_structure_id for x in interventions if x.target_structure_id}
    )
    return [intervention_read(i, users, structures) for i in interventions]


class StalledService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.stalled = StalledRepository(session)
        self.people = PeopleRepository(session)

    async def page(
        self,
        f: StalledFilter,
        principal: Principal | None = None,
        *,
        limit: int = 25,
        offset: int = 0,
        now: datetime | None = None,
    ) -> StalledPage:
        """``principal`` None: the platform itself (the digest), with the filter as given."""
        if principal is not None:
            f = replace(f, visible=manager_scope(principal).visible)
        now = now or datetime.now(UTC)
        rows, total, counts = await self.stalled.page(
            f,
            now=now,
            inactive_days=self.settings.stalled_inactive_days,
            limit=limit,
            offset=offset,
        )
        return StalledPage(
            items=await self.read(rows, now),
            total=total,
            counts=counts,
            limit=limit,
            offset=offset,
        )

    async def of_journey(
        self, beneficiary_id: str, now: datetime | None = None
    ) -> StalledJourneyRead | None:
        """One journey's causes (None when it is not stalled); the caller checked access."""
        now = now or datetime.now(UTC)
        row = await self.stalled.one(
            beneficiary_id, now=now, inactive_days=self.settings.stalled_inactive_days
        )
        return (await self.read([row], now))[0] if row else None

    async def read(self, rows: Sequence[StalledRow], now: datetime) -> list[StalledJourneyRead]:
        ids = [r.beneficiary_id for r in rows]
        if not ids:
            return []
        found = await self.stalled.journeys_with_people(ids)
        journeys = {i: j for i, (j, _) in found.items()}
        # Only a journey with the incident cause has incidents (none: no query).
        incidents = await IncidentRepository(self.session).of_people(
            [r.beneficiary_id for r in rows if StallCause.INCIDENT in r.causes]
        )
        latest = await InterventionRepository(self.session).latest_of(ids)
        users = await self.people.users(
            {
                i
                for i in (
                    *(j.referent_id for j in journeys.values()),
                    *(x.actor_id for x in latest.values()),
                    *(x.target_user_id for x in latest.values()),
                )
                if i
            }
        )
        structures = await self.people.structures(
            {
                s
                for s in (
                    *(j.structure_id for j in journeys.values()),
                    *(x.target_structure_id for x in latest.values()),
                )
                if s
            }
        )
        items = []
        for row in rows:
            journey, person = found[row.beneficiary_id]
            own = incidents.get(row.beneficiary_id, [])
            referent = users.get(journey.referent_id) if journey.referent_id else None
            structure = structures.get(journey.structure_id) if journey.structure_id else None
            step = Step(journey.step)
            items.append(
                StalledJourneyRead(
                    beneficiary_id=journey.beneficiary_id,
                    full_name=f"{person.first_name} {person.last_name}",
                    step=step,
                    step_label=STEP_LABELS[step],
                    territory=journey.territory,
                    referent=PersonRef(id=referent.id, label=referent.full_name)
                    if referent
                    else None,
                    structure=PersonRef(id=structure.id, label=structure.name)
                    if structure
                    else None,
                    since=row.since,
                    overdue_days=overdue_days(row.since, now),
                    causes=[
                        StalledCauseRead(
                            cause=cause,
                            label=CAUSE_LABELS[cause],
                            since=since,
                            overdue_days=overdue_days(since, now),
                            detail=self._detail(cause, journey, own),
                        )
                        for cause, since in sorted(row.causes.items(), key=lambda c: c[1])
                    ],
                    incidents=[incident_read(i, self.settings) for i in own],
                    last_intervention=intervention_read(
                        latest[row.beneficiary_id], users, structures
                    )
                    if row.beneficiary_id in latest
                    else None,
                )
            )
        return items

    def _detail(
        self, cause: StallCause, journey: JourneyRecord, incidents: list[PartnerIncident]
    ) -> str:
        match cause:
            case StallCause.DEADLINE:
                assert journey.deadline is not None
                return (
                    f"L'étape « {STEP_LABELS[Step(journey.step)]} » devait être franchie "
                    f"le {day_fr(journey.deadline)}."
                )
            case StallCause.INACTIVE:
                days = self.settings.stalled_inactive_days
                return (
                    f"Aucun événement du parcours depuis le {day_fr(journey.updated_at)}, "
                    f"ni changement du carnet depuis {days} jours."
                )
            case StallCause.REQUEST:
                return "Une demande à un financeur ou à une structure attend sa réponse."
            case StallCause.INCIDENT:
                return (
                    " ; ".join(
                        f"{PARTNER_CALL_LABELS.get(i.activity_type, i.activity_type)} "
                        f"({PARTNER_LABELS.get(i.partner, i.partner)}) : {i.attempts} essais en "
                        f"échec, dernier le {day_fr(i.updated_at)}"
                        for i in incidents
                    )
                    or "Un appel à un partenaire échoue."
                )
