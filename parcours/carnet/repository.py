"""The carnet's rows: situation facts, diagnosis, project, contract and plan, notes,
appointments, documents, consents, and the access log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from parcours.access.models import AccessLogEntry
from parcours.appointments.models import Appointment
from parcours.carnet.models import (
    Beneficiary,
    Consent,
    Diagnosis,
    Document,
    EngagementContract,
    ErasureRequest,
    Note,
    PlanAction,
    ProfessionalProject,
    SituationFact,
)
from parcours.core.db import utcnow
from parcours.journey.models import JourneyRecord
from parcours.sms.models import SmsMessage

# Everything personal about a person, erased together.
PERSONAL_TABLES: tuple[Any, ...] = (
    SituationFact,
    Diagnosis,
    ProfessionalProject,
    EngagementContract,
    PlanAction,
    Note,
    Appointment,
    Document,
    Consent,
    # Her number and the texts sent to her.
    SmsMessage,
)


class CarnetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, item: Any) -> None:
        self.session.add(item)

    async def current_facts(self, beneficiary_id: str) -> Sequence[SituationFact]:
        rows = await self.session.scalars(
            select(SituationFact)
            .where(
                SituationFact.beneficiary_id == beneficiary_id,
                SituationFact.superseded_at.is_(None),
            )
            .order_by(SituationFact.theme, SituationFact.recorded_at)
        )
        return rows.all()

    async def supersede_fact(self, beneficiary_id: str, theme: str, label: str) -> None:
        """A new value for the same fact replaces the old one (which stays in history)."""
        await self.session.execute(
            update(SituationFact)
            .where(
                SituationFact.beneficiary_id == beneficiary_id,
                SituationFact.theme == theme,
                SituationFact.label == label,
                SituationFact.superseded_at.is_(None),
            )
            .values(superseded_at=utcnow())
        )

    async def latest_diagnosis(self, beneficiary_id: str) -> Diagnosis | None:
        return await self.session.scalar(
            select(Diagnosis)
            .where(Diagnosis.beneficiary_id == beneficiary_id)
            .order_by(Diagnosis.recorded_at.desc())
            .limit(1)
        )

    async def project(self, beneficiary_id: str) -> ProfessionalProject | None:
        return await self.session.get(ProfessionalProject, beneficiary_id)

    async def latest_contract(self, beneficiary_id: str) -> EngagementContract | None:
        return await self.session.scalar(
            select(EngagementContract)
            .where(EngagementContract.beneficiary_id == beneficiary_id)
            .order_by(EngagementContract.signed_on.desc(), EngagementContract.recorded_at.desc())
            .limit(1)
        )

    async def plan(self, beneficiary_id: str) -> Sequence[PlanAction]:
        rows = await self.session.scalars(
            select(PlanAction)
            .where(PlanAction.beneficiary_id == beneficiary_id)
            .order_by(PlanAction.theme, PlanAction.updated_at)
        )
        return rows.all()

    async def plan_action(self, beneficiary_id: str, action_id: str) -> PlanAction | None:
        return await self.session.scalar(
            select(PlanAction).where(
                PlanAction.id == action_id, PlanAction.beneficiary_id == beneficiary_id
            )
        )

    async def notes(self, beneficiary_id: str) -> Sequence[Note]:
        rows = await self.session.scalars(
            select(Note)
            .where(Note.beneficiary_id == beneficiary_id)
            .order_by(Note.created_at.desc())
        )
        return rows.all()

    async def appointments(self, beneficiary_id: str) -> Sequence[Appointment]:
        rows = await self.session.scalars(
            select(Appointment)
            .where(Appointment.beneficiary_id == beneficiary_id)
            .order_by(Appointment.starts_at.desc())
        )
        return rows.all()

    async def appointment(self, beneficiary_id: str, appointment_id: str) -> Appointment | None:
        return await self.session.scalar(
            select(Appointment).where(
                Appointment.id == appointment_id, Appointment.beneficiary_id == beneficiary_id
            )
        )

    async def documents(self, beneficiary_id: str) -> Sequence[Document]:
        # The bytes stay in the database until someone downloads the document.
        rows = await self.session.scalars(
            select(Document)
            .where(Document.beneficiary_id == beneficiary_id)
            .order_by(Document.uploaded_at.desc())
            .options(defer(Document.data))
        )
        return rows.all()

    async def document(self, beneficiary_id: str, document_id: str) -> Document | None:
        return await self.session.scalar(
            select(Document).where(
                Document.id == document_id, Document.beneficiary_id == beneficiary_id
            )
        )

    async def consents(self, beneficiary_id: str) -> dict[str, Consent]:
        rows = await self.session.scalars(
            select(Consent).where(Consent.beneficiary_id == beneficiary_id)
        )
        return {c.partner: c for c in rows}

    async def changes(self, beneficiary_id: str) -> Sequence[AccessLogEntry]:
        """The carnet's own changes; the journey's (``journey.*``) are its events already."""
        rows = await self.session.scalars(
            select(AccessLogEntry)
            .where(
                AccessLogEntry.beneficiary_id == beneficiary_id,
                AccessLogEntry.action == "update",
                AccessLogEntry.what.like("carnet.%"),
            )
            .order_by(AccessLogEntry.at)
        )
        return rows.all()

    async def access_log(self, beneficiary_id: str, limit: int = 200) -> Sequence[AccessLogEntry]:
        rows = await self.session.scalars(
            select(AccessLogEntry)
            .where(AccessLogEntry.beneficiary_id == beneficiary_id)
            .order_by(AccessLogEntry.at.desc(), AccessLogEntry.id.desc())
            .limit(limit)
        )
        return rows.all()

    async def erase_personal_rows(self, beneficiary_id: str) -> None:
        for table in PERSONAL_TABLES:
            await self.session.execute(delete(table).where(table.beneficiary_id == beneficiary_id))

    async def pending_erasure(self, beneficiary_id: str) -> ErasureRequest | None:
        return await self.session.scalar(
            select(ErasureRequest).where(
                ErasureRequest.beneficiary_id == beneficiary_id,
                ErasureRequest.status == "pending",
            )
        )

    async def erasure_requests(self, status: str = "pending") -> Sequence[ErasureRequest]:
        rows = await self.session.scalars(
            select(ErasureRequest)
            .where(ErasureRequest.status == status)
            .order_by(ErasureRequest.requested_at)
        )
        return rows.all()

    async def expired_people(self, closed_before: datetime, limit: int) -> Sequence[str]:
        """People whose journey closed before ``closed_before`` and who are not yet anonymised."""
        rows = await self.session.scalars(
            select(JourneyRecord.beneficiary_id)
            .join(Beneficiary, Beneficiary.id == JourneyRecord.beneficiary_id)
            .where(
                JourneyRecord.step == "closed",
                JourneyRecord.step_since < closed_before,
                Beneficiary.anonymised_at.is_(None),
            )
            .order_by(JourneyRecord.step_since)
            .limit(limit)
        )
        return rows.all()
