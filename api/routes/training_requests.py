"""JSON API of training requests: the référents' side (request a training for a person, read
their requests, answer a funder's question, record the end of the training) and the funders'
console (their body's requests, the person's data as shared, their decisions)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from api.deps import (
    FunderConsoleDep,
    Offset,
    TrainingRequestsDep,
)
from parcours.training_requests.messages import TrainingStatus
from parcours.training_requests.schemas import (
    AGE_FILTERS,
    AnswerCreate,
    ApprovalCreate,
    FunderRequestPage,
    FunderRequestRead,
    MoreInfoCreate,
    RefusalCreate,
    TrainingEndCreate,
    TrainingRequestCreate,
    TrainingRequestPage,
    TrainingRequestRead,
)
from parcours.training_requests.service import (
    STALLED,
    FunderQuery,
)

router = APIRouter(prefix="/api/v1", tags=["demandes de formation"])


StatusFilter = Annotated[
    str | None,
    Query(
        description=(
            f"Un statut ({', '.join(s.value for s in TrainingStatus)}) ou `{STALLED}` (délai "
            "de réponse dépassé)"
        ),
        pattern=rf"^({'|'.join([*(s.value for s in TrainingStatus), STALLED])})$",
    ),
]
Limit = Annotated[int, Query(ge=1, le=200)]

REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"description": "Impossible dans l'état actuel de la demande (motif en français)"}
}


# --- Référents ---


@router.post(
    "/training-requests",
    status_code=status.HTTP_201_CREATED,
    summary="Demander une formation pour une personne (envoyée à son financeur)",
    description=(
        "La formation doit être ouverte, avoir des places, et la personne avoir donné son "
        "accord au partage avec le financeur (la Région ou France Travail). Le parcours doit "
        "être à l'étape Orientation ou Accompagnement."
    ),
    responses=REFUSED,
)
async def request_training(
    data: TrainingRequestCreate, service: TrainingRequestsDep
) -> TrainingRequestRead:
    return await service.request(data)


@router.get("/training-requests", summary="Les demandes de formation des personnes suivies")
async def list_training_requests(
    service: TrainingRequestsDep,
    status: StatusFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> TrainingRequestPage:
    return await service.list(status, limit, offset)


@router.get(
    "/beneficiaries/{beneficiary_id}/training-requests",
    summary="Les demandes de formation d'une personne",
)
async def person_training_requests(
    beneficiary_id: str, service: TrainingRequestsDep
) -> list[TrainingRequestRead]:
    return await service.for_person(beneficiary_id)


@router.get("/training-requests/{request_id}", summary="Lire une demande de formation")
async def read_training_request(
    request_id: str, service: TrainingRequestsDep
) -> TrainingRequestRead:
    return await service.read(request_id)


@router.post(
    "/training-requests/{request_id}/answer",
    summary="Répondre à la question du financeur",
    responses=REFUSED,
)
async def answer_funder(
    request_id: str, data: AnswerCreate, service: TrainingRequestsDep
) -> TrainingRequestRead:
    return await service.answer(request_id, data)


@router.post(
    "/training-requests/{request_id}/end",
    summary="Enregistrer la fin de la formation (terminée ou interrompue)",
    responses=REFUSED,
)
async def end_training(
    request_id: str, data: TrainingEndCreate, service: TrainingRequestsDep
) -> TrainingRequestRead:
    return await service.end(request_id, data)


# --- Funders ---


@router.get(
    "/funder/training-requests",
    tags=["financeurs"],
    summary="Les demandes adressées à mon organisme (Région ou France Travail)",
)
async def funder_requests(
    console: FunderConsoleDep,
    status: StatusFilter = None,
    age: Annotated[
        str | None,
        Query(
            description="Ancienneté de la demande",
            pattern=rf"^({'|'.join(AGE_FILTERS)})$",
        ),
    ] = None,
    territory: Annotated[str | None, Query(pattern=r"^(\d{2,3}|2[AB])$")] = None,
    limit: Limit = 25,
    offset: Offset = 0,
) -> FunderRequestPage:
    return await console.list(FunderQuery(status, age, territory), limit, offset)


@router.get(
    "/funder/training-requests/{request_id}",
    tags=["financeurs"],
    summary="Lire une demande (les informations de la personne si elle les partage)",
)
async def funder_request(request_id: str, console: FunderConsoleDep) -> FunderRequestRead:
    return await console.read(request_id)


@router.post(
    "/funder/training-requests/{request_id}/more-info",
    tags=["financeurs"],
    summary="Demander des informations au référent",
    responses=REFUSED,
)
async def ask_more_info(
    request_id: str, data: MoreInfoCreate, console: FunderConsoleDep
) -> FunderRequestRead:
    return await console.ask_more_info(request_id, data)


@router.post(
    "/funder/training-requests/{request_id}/approval",
    tags=["financeurs"],
    summary="Accorder la formation (date de début, montant, référence)",
    responses=REFUSED,
)
async def approve(
    request_id: str, data: ApprovalCreate, console: FunderConsoleDep
) -> FunderRequestRead:
    return await console.approve(request_id, data)


@router.post(
    "/funder/training-requests/{request_id}/refusal",
    tags=["financeurs"],
    summary="Refuser la formation (motif obligatoire)",
    responses=REFUSED,
)
async def refuse(
    request_id: str, data: RefusalCreate, console: FunderConsoleDep
) -> FunderRequestRead:
    return await console.refuse(request_id, data)
