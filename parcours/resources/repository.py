"""The resource base's SQL: upserts of imported structures, services and trainings (by their
source's key), the search tables kept in step with each service, and the searches."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    delete,
    func,
    insert,
    null,
    nulls_last,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from parcours.core.db import utcnow
from parcours.resources.importer import ServiceRecord
from parcours.resources.models import (
    ResourceService,
    ResourceServiceSearchRow,
    ResourceServiceTag,
    ResourceServiceWord,
    ResourceStructure,
    Training,
)
from parcours.resources.schemas import SortOrder
from parcours.resources.search import Distance, ServiceQuery, TrainingQuery
from parcours.resources.text import normalise, prefix_end

Key = tuple[str, str]

STRUCTURES = cast(Table, ResourceStructure.__table__)
SERVICES = cast(Table, ResourceService.__table__)
SEARCH = cast(Table, ResourceServiceSearchRow.__table__)
TAGS = cast(Table, ResourceServiceTag.__table__)
WORDS = cast(Table, ResourceServiceWord.__table__)
TRAININGS = cast(Table, Training.__table__)

# Rows per statement: well under SQLite's 32,766 bound parameters.
_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _squared_distance(lat: Any, lon: Any, distance: Distance) -> ColumnElement[float]:
    dlat = lat - distance.origin.lat
    dlon = (lon - distance.origin.lon) * distance.lon_scale
    return cast(ColumnElement[float], dlat * dlat + dlon * dlon)


def _within(lat: Any, lon: Any, distance: Distance) -> list[ColumnElement[bool]]:
    box = distance.box()
    if box is None:
        return []
    south, north, west, east = box
    return [
        lat.between(south, north),
        lon.between(west, east),
        _squared_distance(lat, lon, distance) <= cast(float, distance.max_squared),
    ]


class ResourceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self, table: Table) -> Any:
        dialect = self.session.get_bind().dialect.name
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)

    async def _ids(self, table: Table, keys: Sequence[Key]) -> dict[Key, int]:
        found: dict[Key, int] = {}
        for chunk in _chunks(keys):
            rows = await self.session.execute(
                select(table.c.source, table.c.source_id, table.c.id).where(
                    tuple_(table.c.source, table.c.source_id).in_(list(chunk))
                )
            )
            found.update({(r.source, r.source_id): r.id for r in rows})
        return found

    async def _upsert(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert, or update in place by (source, source_id); ``imported_at`` stays."""
        now = utcnow()
        for chunk in _chunks(rows):
            statement = self._insert(table)
            columns = [c for c in chunk[0] if c not in ("source", "source_id")]
            statement = statement.on_conflict_do_update(
                index_elements=[table.c.source, table.c.source_id],
                set_={c: statement.excluded[c] for c in [*columns, "updated_at"]},
            )
            await self.session.execute(
                statement, [{**row, "imported_at": now, "updated_at": now} for row in chunk]
            )

    # --- Structures ---

    async def structure_ids(self, keys: Sequence[Key]) -> dict[Key, int]:
        return await self._ids(STRUCTURES, keys)

    async def upsert_structures(self, rows: Sequence[dict[str, Any]]) -> None:
        await self._upsert(STRUCTURES, rows)

    async def structure_names(self, keys: Iterable[Key]) -> dict[Key, str]:
        wanted = sorted(set(keys))
        names: dict[Key, str] = {}
        for chunk in _chunks(wanted):
            rows = await self.session.execute(
                select(STRUCTURES.c.source, STRUCTURES.c.source_id, STRUCTURES.c.nom).where(
                    tuple_(STRUCTURES.c.source, STRUCTURES.c.source_id).in_(list(chunk))
                )
            )
            names.update({(r.source, r.source_id): r.nom for r in rows})
        return names

    async def structure_of(self, service: ResourceService) -> ResourceStructure | None:
        return cast(
            ResourceStructure | None,
            await self.session.scalar(
                select(ResourceStructure).where(
                    ResourceStructure.source == service.source,
                    ResourceStructure.source_id == service.structure_source_id,
                )
            ),
        )

    # --- Services ---

    async def service_ids(self, keys: Sequence[Key]) -> dict[Key, int]:
        return await self._ids(SERVICES, keys)

    async def upsert_services(self, records: Sequence[ServiceRecord]) -> dict[Key, int]:
        """Store the services and their search rows; their ids by key."""
        await self._upsert(SERVICES, [r.values for r in records])
        ids = await self.service_ids([r.key for r in records])
        for chunk in _chunks(list(ids.values())):
            for table in (SEARCH, TAGS, WORDS):
                await self.session.execute(delete(table).where(table.c.service_id.in_(chunk)))
        searched = [{"service_id": ids[r.key], **r.search} for r in records]
        tags = [{"tag": t, "service_id": ids[r.key]} for r in records for t in sorted(r.tags)]
        words = [
            {"word": w, "service_id": ids[r.key], "weight": weight}
            for r in records
            for w, weight in r.words.items()
        ]
        for chunk in _chunks(searched):
            await self.session.execute(insert(SEARCH), list(chunk))
        for chunk in _chunks(tags, 2000):
            await self.session.execute(insert(TAGS), list(chunk))
        for chunk in _chunks(words, 2000):
            await self.session.execute(insert(WORDS), list(chunk))
        await self._leave_out_twins({(r.key[0], r.values["structure_source_id"]) for r in records})
        return ids

    async def _leave_out_twins(self, structures: set[Key]) -> None:
        """A structure's service published twice under two ids (the same name at the same
        place) is one service: searches find the first (the smallest id), the others' search
        rows are left out (``active`` false). Worked out again for every structure an import
        touches, so that a rename or a move puts a service back."""
        s = SERVICES.c
        for chunk in _chunks(sorted(structures)):
            rows = await self.session.execute(
                select(
                    s.id, s.source, s.structure_source_id, s.nom, s.code_insee, s.adresse, s.active
                )
                .where(tuple_(s.source, s.structure_source_id).in_(list(chunk)))
                .order_by(s.id)
            )
            seen: set[tuple[str, ...]] = set()
            shown: list[int] = []
            twins: list[int] = []
            for row in rows:
                same = (
                    row.source,
                    row.structure_source_id,
                    normalise(row.nom),
                    row.code_insee or "",
                    normalise(row.adresse),
                )
                if not row.active:
                    continue
                (twins if same in seen else shown).append(row.id)
                seen.add(same)
            for ids, active in ((shown, True), (twins, False)):
                for part in _chunks(ids):
                    await self.session.execute(
                        update(SEARCH).where(SEARCH.c.service_id.in_(part)).values(active=active)
                    )

    async def service(self, service_id: int) -> ResourceService | None:
        return await self.session.get(ResourceService, service_id)

    async def services_with_structure(
        self, ids: Sequence[int]
    ) -> dict[int, tuple[ResourceService, str | None]]:
        if not ids:
            return {}
        rows = await self.session.execute(
            select(ResourceService, ResourceStructure.nom)
            .outerjoin(
                ResourceStructure,
                (ResourceStructure.source == ResourceService.source)
                & (ResourceStructure.source_id == ResourceService.structure_source_id),
            )
            .where(ResourceService.id.in_(ids))
            # A page of results needs neither the imported row nor the searched text.
            .options(defer(ResourceService.raw), defer(ResourceService.search_text))
        )
        return {service.id: (service, name) for service, name in rows.all()}

    async def count_services(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(SERVICES)) or 0)

    async def search_services(
        self, q: ServiceQuery
    ) -> tuple[list[tuple[int, int | None, float | None]], int]:
        """One page of (service id, text score, squared distance) and the total count; a
        service published twice by its structure is found once (``_leave_out_twins``).

        Only the narrow search tables are read. Without free text, the page is a top-N sort
        and the total a count apart (cheaper than sorting every match to count them); with
        it, every match is scored and sorted anyway, and the total comes with the page."""
        r = SEARCH.c
        conditions: list[ColumnElement[bool]] = [r.active.is_(True)]
        if q.types:
            conditions.append(r.type.in_(q.types))
        if q.frais:
            conditions.append(r.frais.in_(q.frais))
        if tags := q.thematique_tags():
            conditions.append(
                r.service_id.in_(select(TAGS.c.service_id).where(TAGS.c.tag.in_(tags)))
            )
        for column, tokens in ((r.publics, q.public_tokens()), (r.zones, q.zone_tokens())):
            if tokens:
                conditions.append(or_(*(column.like(f"% {token} %") for token in tokens)))
        squared: ColumnElement[Any] = null()
        if q.distance:
            squared = _squared_distance(r.latitude, r.longitude, q.distance)
            conditions += _within(r.latitude, r.longitude, q.distance)

        score: ColumnElement[Any] = null()
        query = select(r.service_id)
        if q.terms:
            matches = self._matches(q.terms)
            for match in matches:
                query = query.join(match, match.c.service_id == r.service_id)
            score = sum((m.c.weight for m in matches[1:]), matches[0].c.weight)
            # Every match is scored and sorted anyway: the total comes with the page.
            query = query.add_columns(func.count().over().label("total"))
        query = query.add_columns(score.label("score"), squared.label("squared")).where(*conditions)

        by_distance = [nulls_last(squared.asc())] if q.distance is not None else []
        by_score = [score.desc()] if q.terms else []
        order = (
            [*by_distance, *by_score] if q.sort is SortOrder.DISTANCE else [*by_score, *by_distance]
        )
        query = query.order_by(*order, r.nom, r.service_id).limit(q.size).offset(q.offset)
        rows = (await self.session.execute(query)).all()
        if q.terms and rows:
            total = int(rows[0].total)
        elif q.page == 1 and len(rows) < q.size:
            total = len(rows)
        else:
            counted = select(func.count()).select_from(
                query.with_only_columns(r.service_id)
                .order_by(None)
                .limit(None)
                .offset(None)
                .subquery()
            )
            total = int(await self.session.scalar(counted) or 0)
        return [(row.service_id, row.score, row.squared) for row in rows], total

    @staticmethod
    def _matches(terms: Sequence[str]) -> list[Any]:
        """Per term, (service_id, weight) of the services holding a word it begins: the best
        field's weight. Joined together, they keep the services holding every term."""
        w = WORDS.c
        return [
            select(w.service_id, func.max(w.weight).label("weight"))
            .where(w.word >= term, w.word < prefix_end(term))
            .group_by(w.service_id)
            .subquery(f"term_{i}")
            for i, term in enumerate(terms)
        ]

    async def refresh_statistics(self) -> None:
        """Fresh planner statistics after a large import (the search's plans depend on
        them; PostgreSQL's autovacuum may be off or late, SQLite has none)."""
        dialect = self.session.get_bind().dialect.name
        if dialect == "sqlite":
            # A sample is enough for the planner and keeps this quick on big tables.
            await self.session.execute(text("PRAGMA analysis_limit=2000"))
        for table in (SERVICES, SEARCH, TAGS, WORDS):
            await self.session.execute(text(f"ANALYZE {table.name}"))

    async def weekly_hours_of_services(self, ids: Iterable[int]) -> dict[int, float | None]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(SERVICES.c.id, SERVICES.c.volume_horaire_hebdomadaire).where(
                SERVICES.c.id.in_(wanted)
            )
        )
        return {r[0]: r[1] for r in rows}

    # --- Trainings ---

    async def training(self, training_id: str) -> Training | None:
        return await self.session.get(Training, training_id)

    async def trainings_by_reference(self, references: Sequence[str]) -> dict[str, Training]:
        found: dict[str, Training] = {}
        for chunk in _chunks(references):
            rows = await self.session.scalars(
                select(Training).where(Training.reference.in_(list(chunk)))
            )
            found.update({t.reference: t for t in rows})
        return found

    def add_training(self, training: Training) -> None:
        self.session.add(training)

    async def search_trainings(
        self, q: TrainingQuery
    ) -> tuple[list[tuple[Training, float | None]], int]:
        t = Training
        conditions: list[ColumnElement[bool]] = []
        if not q.include_inactive:
            conditions.append(t.active.is_(True))
        if q.funders:
            conditions.append(t.funder.in_(q.funders))
        if q.formacode:
            conditions.append(t.formacode == q.formacode)
        if q.upcoming_on is not None:
            conditions.append(t.end_on >= q.upcoming_on)
        if q.with_places:
            conditions.append(or_(t.places_left.is_(None), t.places_left > 0))
        conditions += [t.search_text.like(f"%{term}%") for term in q.terms]
        squared: ColumnElement[Any] = null()
        if q.distance:
            squared = _squared_distance(t.latitude, t.longitude, q.distance)
            conditions += _within(t.latitude, t.longitude, q.distance)
        by_distance = [nulls_last(squared.asc())] if q.distance is not None else []
        order = [*by_distance] if q.sort is SortOrder.DISTANCE else []
        query = (
            select(t, squared.label("squared"), func.count().over().label("total"))
            .where(*conditions)
            .order_by(*order, t.start_on, t.title, t.reference)
            .limit(q.size)
            .offset(q.offset)
        )
        rows = (await self.session.execute(query)).all()
        if rows:
            total = rows[0].total
        else:
            total = await self.session.scalar(
                select(func.count()).select_from(t).where(*conditions)
            )
        return [(r[0], r.squared) for r in rows], int(total or 0)

    async def weekly_hours_of_trainings(self, ids: Iterable[str]) -> dict[str, float | None]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(Training.id, Training.weekly_hours).where(Training.id.in_(wanted))
        )
        return {r[0]: r[1] for r in rows}
