"""JSON API of the carnet de bord, and of the person's own space (``/me``)."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, UploadFile, status
from fastapi.responses import Response

from api.deps import ApiPrincipal, CarnetDep, SettingsDep
from api.forms import content_disposition
from parcours.access.rules import Principal, Role
from parcours.carnet.schemas import (
    AppointmentCreate,
    AppointmentUpdate,
    CarnetRead,
    ConsentMethod,
    ConsentRecord,
    ConsentUpdate,
    ContactUpdate,
    ContractCreate,
    DiagnosisCreate,
    DocumentUpload,
    FactCreate,
    FollowUpWish,
    NoteCreate,
    Partner,
    PlanActionCreate,
    PlanActionUpdate,
    ProjectUpdate,
)
from parcours.core.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["carnet"])


Done = status.HTTP_204_NO_CONTENT


@router.get("/beneficiaries/{beneficiary_id}/carnet", summary="Lire le carnet de bord")
async def read_carnet(beneficiary_id: str, carnet: CarnetDep) -> CarnetRead:
    return await carnet.read(beneficiary_id)


@router.post(
    "/beneficiaries/{beneficiary_id}/facts",
    status_code=Done,
    summary="Ajouter un élément de situation",
)
async def add_fact(beneficiary_id: str, data: FactCreate, carnet: CarnetDep) -> None:
    await carnet.add_fact(beneficiary_id, data)


@router.post(
    "/beneficiaries/{beneficiary_id}/diagnosis",
    status_code=Done,
    summary="Enregistrer le diagnostic (fait avancer le parcours vers l'orientation)",
)
async def record_diagnosis(beneficiary_id: str, data: DiagnosisCreate, carnet: CarnetDep) -> None:
    await carnet.record_diagnosis(beneficiary_id, data)


@router.put(
    "/beneficiaries/{beneficiary_id}/project", status_code=Done, summary="Projet professionnel"
)
async def set_project(beneficiary_id: str, data: ProjectUpdate, carnet: CarnetDep) -> None:
    await carnet.set_project(beneficiary_id, data)


@router.post(
    "/beneficiaries/{beneficiary_id}/contract",
    status_code=Done,
    summary="Enregistrer le contrat d'engagement (et dans le parcours)",
)
async def sign_contract(beneficiary_id: str, data: ContractCreate, carnet: CarnetDep) -> None:
    await carnet.sign_contract(beneficiary_id, data)


@router.post(
    "/beneficiaries/{beneficiary_id}/plan-actions",
    status_code=status.HTTP_201_CREATED,
    summary="Ajouter une action au plan",
)
async def add_plan_action(
    beneficiary_id: str, data: PlanActionCreate, carnet: CarnetDep
) -> dict[str, str]:
    return {"id": await carnet.add_plan_action(beneficiary_id, data)}


@router.patch(
    "/beneficiaries/{beneficiary_id}/plan-actions/{action_id}",
    status_code=Done,
    summary="Changer le statut d'une action du plan",
)
async def set_plan_status(
    beneficiary_id: str, action_id: str, data: PlanActionUpdate, carnet: CarnetDep
) -> None:
    await carnet.set_plan_status(beneficiary_id, action_id, data)


@router.post(
    "/beneficiaries/{beneficiary_id}/notes", status_code=Done, summary="Ajouter une note partagée"
)
async def add_note(beneficiary_id: str, data: NoteCreate, carnet: CarnetDep) -> None:
    await carnet.add_note(beneficiary_id, data)


@router.post(
    "/beneficiaries/{beneficiary_id}/appointments",
    status_code=Done,
    summary="Ajouter un rendez-vous",
)
async def add_appointment(beneficiary_id: str, data: AppointmentCreate, carnet: CarnetDep) -> None:
    await carnet.add_appointment(beneficiary_id, data)


@router.patch(
    "/beneficiaries/{beneficiary_id}/appointments/{appointment_id}",
    status_code=Done,
    summary="Mettre à jour un rendez-vous",
)
async def set_appointment_status(
    beneficiary_id: str, appointment_id: str, data: AppointmentUpdate, carnet: CarnetDep
) -> None:
    await carnet.set_appointment_status(beneficiary_id, appointment_id, data)


@router.post(
    "/beneficiaries/{beneficiary_id}/documents",
    status_code=Done,
    summary="Déposer un document (PDF, PNG, JPEG)",
)
async def add_document(
    beneficiary_id: str, file: UploadFile, carnet: CarnetDep, settings: SettingsDep
) -> None:
    # Read one byte past the limit: enough to refuse without holding a huge upload.
    data = await file.read(settings.max_document_bytes + 1)
    await carnet.add_document(
        beneficiary_id, file.filename or "document", file.content_type or "", data
    )


@router.get(
    "/beneficiaries/{beneficiary_id}/documents/{document_id}", summary="Télécharger un document"
)
async def download_document(beneficiary_id: str, document_id: str, carnet: CarnetDep) -> Response:
    document = await carnet.document(beneficiary_id, document_id)
    return Response(
        document.data,
        media_type=document.content_type,
        headers={"Content-Disposition": content_disposition(document.filename)},
    )


@router.post(
    "/beneficiaries/{beneficiary_id}/consents",
    status_code=Done,
    summary="Enregistrer un consentement recueilli en entretien ou sur papier",
    description=(
        "Le ou la référent·e enregistre l'accord (ou son retrait) que la personne a donné en "
        "entretien (`in_person`) ou sur un formulaire papier signé (`paper`, formulaire joint "
        "obligatoire : il rejoint les documents du carnet). La personne, elle, donne ou retire "
        "son accord depuis son espace (`PUT /api/v1/me/consents`)."
    ),
    responses={
        422: {"description": "Le formulaire signé manque (sur papier), ou un fichier refusé"}
    },
)
async def record_consent(
    beneficiary_id: str,
    partner: Annotated[Partner, Form()],
    method: Annotated[ConsentMethod, Form(description="in_person ou paper")],
    carnet: CarnetDep,
    settings: SettingsDep,
    granted: Annotated[bool, Form(description="false : la personne retire son accord")] = True,
    file: UploadFile | None = None,
) -> None:
    document = None
    if file is not None and file.filename:
        data = await file.read(settings.max_document_bytes + 1)
        document = DocumentUpload(
            filename=file.filename, content_type=file.content_type or "", data=data
        )
    await carnet.record_consent(
        beneficiary_id,
        ConsentRecord(partner=partner, granted=granted, method=method),
        document,
    )


@router.put(
    "/beneficiaries/{beneficiary_id}/contact", status_code=Done, summary="Corriger les coordonnées"
)
async def update_contact(beneficiary_id: str, data: ContactUpdate, carnet: CarnetDep) -> None:
    await carnet.update_contact(beneficiary_id, data)


@router.get("/beneficiaries/{beneficiary_id}/access-log", summary="Journal des accès au carnet")
async def access_log(beneficiary_id: str, carnet: CarnetDep) -> list[dict[str, Any]]:
    return await carnet.access_log(beneficiary_id)


# --- The person's own space ---


# An agent's token has no space of its own here.
MY_SPACE: dict[int | str, dict[str, str]] = {
    404: {"description": "Réservé aux personnes accompagnées : ce jeton est celui d'un agent"}
}


def _me(principal: Principal) -> str:
    if principal.role is not Role.BENEFICIARY or principal.beneficiary_id is None:
        raise NotFound("Cet espace est celui des personnes accompagnées.")
    return principal.beneficiary_id


@router.get("/me/carnet", tags=["mon espace"], responses=MY_SPACE, summary="Mon carnet")
async def my_carnet(carnet: CarnetDep, principal: ApiPrincipal) -> CarnetRead:
    return await carnet.read(_me(principal))


@router.put(
    "/me/contact",
    status_code=Done,
    tags=["mon espace"],
    responses=MY_SPACE,
    summary="Corriger mes coordonnées",
)
async def my_contact(data: ContactUpdate, carnet: CarnetDep, principal: ApiPrincipal) -> None:
    await carnet.update_contact(_me(principal), data)


@router.put(
    "/me/consents",
    status_code=Done,
    tags=["mon espace"],
    responses=MY_SPACE,
    summary="Donner ou retirer mon accord de partage",
)
async def my_consent(data: ConsentUpdate, carnet: CarnetDep, principal: ApiPrincipal) -> None:
    await carnet.set_consent(_me(principal), data)


@router.put(
    "/me/follow-up",
    status_code=Done,
    tags=["mon espace"],
    responses=MY_SPACE,
    summary="Suivi dans l'emploi : oui ou non",
)
async def my_follow_up(data: FollowUpWish, carnet: CarnetDep, principal: ApiPrincipal) -> None:
    await carnet.set_follow_up_wish(_me(principal), data.wish)


@router.get(
    "/me/export",
    tags=["mon espace"],
    responses=MY_SPACE,
    summary="Télécharger toutes mes données (JSON)",
)
async def my_export(carnet: CarnetDep, principal: ApiPrincipal) -> dict[str, Any]:
    return await carnet.export(_me(principal))


@router.post(
    "/me/erasure",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["mon espace"],
    responses=MY_SPACE,
    summary="Demander l'effacement de mes données",
)
async def my_erasure(carnet: CarnetDep, principal: ApiPrincipal) -> dict[str, str]:
    await carnet.request_erasure(_me(principal))
    return {
        "detail": "Votre demande d'effacement est enregistrée ; vous serez informé·e de sa suite."
    }
