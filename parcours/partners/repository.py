"""SQL of the partner exchanges: CAF feed files and lines, applied CAF events, partner
callbacks, and the look-ups they need (a person by CAF number or France Travail identity,
a consent)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import CursorResult, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.models import Structure, User
from parcours.carnet.models import Beneficiary, Consent, SituationFact
from parcours.core.db import utcnow
from parcours.partners.models import CafAppliedEvent, CafFeedFile, CafFeedLine, PartnerEvent

_INSERT_CHUNK = 1000


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


class CafFeedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def file(self, file_id: str) -> CafFeedFile | None:
        return await self.session.get(CafFeedFile, file_id)

    async def add_file(self, feed: CafFeedFile, lines: Iterable[tuple[int, str]]) -> bool:
        """Store the file and its lines; False when the same file was stored meanwhile (the
        same bytes sent twice at once: the other request stores it, this one stores nothing)."""
        stored = await self.session.execute(
            _insert(self.session, CafFeedFile)
            .values(
                id=feed.id,
                filename=feed.filename,
                header=feed.header,
                lines=feed.lines,
                status=feed.status,
                uploaded_by=feed.uploaded_by,
                uploaded_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
        assert isinstance(stored, CursorResult)
        if not stored.rowcount:
            return False
        chunk: list[dict[str, Any]] = []
        for number, text in lines:
            chunk.append({"file_id": feed.id, "number": number, "text": text})
            if len(chunk) == _INSERT_CHUNK:
                await self.session.execute(insert(CafFeedLine), chunk)
                chunk = []
        if chunk:
            await self.session.execute(insert(CafFeedLine), chunk)
        return True

    async def pending_lines(self, file_id: str, first: int, last: int) -> list[tuple[int, str]]:
        """Lines of ``first..last`` not applied yet, in file order."""
        rows = await self.session.execute(
            select(CafFeedLine.number, CafFeedLine.text)
            .where(
                CafFeedLine.file_id == file_id,
                CafFeedLine.number.between(first, last),
                CafFeedLine.outcome.is_(None),
            )
            .order_by(CafFeedLine.number)
        )
        return [(number, text or "") for number, text in rows]

    async def set_outcome(
        self,
        file_id: str,
        number: int,
        outcome: str,
        *,
        reason: str | None = None,
        event_id: str | None = None,
        beneficiary_id: str | None = None,
        at: datetime,
    ) -> None:
        await self.session.execute(
            update(CafFeedLine)
            .where(
                CafFeedLine.file_id == file_id,
                CafFeedLine.number == number,
                # A line is applied once, even if two attempts of a batch overlap.
                CafFeedLine.outcome.is_(None),
            )
            .values(
                outcome=outcome,
                reason=reason,
                event_id=event_id,
                beneficiary_id=beneficiary_id,
                applied_at=at,
            )
        )

    async def counts(
        self, file_id: str, first: int | None = None, last: int | None = None
    ) -> dict[str, int]:
        """Lines by outcome (``None``: not applied yet), over the file or ``first..last``."""
        query = (
            select(CafFeedLine.outcome, func.count())
            .where(CafFeedLine.file_id == file_id)
            .group_by(CafFeedLine.outcome)
        )
        if first is not None and last is not None:
            query = query.where(CafFeedLine.number.between(first, last))
        rows = await self.session.execute(query)
        return {outcome or "pending": n for outcome, n in rows}

    async def rejects(
        self, file_id: str, limit: int = 1000, offset: int = 0
    ) -> Sequence[tuple[int, str]]:
        rows = await self.session.execute(
            select(CafFeedLine.number, CafFeedLine.reason)
            .where(CafFeedLine.file_id == file_id, CafFeedLine.outcome == "rejected")
            .order_by(CafFeedLine.number)
            .limit(limit)
            .offset(offset)
        )
        return [(number, reason or "") for number, reason in rows]

    async def forget_texts(self, file_id: str) -> None:
        """The lines' personal data goes once the import is over; outcomes stay."""
        await self.session.execute(
            update(CafFeedLine)
            .where(CafFeedLine.file_id == file_id, CafFeedLine.text.is_not(None))
            .values(text=None)
        )

    async def claim_event(
        self,
        event_id: str,
        kind: str,
        file_id: str,
        line_number: int,
        at: datetime,
        beneficiary_id: str | None = None,
    ) -> bool:
        """Record that this CAF event was applied; False if it already was (by this import or
        another, concurrently)."""
        result = await self.session.execute(
            _insert(self.session, CafAppliedEvent.__table__)
            .values(
                event_id=event_id,
                kind=kind,
                file_id=file_id,
                line_number=line_number,
                applied_at=at,
                beneficiary_id=beneficiary_id,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
        assert isinstance(result, CursorResult)
        return bool(result.rowcount)

    async def line_range(self, file_id: str) -> tuple[int, int]:
        row = await self.session.execute(
            select(func.min(CafFeedLine.number), func.max(CafFeedLine.number)).where(
                CafFeedLine.file_id == file_id
            )
        )
        first, last = row.one()
        return (first or 2), (last or 1)

    async def applied_among(self, event_ids: list[str]) -> set[str]:
        if not event_ids:
            return set()
        rows = await self.session.scalars(
            select(CafAppliedEvent.event_id).where(CafAppliedEvent.event_id.in_(event_ids))
        )
        return set(rows)

    async def people_by_caf_numbers(
        self, caf_numbers: set[str]
    ) -> dict[str, list[tuple[str, str | None]]]:
        """CAF number → (id, NIR) of the people (not erased) who have it, oldest first."""
        found: dict[str, list[tuple[str, str | None]]] = {}
        if not caf_numbers:
            return found
        rows = await self.session.execute(
            select(Beneficiary.caf_number, Beneficiary.id, Beneficiary.nir)
            .where(Beneficiary.caf_number.in_(caf_numbers), Beneficiary.anonymised_at.is_(None))
            .order_by(Beneficiary.created_at)
        )
        for caf_number, beneficiary_id, nir in rows:
            found.setdefault(caf_number or "", []).append((beneficiary_id, nir))
        return found


class PartnerRepository:
    """People, consents and facts as partner calls need them, and the partners' callbacks."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def person(self, beneficiary_id: str) -> Beneficiary | None:
        person = await self.session.get(Beneficiary, beneficiary_id)
        return None if person is None or person.anonymised_at is not None else person

    async def user(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def structure(self, structure_id: str) -> Structure | None:
        return await self.session.get(Structure, structure_id)

    async def consented(self, beneficiary_id: str, partner: str) -> bool:
        consent = await self.session.get(Consent, (beneficiary_id, partner))
        return consent is not None and consent.granted

    async def consent(self, beneficiary_id: str, partner: str) -> Consent | None:
        return await self.session.get(Consent, (beneficiary_id, partner))

    async def current_facts(
        self, beneficiary_id: str, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], SituationFact]:
        labels = {label for _, label in keys}
        rows = await self.session.scalars(
            select(SituationFact).where(
                SituationFact.beneficiary_id == beneficiary_id,
                SituationFact.label.in_(labels),
                SituationFact.superseded_at.is_(None),
            )
        )
        return {(fact.theme, fact.label): fact for fact in rows}

    def add(self, item: Any) -> None:
        self.session.add(item)

    async def record_callback(self, values: dict[str, Any]) -> bool:
        """Insert a partner's callback once; False if this ``callback_id`` was already here."""
        result = await self.session.execute(
            _insert(self.session, PartnerEvent.__table__)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["callback_id"])
        )
        assert isinstance(result, CursorResult)
        return bool(result.rowcount)

    async def callback(self, callback_id: str) -> PartnerEvent | None:
        return await self.session.scalar(
            select(PartnerEvent).where(PartnerEvent.callback_id == callback_id)
        )

    async def person_by_france_travail(
        self, identifier: str | None, nir: str | None, birth_date: date | None
    ) -> str | None:
        """Who a France Travail callback is about: its identifier, else NIR and birth date."""
        if identifier:
            found = await self.session.scalar(
                select(Beneficiary.id).where(
                    Beneficiary.france_travail_id == identifier,
                    Beneficiary.anonymised_at.is_(None),
                )
            )
            if found:
                return found
        if not nir:
            return None
        query = select(Beneficiary.id).where(
            func.substr(Beneficiary.nir, 1, 13) == nir[:13], Beneficiary.anonymised_at.is_(None)
        )
        if birth_date:
            query = query.where(Beneficiary.birth_date == birth_date)
        return await self.session.scalar(query.limit(1))

    async def erase_personal_rows(self, beneficiary_id: str) -> None:
        """RGPD: the callbacks about the person keep their ids, lose their bodies."""
        await self.session.execute(
            update(PartnerEvent)
            .where(PartnerEvent.beneficiary_id == beneficiary_id)
            .values(body={})
        )


class CafImportListRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def file_ids(self, limit: int, offset: int = 0) -> list[str]:
        rows = await self.session.scalars(
            select(CafFeedFile.id)
            .order_by(CafFeedFile.uploaded_at.desc(), CafFeedFile.id)
            .limit(limit)
            .offset(offset)
        )
        return list(rows)

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(CafFeedFile)) or 0)
