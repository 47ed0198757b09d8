"""All the SQL of the SMS outbox: write once by key, find what is due, claim one message for
an attempt, record what the provider said."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Table, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.carnet.models import Beneficiary
from parcours.sms.models import SmsMessage
from parcours.sms.rules import SmsStatus


class SmsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_once(self, values: dict[str, Any]) -> bool:
        """Write the SMS unless one with its idempotency key is there: True when new."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(cast(Table, SmsMessage.__table__)).on_conflict_do_nothing(
            index_elements=["idempotency_key"]
        )
        result = await self.session.execute(statement, values)
        assert isinstance(result, CursorResult)
        return bool(result.rowcount)

    async def person_phone(self, beneficiary_id: str) -> tuple[bool, str | None]:
        """Whether the person is known (and not erased), and her phone."""
        person = await self.session.get(Beneficiary, beneficiary_id)
        if person is None or person.anonymised_at is not None:
            return False, None
        return True, person.phone

    async def get(self, sms_id: str) -> SmsMessage | None:
        return await self.session.scalar(
            select(SmsMessage)
            .where(SmsMessage.id == sms_id)
            .execution_options(populate_existing=True)
        )

    async def by_key(self, idempotency_key: str) -> SmsMessage | None:
        return await self.session.scalar(
            select(SmsMessage)
            .where(SmsMessage.idempotency_key == idempotency_key)
            .execution_options(populate_existing=True)
        )

    async def by_provider_id(self, provider_message_id: str) -> SmsMessage | None:
        return await self.session.scalar(
            select(SmsMessage)
            .where(SmsMessage.provider_message_id == provider_message_id)
            .with_for_update()
        )

    async def for_beneficiary(self, beneficiary_id: str) -> list[SmsMessage]:
        rows = await self.session.scalars(
            select(SmsMessage)
            .where(SmsMessage.beneficiary_id == beneficiary_id)
            .order_by(SmsMessage.created_at)
        )
        return list(rows.all())

    async def due(self, now: datetime, max_attempts: int, limit: int) -> list[str]:
        """The messages that may go now, those that have waited longest first."""
        rows = await self.session.scalars(
            select(SmsMessage.id)
            .where(*_due(now, max_attempts))
            .order_by(SmsMessage.not_before, SmsMessage.created_at)
            .limit(limit)
        )
        return list(rows.all())

    async def claim(
        self, sms_id: str, now: datetime, until: datetime, max_attempts: int
    ) -> SmsMessage | None:
        """Take the message for one attempt if it is still due: no other sender takes it
        before ``until``. None when another sender has it, or it went."""
        result = await self.session.execute(
            update(SmsMessage)
            .where(SmsMessage.id == sms_id, *_due(now, max_attempts))
            .values(attempts=SmsMessage.attempts + 1, next_attempt_at=until)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        if not result.rowcount:
            return None
        return await self.get(sms_id)

    async def mark_sent(self, sms_id: str, provider_message_id: str, at: datetime) -> None:
        await self._set(
            sms_id,
            status=SmsStatus.SENT.value,
            provider_message_id=provider_message_id,
            sent_at=at,
            next_attempt_at=None,
            last_error=None,
        )

    async def mark_retry(self, sms_id: str, error: str, retry_at: datetime) -> None:
        await self._set(sms_id, last_error=error[:500], next_attempt_at=retry_at)

    async def mark_final(self, sms_id: str, status: SmsStatus, error: str, at: datetime) -> None:
        """Refused by the provider, or given up: never tried again."""
        await self._set(
            sms_id, status=status.value, last_error=error[:500], next_attempt_at=None, status_at=at
        )

    async def _set(self, sms_id: str, **values: Any) -> None:
        await self.session.execute(
            update(SmsMessage)
            .where(SmsMessage.id == sms_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _due(now: datetime, max_attempts: int) -> tuple[ColumnElement[bool], ...]:
    return (
        SmsMessage.status == SmsStatus.PENDING.value,
        SmsMessage.not_before <= now,
        SmsMessage.attempts < max_attempts,
        or_(SmsMessage.next_attempt_at.is_(None), SmsMessage.next_attempt_at <= now),
    )
