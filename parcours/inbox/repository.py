"""All the inbox's SQL: items written once per (source, recipient), settled, marked done and
listed with the person's name; the agents an audience names; e-mail preferences."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.models import User
from parcours.access.rules import Role
from parcours.carnet.models import Beneficiary
from parcours.inbox.models import InboxItem, InboxPreference
from parcours.inbox.rules import OpenItem
from parcours.journey.models import JourneyRecord


def _open() -> Any:
    return and_(InboxItem.done_at.is_(None), InboxItem.settled_at.is_(None))


# Read at every transition of every journey: built once (building a statement costs as much
# CPU as running it on SQLite).
_OPEN_OF_JOURNEY = select(
    InboxItem.id, InboxItem.kind, InboxItem.ref, InboxItem.recipient_id, InboxItem.step
).where(InboxItem.journey_id == bindparam("journey_id"), _open())


class InboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> bool:
        """Write the item unless its (source, recipient) is there already (a retried or
        replayed projection): True when it is new."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(cast(Table, InboxItem.__table__)).on_conflict_do_nothing(
            index_elements=["source", "recipient_id"]
        )
        result = await self.session.execute(statement, values)
        assert isinstance(result, CursorResult)
        return bool(result.rowcount)

    async def open_of_journey(self, journey_id: str) -> list[OpenItem]:
        """The journey's open items, as the settling rules look at them."""
        rows = await self.session.execute(_OPEN_OF_JOURNEY, {"journey_id": journey_id})
        return [OpenItem(*row) for row in rows.all()]

    async def settle(self, item_ids: Sequence[str], at: datetime) -> None:
        """Settle these items, those still open (one may have been marked done since)."""
        await self.session.execute(
            update(InboxItem)
            .where(InboxItem.id.in_(item_ids), _open())
            .values(settled_at=at)
            .execution_options(synchronize_session=False)
        )

    async def forget_after(self, journey_id: str, seq: int) -> None:
        """The items of journey events after ``seq``: events the engine never recorded."""
        await self.session.execute(
            delete(InboxItem).where(InboxItem.journey_id == journey_id, InboxItem.journey_seq > seq)
        )

    async def agents(self, role: Role, territory: str) -> Sequence[str]:
        """The active agents of ``role`` in ``territory``."""
        rows = await self.session.scalars(
            select(User.id).where(
                User.role == role.value, User.territory == territory, User.active.is_(True)
            )
        )
        return rows.all()

    async def structure_agents(self, structure_id: str) -> Sequence[str]:
        rows = await self.session.scalars(
            select(User.id).where(
                User.structure_id == structure_id,
                User.active.is_(True),
                User.role.in_([Role.REFERENT.value, Role.ORIENTATION.value]),
            )
        )
        return rows.all()

    async def journey_of(self, beneficiary_id: str) -> JourneyRecord | None:
        return await self.session.get(JourneyRecord, beneficiary_id)

    async def active_user(self, user_id: str) -> User | None:
        user = await self.session.get(User, user_id)
        return user if user is not None and user.active else None

    async def open_items(
        self, recipient_id: str, *, limit: int = 200
    ) -> Sequence[tuple[InboxItem, Beneficiary | None]]:
        """The recipient's open items, the latest first, with the person they are about."""
        rows = await self.session.execute(
            select(InboxItem, Beneficiary)
            .outerjoin(Beneficiary, Beneficiary.id == InboxItem.beneficiary_id)
            .where(InboxItem.recipient_id == recipient_id, _open())
            .order_by(InboxItem.created_at.desc(), InboxItem.id)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in rows.all()]

    async def open_count(self, recipient_id: str) -> int:
        total = await self.session.scalar(
            select(func.count())
            .select_from(InboxItem)
            .where(InboxItem.recipient_id == recipient_id, _open())
        )
        return total or 0

    async def open_counts_since(self, recipient_id: str, since: datetime | None) -> tuple[int, int]:
        """How many items are open, and how many of them came after ``since``."""
        total = await self.open_count(recipient_id)
        if since is None:
            return total, total
        new = await self.session.scalar(
            select(func.count())
            .select_from(InboxItem)
            .where(InboxItem.recipient_id == recipient_id, _open(), InboxItem.created_at > since)
        )
        return total, new or 0

    async def item(self, item_id: str) -> InboxItem | None:
        return await self.session.get(InboxItem, item_id)

    async def recipients_with_open_items(self) -> Sequence[str]:
        rows = await self.session.scalars(select(InboxItem.recipient_id).where(_open()).distinct())
        return rows.all()

    async def journeys_due(self, until: datetime) -> Sequence[JourneyRecord]:
        """Open, not stalled, not paused journeys whose step ends by ``until``."""
        rows = await self.session.scalars(
            select(JourneyRecord).where(
                JourneyRecord.deadline.is_not(None),
                JourneyRecord.deadline <= until,
                JourneyRecord.stalled.is_(False),
                JourneyRecord.paused.is_(False),
                JourneyRecord.step != "closed",
            )
        )
        return rows.all()

    async def settle_due_passed(self, now: datetime) -> None:
        """Items about a deadline that has passed since: the journey is late now (its
        ``deadline_passed`` item says so)."""
        await self.session.execute(
            update(InboxItem)
            .where(
                InboxItem.kind == "deadline_soon",
                _open(),
                or_(InboxItem.ref.is_(None), InboxItem.ref <= now.isoformat()),
            )
            .values(settled_at=now)
        )

    async def preference(self, user_id: str) -> InboxPreference | None:
        return await self.session.get(InboxPreference, user_id)

    async def set_preference(self, user_id: str, email: str, at: datetime) -> InboxPreference:
        found = await self.preference(user_id)
        if found is None:
            found = InboxPreference(user_id=user_id, email=email, updated_at=at)
            self.session.add(found)
        else:
            found.email, found.updated_at = email, at
        await self.session.flush()
        return found

    async def claim_summary(self, user_id: str, day: date) -> bool:
        """Mark the day's summary as written for ``user_id``: False when it already was (one
        summary a day, whatever the retries)."""
        found = await self.preference(user_id)
        if found is None:
            found = InboxPreference(user_id=user_id, email="daily")
            self.session.add(found)
        elif found.summary_sent_on is not None and found.summary_sent_on >= day:
            return False
        found.summary_sent_on = day
        await self.session.flush()
        return True
