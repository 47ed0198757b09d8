"""JSON API of the resource base: search services (data·inclusion) and trainings, read them,
manage trainings and import files (administrators)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, UploadFile, status

from api.deps import ResourcesDep, RowId
from parcours.core.errors import InvalidReference
from parcours.resources import geo
from parcours.resources.schemas import (
    ImportReport,
    Origin,
    ServicePage,
    ServiceRead,
    SortOrder,
    TrainingCreate,
    TrainingPage,
    TrainingRead,
    TrainingUpdate,
)
from parcours.resources.search import (
    MAX_PAGE_SIZE,
    MAX_RADIUS_KM,
    Distance,
    ServiceQuery,
    TrainingQuery,
)
from parcours.resources.service import ResourceBaseService
from parcours.resources.vocabulary import (
    CATEGORIE_LABELS,
    FRAIS_LABELS,
    PUBLIC_LABELS,
    THEMATIQUE_LABELS,
    TYPE_LABELS,
    Funder,
)

router = APIRouter(prefix="/api/v1/resources", tags=["ressources"])

MAX_IMPORT_BYTES = 100 * 1024 * 1024


def checked(values: list[str], known: dict[str, str], what: str) -> tuple[str, ...]:
    """The values of a multi-valued filter, each one of the vocabulary's."""
    unknown = [v for v in values if v not in known]
    if unknown:
        raise InvalidReference(
            f"{what} inconnue(s) : {', '.join(unknown)} (voir le référentiel data·inclusion)."
        )
    return tuple(dict.fromkeys(values))


def checked_zone(code: str | None) -> str | None:
    if code is None or not code.strip():
        return None
    code = code.strip()
    if not (len(code) == 5 or 2 <= len(code) <= 3) or not code.isalnum():
        raise InvalidReference(
            "zone_eligibilite : code de commune (5 caractères) ou de département attendu."
        )
    return code


async def origin_for(
    resources: ResourceBaseService, commune: str | None, beneficiary_id: str | None
) -> Origin | None:
    """Where distances start from: the person's commune, or the commune given."""
    if beneficiary_id:
        return await resources.person_origin(beneficiary_id)
    if commune and commune.strip():
        return await resources.commune_origin(commune)
    return None


def distance_from(origin: Origin | None, radius_km: float | None) -> Distance | None:
    if origin is None:
        if radius_km is not None:
            raise InvalidReference(
                "Un rayon demande un point de départ : une commune ou une personne."
            )
        return None
    return Distance(geo.Point(origin.lat, origin.lon), radius_km)


Commune = Annotated[
    str | None,
    Query(description="Commune de départ des distances : code INSEE, code postal ou nom"),
]
Person = Annotated[
    str | None,
    Query(description="Personne accompagnée : les distances partent de sa commune"),
]
Radius = Annotated[float | None, Query(gt=0, le=MAX_RADIUS_KM, description="Rayon en km")]
Page = Annotated[int, Query(ge=1, le=10_000)]
Size = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


@router.get(
    "/services",
    summary="Rechercher des services (data·inclusion)",
    description=(
        "Filtres combinés (ET entre filtres, OU entre valeurs d'un même filtre). `q` : texte "
        "libre, sans tenir compte des accents ni des majuscules, chaque mot requis (préfixe). "
        "`thematique` : une thématique ou une catégorie du référentiel. `zone_eligibilite` : "
        "services ouverts aux habitants de cette commune (code INSEE) ou de ce département. "
        "Tri `pertinence` (texte, puis distance) ou `distance` (avec une commune ou une "
        "personne)."
    ),
)
async def search_services(
    resources: ResourcesDep,
    q: Annotated[str | None, Query(max_length=200, description="Texte libre")] = None,
    thematique: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies it)
    type: Annotated[list[str], Query()] = [],  # noqa: B006
    public: Annotated[list[str], Query()] = [],  # noqa: B006
    frais: Annotated[list[str], Query()] = [],  # noqa: B006
    zone_eligibilite: Annotated[str | None, Query(max_length=9)] = None,
    commune: Commune = None,
    beneficiary_id: Person = None,
    radius_km: Radius = None,
    sort: SortOrder = SortOrder.RELEVANCE,
    page: Page = 1,
    size: Size = 20,
) -> ServicePage:
    origin = await origin_for(resources, commune, beneficiary_id)
    query = ServiceQuery(
        text=q,
        thematiques=checked(thematique, THEMATIQUE_LABELS | CATEGORIE_LABELS, "Thématique(s)"),
        types=checked(type, TYPE_LABELS, "Type(s) de service"),
        publics=checked(public, PUBLIC_LABELS, "Public(s)"),
        frais=checked(frais, FRAIS_LABELS, "Frais"),
        zone=checked_zone(zone_eligibilite),
        distance=distance_from(origin, radius_km),
        sort=sort,
        page=page,
        size=size,
    )
    return await resources.search_services(query, origin)


