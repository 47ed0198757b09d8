"""JSON API for people and journeys: enrol, read, and one endpoint per human action."""

from typing import Annotated

from fastapi import APIRouter, Header, Query, status
from pydantic import BaseModel

from api.deps import ApiPrincipal, JourneyServiceDep, Offset, SessionDep
from parcours.access.rules import Role
from parcours.core.errors import Forbidden
from parcours.core.temporal import UPDATE_ID_PATTERN, commit_or_undo
from parcours.journey.messages import Action, RsaRightsChangedInput, Step
from parcours.journey.rules import ACTIONS
from parcours.journey.schemas import (
    BeneficiaryCreate,
    EnrolmentRead,
    JourneyDetail,
    JourneyFilter,
    JourneyPage,
    JourneyRead,
)

router = APIRouter(prefix="/api/v1", tags=["parcours"])


@router.post(
    "/beneficiaries",
    status_code=status.HTTP_201_CREATED,
    summary="Inscrire une personne (démarre son parcours)",
)
async def enrol(
    data: BeneficiaryCreate,
    service: JourneyServiceDep,
    session: SessionDep,
    principal: ApiPrincipal,
) -> EnrolmentRead:
    enrolment = await service.enrol(data, principal)
    await commit_or_undo(session, lambda: service.abandon(enrolment.beneficiary.id))
    return enrolment


@router.get("/journeys", summary="Lister les parcours")
async def list_journeys(
    service: JourneyServiceDep,
    principal: ApiPrincipal,
    territory: str | None = None,
    step: Step | None = None,
    referent_id: str | None = None,
    stalled: bool | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Nom ou prénom")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> JourneyPage:
    f = JourneyFilter(
        territory=territory,
        step=step.value if step else None,
        referent_id=referent_id,
        stalled=stalled,
        search=q,
    )
    return await service.list(f, limit=limit, offset=offset, principal=principal)


@router.get("/journeys/{beneficiary_id}", summary="Lire un parcours et son historique")
async def read_journey(
    beneficiary_id: str, service: JourneyServiceDep, principal: ApiPrincipal
) -> JourneyDetail:
    return await service.detail(beneficiary_id, principal)


@router.post(
    "/journeys/{beneficiary_id}/rsa-rights",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Changement des droits RSA transmis par la CAF",
)
async def rsa_rights(
    beneficiary_id: str,
    signal: RsaRightsChangedInput,
    service: JourneyServiceDep,
    principal: ApiPrincipal,
) -> None:
    if principal.role is not Role.ADMIN:
        raise Forbidden("Seul le flux de la CAF (compte administrateur) transmet les droits RSA.")
    await service.change_rsa_rights(beneficiary_id, signal)


@router.post(
    "/journeys/{beneficiary_id}/actions/ask-orientation-decision",
    summary="Demander une décision d'orientation aux chargé·es d'orientation du département",
    responses={
        403: {"description": "Rôle qui décide lui-même (ou lecture seule après un transfert)"},
        409: {
            "description": "Parcours hors de l'étape Orientation, en pause, ou décision déjà "
            "demandée dans la semaine (motif en français)"
        },
        503: {"description": "Le moteur de parcours ne répond pas : réessayer plus tard"},
    },
)
async def ask_orientation_decision(
    beneficiary_id: str, service: JourneyServiceDep, principal: ApiPrincipal
) -> JourneyDetail:
    """Une demande de décision arrive dans la boîte « À traiter » des chargé·es d'orientation
    (événement ``decision_requested`` de l'historique du parcours). Une seule par semaine tant
    que l'orientation n'est pas décidée : renvoyée plus tôt, elle est refusée (409)."""
    return await service.ask_orientation_decision(beneficiary_id, principal)


def _add_action_route(name: str, model: type[Action], label: str) -> None:
    async def endpoint(
        beneficiary_id: str,
        action: BaseModel,
        service: JourneyServiceDep,
        principal: ApiPrincipal,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                pattern=UPDATE_ID_PATTERN,
                description=(
                    "Identifiant de l'action choisi par le client : renvoyée avec le même "
                    "identifiant (réponse perdue, nouvel essai), elle n'est appliquée qu'une fois."
                ),
            ),
        ] = None,
    ) -> JourneyRead:
        assert isinstance(action, Action)
        # The actor is who is signed in, never what the body claims.
        return await service.act(beneficiary_id, action, principal, action_id=idempotency_key)

    endpoint.__annotations__["action"] = model
    endpoint.__name__ = name
    router.add_api_route(
        f"/journeys/{{beneficiary_id}}/actions/{name.replace('_', '-')}",
        endpoint,
        methods=["POST"],
        summary=label,
        response_model=JourneyRead,
        responses={
            409: {"description": "Action impossible à l'étape actuelle (motif en français)"},
            503: {"description": "Le moteur de parcours ne répond pas : réessayer plus tard"},
        },
    )


for _name, (_model, _label) in ACTIONS.items():
    _add_action_route(_name, _model, _label)
