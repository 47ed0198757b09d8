"""The orientations to services' rows: the read model the ``ServiceOrientation`` workflow
writes, the plan lines they became, the services they are to, and the people a professional
may orient."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.carnet.models import Beneficiary, EngagementContract, PlanAction
from parcours.carnet.schemas import PlanStatus
from parcours.journey.messages import Step
from parcours.journey.models import JourneyRecord
from parcours.orientations.messages import WAITING_STATUSES
from parcours.orientations.models import ServiceOrientationRecord
from parcours.partners.models import PartnerEvent
from parcours.resources.models import ResourceService, ResourceStructure

ACTIVE_PLAN = (PlanStatus.PLANNED.value, PlanStatus.IN_PROGRESS.value)
# The steps in which a journey takes an orientation to a service (``rules._GATES``).
ORIENTABLE_STEPS = (
    Step.DIAGNOSIS.value,
    Step.ORIENTATION.value,
    Step.ACCOMPANIMENT.value,
    Step.EMPLOYMENT.value,
    Step.FOLLOW_UP.value,
)


@dataclass(frozen=True)
class OrientationRow:
    record: ServiceOrientationRecord
    service_name: str | None
    structure_name: str | None


class ServiceOrientationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def erase_personal_rows(self, beneficiary_id: str) -> None:
        """RGPD: the structures' reasons about the person go; the orientations keep their
        ids, dates and decisions."""
        await self.session.execute(
            update(ServiceOrientationRecord)
            .where(ServiceOrientationRecord.beneficiary_id == beneficiary_id)
            .values(reason=None)
        )

    # --- The read model ---

    async def get(self, orientation_id: str) -> ServiceOrientationRecord | None:
        return await self.session.get(ServiceOrientationRecord, orientation_id)

    def add(self, item: object) -> None:
        self.session.add(item)

    async def of_person(self, beneficiary_id: str) -> list[OrientationRow]:
        rows = await self.session.execute(
            select(ServiceOrientationRecord, ResourceService.nom, ResourceStructure.nom)
            .outerjoin(ResourceService, ResourceService.id == ServiceOrientationRecord.service_id)
            .outerjoin(
                ResourceStructure,
                ResourceStructure.id == ServiceOrientationRecord.resource_structure_id,
            )
            .where(ServiceOrientationRecord.beneficiary_id == beneficiary_id)
            .order_by(ServiceOrientationRecord.requested_at.desc())
        )
        return [OrientationRow(r[0], r[1], r[2]) for r in rows.all()]

    async def waiting_ids(self, beneficiary_id: str) -> list[str]:
        """The person's orientations the structure has not answered yet."""
        rows = await self.session.scalars(
            select(ServiceOrientationRecord.id).where(
                ServiceOrientationRecord.beneficiary_id == beneficiary_id,
                ServiceOrientationRecord.status.in_([s.value for s in WAITING_STATUSES]),
            )
        )
        return list(rows)

    async def answer(self, callback_id: str) -> PartnerEvent | None:
        return await self.session.scalar(
            select(PartnerEvent).where(
                PartnerEvent.callback_id == callback_id, PartnerEvent.kind == "orientation_answer"
            )
        )

    # --- The resource base ---

    async def service(self, service_id: int) -> ResourceService | None:
        return await self.session.get(ResourceService, service_id)

    async def structure_of(self, service: ResourceService) -> ResourceStructure | None:
        return await self.session.scalar(
            select(ResourceStructure).where(
                ResourceStructure.source == service.source,
                ResourceStructure.source_id == service.structure_source_id,
            )
        )

    async def structure(self, structure_id: int) -> ResourceStructure | None:
        return await self.session.get(ResourceStructure, structure_id)

    # --- The plan ---

    async def plan_action(self, action_id: str) -> PlanAction | None:
        return await self.session.get(PlanAction, action_id)

    async def active_plan(self, beneficiary_id: str) -> Sequence[PlanAction]:
        rows = await self.session.scalars(
            select(PlanAction).where(
                PlanAction.beneficiary_id == beneficiary_id, PlanAction.status.in_(ACTIVE_PLAN)
            )
        )
        return rows.all()

    async def contract_hours(self, beneficiary_id: str) -> int | None:
        """The weekly hours of the person's latest contract (None: none set)."""
        return await self.session.scalar(
            select(EngagementContract.weekly_hours)
            .where(EngagementContract.beneficiary_id == beneficiary_id)
            .order_by(EngagementContract.signed_on.desc(), EngagementContract.recorded_at.desc())
            .limit(1)
        )

    # --- Who may be oriented ---

    async def orientable_people(
        self, visible: ColumnElement[bool], limit: int = 500
    ) -> Sequence[tuple[str, str, str, date]]:
        """(id, first name, last name, birth date) of the people ``visible`` lets one see whose
        journey takes an orientation now, by name."""
        rows = await self.session.execute(
            select(
                Beneficiary.id,
                Beneficiary.first_name,
                Beneficiary.last_name,
                Beneficiary.birth_date,
            )
            .join(JourneyRecord, JourneyRecord.beneficiary_id == Beneficiary.id)
            .where(
                visible,
                JourneyRecord.step.in_(ORIENTABLE_STEPS),
                JourneyRecord.paused.is_(False),
                Beneficiary.anonymised_at.is_(None),
            )
            .order_by(Beneficiary.last_name, Beneficiary.first_name)
            .limit(limit)
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows.all()]