@router.get("/services/{service_id}", summary="Lire un service")
async def read_service(
    service_id: RowId,
    resources: ResourcesDep,
    commune: Commune = None,
    beneficiary_id: Person = None,
) -> ServiceRead:
    origin = await origin_for(resources, commune, beneficiary_id)
    return await resources.service(service_id, origin)


@router.get(
    "/trainings",
    summary="Rechercher des formations",
    description=(
        "Par défaut, les sessions qui ne sont pas terminées, de la plus proche dans le temps "
        "à la plus lointaine ; `sort=distance` avec une commune ou une personne."
    ),
)
async def search_trainings(
    resources: ResourcesDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    funder: Annotated[list[Funder], Query()] = [],  # noqa: B006
    formacode: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
    include_past: bool = False,
    with_places: bool = False,
    include_inactive: Annotated[bool, Query(description="Administrateurs")] = False,
    commune: Commune = None,
    beneficiary_id: Person = None,
    radius_km: Radius = None,
    sort: SortOrder = SortOrder.RELEVANCE,
    page: Page = 1,
    size: Size = 20,
) -> TrainingPage:

    origin = await origin_for(resources, commune, beneficiary_id)
    query = TrainingQuery(
        text=q,
        funders=tuple(f.value for f in funder),
        formacode=formacode,
        upcoming_on=None if include_past else date.today(),
        with_places=with_places,
        include_inactive=include_inactive,
        distance=distance_from(origin, radius_km),
        sort=sort,
        page=page,
        size=size,
    )
    return await resources.search_trainings(query, origin)


@router.get("/trainings/{training_id}", summary="Lire une formation")
async def read_training(
    training_id: str,
    resources: ResourcesDep,
    commune: Commune = None,
    beneficiary_id: Person = None,
) -> TrainingRead:
    origin = await origin_for(resources, commune, beneficiary_id)
    return await resources.training(training_id, origin)


@router.post(
    "/trainings",
    status_code=status.HTTP_201_CREATED,
    summary="Ajouter une formation (administrateurs)",
)
async def create_training(data: TrainingCreate, resources: ResourcesDep) -> TrainingRead:
    return await resources.create_training(data)


@router.put("/trainings/{training_id}", summary="Modifier une formation (administrateurs)")
async def update_training(
    training_id: str, data: TrainingUpdate, resources: ResourcesDep
) -> TrainingRead:
    return await resources.update_training(training_id, data)


@router.post(
    "/imports",
    summary="Importer des fichiers de ressources (administrateurs)",
    description=(
        "Un ou plusieurs fichiers (`files`) : structures et services data·inclusion (JSON ou "
        "CSV, schéma v1) et formations (CSV). Chaque ligne invalide est rapportée avec sa "
        "raison, les autres sont importées ; un ré-import met à jour sur place (par `id`, ou "
        "`reference` pour les formations)."
    ),
)
async def import_resources(files: list[UploadFile], resources: ResourcesDep) -> ImportReport:
    contents: list[tuple[str, bytes]] = []
    for upload in files:
        content = await upload.read(MAX_IMPORT_BYTES + 1)
        if len(content) > MAX_IMPORT_BYTES:
            raise InvalidReference(
                f"« {upload.filename} » dépasse {MAX_IMPORT_BYTES // (1024 * 1024)} Mo."
            )
        contents.append((upload.filename or "fichier", content))
    return await resources.import_files(contents)
