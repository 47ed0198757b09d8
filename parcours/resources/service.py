"""The resource base: importing files (reporting each rejected row), searching services and
trainings from a place, reading them, and the trainings' admin. Services never commit: the
request, or the command, owns the transaction."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.repository import PeopleRepository, log_access
from parcours.access.rules import Principal, Role, ensure_read
from parcours.core.db import utcnow
from parcours.core.errors import Forbidden, InvalidReference, NotFound
from parcours.journey.repository import JourneyRepository
from parcours.resources import geo, importer
from parcours.resources.importer import (
    KIND_LABELS,
    FileKind,
    ParsedFile,
    ServiceRecord,
    UnreadableFile,
)
from parcours.resources.models import ResourceService, ResourceStructure, Training
from parcours.resources.repository import Key, ResourceRepository
from parcours.resources.rules import PlannedActivity, WeeklyHours, weekly_hours
from parcours.resources.schemas import (
    FileReport,
    ImportReport,
    Labelled,
    Origin,
    Rejected,
    ServicePage,
    ServiceRead,
    ServiceSummary,
    StructureRead,
    TrainingCreate,
    TrainingPage,
    TrainingRead,
    TrainingUpdate,
)
from parcours.resources.search import Distance, ServiceQuery, TrainingQuery, excerpt, pages
from parcours.resources.vocabulary import (
    FRAIS_LABELS,
    FUNDER_LABELS,
    MOBILISABLE_PAR_LABELS,
    MODE_ACCUEIL_LABELS,
    MODE_MOBILISATION_LABELS,
    PUBLIC_LABELS,
    TYPE_LABELS,
    Funder,
    thematique_label,
)

SEARCHING_ROLES = frozenset({Role.REFERENT, Role.ORIENTATION, Role.MANAGER, Role.ADMIN})
_BATCH = 500
# Services imported at once beyond which the planner's statistics are refreshed.
REFRESH_STATISTICS_AFTER = 1000


def _labelled(values: Iterable[str], labels: dict[str, str]) -> list[Labelled]:
    return [Labelled(value=v, label=labels.get(v, v)) for v in values]


def _one(value: str | None, labels: dict[str, str]) -> Labelled | None:
    return Labelled(value=value, label=labels.get(value, value)) if value else None


def origin_of(commune: geo.Commune) -> Origin:
    return Origin(
        code_insee=commune.code,
        label=commune.label,
        lat=commune.lat,
        lon=commune.lon,
        precise=True,  # the town hall (or the middle of the commune)
    )


def service_summary(
    service: ResourceService,
    structure: str | None,
    score: int | None = None,
    distance: Distance | None = None,
) -> ServiceSummary:
    return ServiceSummary(
        id=service.id,
        nom=service.nom,
        structure=structure,
        type=_one(service.type, TYPE_LABELS),
        thematiques=[Labelled(value=t, label=thematique_label(t)) for t in service.thematiques],
        publics=_labelled(service.publics, PUBLIC_LABELS),
        frais=_one(service.frais, FRAIS_LABELS),
        commune=service.commune,
        code_postal=service.code_postal,
        modes_accueil=_labelled(service.modes_accueil, MODE_ACCUEIL_LABELS),
        volume_horaire_hebdomadaire=service.volume_horaire_hebdomadaire,
        distance_km=_km(distance, service.latitude, service.longitude),
        score=score,
        excerpt=excerpt(service.description),
    )


def _km(distance: Distance | None, lat: float | None, lon: float | None) -> float | None:
    km = distance.km(lat, lon) if distance else None
    return round(km, 1) if km is not None else None


def structure_read(s: ResourceStructure) -> StructureRead:
    return StructureRead(
        id=s.id,
        source=s.source,
        source_id=s.source_id,
        nom=s.nom,
        description=s.description,
        siret=s.siret,
        adresse=s.adresse,
        code_postal=s.code_postal,
        commune=s.commune,
        telephone=s.telephone,
        courriel=s.courriel,
        site_web=s.site_web,
        horaires_accueil=s.horaires_accueil,
    )


def training_read(t: Training, distance: Distance | None = None) -> TrainingRead:
    funder = Funder(t.funder)
    return TrainingRead(
        id=t.id,
        reference=t.reference,
        title=t.title,
        organisation=t.organisation,
        funder=funder,
        funder_label=FUNDER_LABELS[funder],
        formacode=t.formacode,
        rncp=t.rncp,
        start_on=t.start_on,
        end_on=t.end_on,
        places_left=t.places_left,
        weekly_hours=t.weekly_hours,
        weeks=t.weeks,
        address=t.address,
        postal_code=t.postal_code,
        city=t.city,
        latitude=t.latitude,
        longitude=t.longitude,
        conditions=t.conditions,
        description=t.description,
        active=t.active,
        distance_km=_km(distance, t.latitude, t.longitude),
    )


class ResourceBaseService:
    """``principal`` is who acts (``None``: the system, e.g. the import command)."""

    def __init__(self, session: AsyncSession, principal: Principal | None = None) -> None:
        self.session = session
        self.principal = principal
        self.repo = ResourceRepository(session)

    # --- Access ---

    def _may_search(self) -> None:
        if self.principal is not None and self.principal.role not in SEARCHING_ROLES:
            raise Forbidden("Votre rôle ne donne pas accès à la base de ressources.")

    def _admin(self) -> None:
        if self.principal is not None and self.principal.role is not Role.ADMIN:
            raise Forbidden("Seuls les administrateurs gèrent la base de ressources.")

    # --- Places ---

    async def places(self) -> geo.Gazetteer:
        return await geo.gazetteer(self.session)

    async def commune_origin(self, code_or_text: str) -> Origin:
        """A commune of France given by its code INSEE, postal code or name."""
        text = code_or_text.strip()
        places = await self.places()
        found = places.find(text)
        if found is None:
            if places.knows(text):
                raise InvalidReference(
                    f"La position de la commune « {text} » est inconnue : choisissez une "
                    "commune voisine."
                )
            raise InvalidReference(
                f"Commune « {text} » inconnue : donnez son code INSEE, son code postal ou son nom."
            )
        return origin_of(found)

    async def zone(self, query: ServiceQuery) -> ServiceQuery:
        """The query with its zone checked (a commune or a département that exists) and, for a
        commune, its EPCI (services open to the EPCI's people are open to the commune's)."""
        if not query.zone:
            return query
        places = await self.places()
        code = query.zone.strip().upper()
        if len(code) == 5:
            if not places.knows(code):
                raise InvalidReference(
                    f"zone_eligibilite : aucune commune n'a le code INSEE « {code} »."
                )
            commune = places.commune(code)
            return dataclasses.replace(
                query, zone=code, zone_epci=commune.epci if commune else None
            )
        if not places.is_departement(code):
            raise InvalidReference(f"zone_eligibilite : département « {code} » inconnu.")
        return dataclasses.replace(query, zone=code)

    async def person_origin(self, beneficiary_id: str) -> Origin:
        """The commune of a person the caller follows (their postal code and city)."""
        self._may_search()
        journey = await JourneyRepository(self.session).get(beneficiary_id)
        if self.principal is not None:
            ensure_read(self.principal, journey)
        person = await PeopleRepository(self.session).beneficiary(beneficiary_id)
        if person is None or (self.principal is not None and journey is None):
            raise NotFound("Personne introuvable.")
        if self.principal is not None:
            log_access(self.session, self.principal, beneficiary_id, "read", "commune")
        found = (await self.places()).locate(person.postal_code, person.city)
        if found is None:
            raise InvalidReference(
                "L'adresse de la personne ne permet pas de la situer (code postal ou commune "
                "inconnus) : choisissez une commune."
            )
        return origin_of(found)

    # --- Search ---

    async def search_services(self, query: ServiceQuery, origin: Origin | None) -> ServicePage:
        self._may_search()
        query = await self.zone(query)
        rows, total = await self.repo.search_services(query)
        found = await self.repo.services_with_structure([r[0] for r in rows])
        items = [
            service_summary(found[i][0], found[i][1], score, query.distance)
            for i, score, _ in rows
            if i in found
        ]
        return ServicePage(
            items=items,
            total=total,
            page=query.page,
            size=query.size,
            pages=pages(total, query.size),
            sort=query.sort,
            origin=origin,
        )

    async def service(self, service_id: int, origin: Origin | None = None) -> ServiceRead:
        self._may_search()
        service = await self.repo.service(service_id)
        if service is None:
            raise NotFound("Service introuvable.")
        structure = await self.repo.structure_of(service)
        distance = Distance(geo.Point(origin.lat, origin.lon)) if origin else None
        summary = service_summary(service, structure.nom if structure else None, None, distance)
        return ServiceRead(
            **summary.model_dump(),
            source=service.source,
            source_id=service.source_id,
            description=service.description,
            frais_precisions=service.frais_precisions,
            publics_precisions=service.publics_precisions,
            conditions_acces=service.conditions_acces,
            adresse=service.adresse,
            complement_adresse=service.complement_adresse,
            code_insee=service.code_insee,
            latitude=service.latitude,
            longitude=service.longitude,
            telephone=service.telephone,
            courriel=service.courriel,
            contact_nom_prenom=service.contact_nom_prenom,
            zone_eligibilite=service.zone_eligibilite,
            zone_eligibilite_labels=[
                (await self.places()).zone_label(c) for c in service.zone_eligibilite or ()
            ],
            lien_source=service.lien_source,
            lien_mobilisation=service.lien_mobilisation,
            modes_mobilisation=_labelled(service.modes_mobilisation, MODE_MOBILISATION_LABELS),
            mobilisable_par=_labelled(service.mobilisable_par, MOBILISABLE_PAR_LABELS),
            mobilisation_precisions=service.mobilisation_precisions,
            nombre_semaines=service.nombre_semaines,
            horaires_accueil=service.horaires_accueil,
            date_maj=service.date_maj,
            structure_detail=structure_read(structure) if structure else None,
        )

    async def search_trainings(self, query: TrainingQuery, origin: Origin | None) -> TrainingPage:
        self._may_search()
        if query.include_inactive:
            self._admin()
        rows, total = await self.repo.search_trainings(query)
        return TrainingPage(
            items=[training_read(t, query.distance) for t, _ in rows],
            total=total,
            page=query.page,
            size=query.size,
            pages=pages(total, query.size),
            origin=origin,
        )

    async def training(self, training_id: str, origin: Origin | None = None) -> TrainingRead:
        self._may_search()
        training = await self.repo.training(training_id)
        if training is None or (
            not training.active
            and self.principal is not None
            and self.principal.role is not Role.ADMIN
        ):
            raise NotFound("Formation introuvable.")
        distance = Distance(geo.Point(origin.lat, origin.lon)) if origin else None
        return training_read(training, distance)

    # --- Trainings' admin ---

    async def create_training(self, data: TrainingCreate) -> TrainingRead:
        self._admin()
        reference = data.reference or f"parcours-{uuid.uuid4().hex[:12]}"
        if await self.repo.trainings_by_reference([reference]):
            raise InvalidReference(f"Une formation a déjà la référence « {reference} ».")
        values = importer.training_values(data, await self.places())
        training = Training(reference=reference, **values)
        self.repo.add_training(training)
        await self.session.flush()
        return training_read(training)

    async def update_training(self, training_id: str, data: TrainingUpdate) -> TrainingRead:
        self._admin()
        training = await self.repo.training(training_id)
        if training is None:
            raise NotFound("Formation introuvable.")
        for column, value in importer.training_values(data, await self.places()).items():
            setattr(training, column, value)
        training.active = data.active
        training.updated_at = utcnow()
        await self.session.flush()
        return training_read(training)

    # --- The 15-hours rule ---

    async def plan_weekly_hours(
        self, activities: Sequence[PlannedActivity], target: float | None
    ) -> WeeklyHours:
        services = await self.repo.weekly_hours_of_services(
            a.service_id for a in activities if a.service_id is not None
        )
        trainings = await self.repo.weekly_hours_of_trainings(
            a.training_id for a in activities if a.training_id is not None
        )
        return weekly_hours(activities, services, trainings, target)

    # --- Imports ---

    async def import_files(self, files: Sequence[tuple[str, bytes]]) -> ImportReport:
        """Import structures first, then services (which take their structure's name into
        their searchable text), then trainings; each file reports its own rows."""
        self._admin()
        parsed: list[tuple[int, ParsedFile]] = []
        reports: dict[int, FileReport] = {}
        for n, (filename, content) in enumerate(files):
            try:
                parsed.append((n, importer.parse_file(filename, content)))
            except UnreadableFile as error:
                reports[n] = FileReport(
                    filename=filename,
                    kind="inconnu",
                    kind_label="fichier illisible",
                    unit="ligne",
                    rows=0,
                    created=0,
                    updated=0,
                    rejected=[],
                    error=str(error),
                )
        order = {FileKind.STRUCTURES: 0, FileKind.SERVICES: 1, FileKind.TRAININGS: 2}
        for n, file in sorted(parsed, key=lambda item: order[item[1].kind]):
            match file.kind:
                case FileKind.STRUCTURES:
                    reports[n] = await self._import_structures(file)
                case FileKind.SERVICES:
                    reports[n] = await self._import_services(file)
                case FileKind.TRAININGS:
                    reports[n] = await self._import_trainings(file)
        services = sum(r.created + r.updated for r in reports.values() if r.kind == "services")
        if services >= REFRESH_STATISTICS_AFTER:
            await self.repo.refresh_statistics()
        return ImportReport(files=[reports[n] for n in range(len(files))])

    @staticmethod
    def _report(
        file: ParsedFile, created: int, updated: int, rejected: list[Rejected]
    ) -> FileReport:
        return FileReport(
            filename=file.filename,
            kind=file.kind.value,
            kind_label=KIND_LABELS[file.kind],
            unit=file.unit,
            rows=len(file.rows),
            created=created,
            updated=updated,
            rejected=sorted(rejected, key=lambda r: r.row),
        )

    @staticmethod
    def _duplicate(
        seen: dict[Key, int], key: Key, row: int, unit: str, rejected: list[Rejected]
    ) -> bool:
        if key in seen:
            rejected.append(
                Rejected(
                    row=row,
                    id=key[1],
                    reason=f"Identifiant « {key[1]} » déjà présent plus haut dans le fichier "
                    f"({unit} {seen[key]}) : ignoré.",
                )
            )
            return True
        seen[key] = row
        return False

    async def _import_structures(self, file: ParsedFile) -> FileReport:
        rejected: list[Rejected] = []
        valid: list[dict[str, object]] = []
        seen: dict[Key, int] = {}
        places = await self.places()
        for row in file.rows:
            result = importer.validate_structure(row)
            if isinstance(result, Rejected):
                rejected.append(result)
            elif problem := importer.unknown_commune(places, result.code_insee):
                rejected.append(Rejected(row=row.number, id=result.id, reason=problem))
            elif not self._duplicate(
                seen, (result.source, result.id), row.number, file.unit, rejected
            ):
                valid.append(importer.structure_values(result, places))
        created = updated = 0
        for start in range(0, len(valid), _BATCH):
            batch = valid[start : start + _BATCH]
            keys: list[Key] = [(str(v["source"]), str(v["source_id"])) for v in batch]
            existing = await self.repo.structure_ids(keys)
            await self.repo.upsert_structures(batch)
            updated += len(existing)
            created += len(batch) - len(existing)
        return self._report(file, created, updated, rejected)

    async def _import_services(self, file: ParsedFile) -> FileReport:
        rejected: list[Rejected] = []
        valid = []
        seen: dict[Key, int] = {}
        places = await self.places()
        for row in file.rows:
            result = importer.validate_service(row)
            if isinstance(result, Rejected):
                rejected.append(result)
            elif problem := importer.unknown_commune(places, result.code_insee):
                rejected.append(Rejected(row=row.number, id=result.id, reason=problem))
            elif not self._duplicate(
                seen, (result.source, result.id), row.number, file.unit, rejected
            ):
                valid.append(result)
        created = updated = 0
        for start in range(0, len(valid), _BATCH):
            batch = valid[start : start + _BATCH]
            names = await self.repo.structure_names((s.source, s.structure_id) for s in batch)
            records: list[ServiceRecord] = [
                importer.service_record(s, names.get((s.source, s.structure_id)), places)
                for s in batch
            ]
            existing = await self.repo.service_ids([r.key for r in records])
            await self.repo.upsert_services(records)
            updated += len(existing)
            created += len(records) - len(existing)
        return self._report(file, created, updated, rejected)

    async def _import_trainings(self, file: ParsedFile) -> FileReport:
        rejected: list[Rejected] = []
        valid: list[TrainingCreate] = []
        seen: dict[Key, int] = {}
        for row in file.rows:
            result = importer.validate_training(row)
            if isinstance(result, Rejected):
                rejected.append(result)
            elif not self._duplicate(
                seen, ("", str(result.reference)), row.number, file.unit, rejected
            ):
                valid.append(result)
        existing = await self.repo.trainings_by_reference([str(t.reference) for t in valid])
        now = utcnow()
        places = await self.places()
        for data in valid:
            values = importer.training_values(data, places)
            training = existing.get(str(data.reference))
            if training is None:
                self.repo.add_training(Training(reference=data.reference, **values))
            else:
                for column, value in values.items():
                    setattr(training, column, value)
                training.active = True
                training.updated_at = now
        await self.session.flush()
        return self._report(file, len(valid) - len(existing), len(existing), rejected)
