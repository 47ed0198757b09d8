"""The carnet's diagnosis and contract tabs: record a diagnosis, the professional project, the
contrat d'engagement and its action plan (a diagnosis and a contract move the journey too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import CarnetPagesDep
from parcours.carnet.schemas import (
    ContractCreate,
    DiagnosisCreate,
    PlanActionCreate,
    PlanActionUpdate,
    ProjectUpdate,
)

router = APIRouter(include_in_schema=False)


@router.post("/beneficiaires/{beneficiary_id}/diagnostic")
async def record_diagnosis(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.record_diagnosis(beneficiary_id, DiagnosisCreate.model_validate(values))

    return await pages.submit(beneficiary_id, "diagnostic", "diagnostic", call)


@router.post("/beneficiaires/{beneficiary_id}/contrat/projet")
async def set_project(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.set_project(beneficiary_id, ProjectUpdate.model_validate(values))

    return await pages.submit(beneficiary_id, "contrat", "projet", call)


@router.post("/beneficiaires/{beneficiary_id}/contrat")
async def sign_contract(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.sign_contract(beneficiary_id, ContractCreate.model_validate(values))

    return await pages.submit(beneficiary_id, "contrat", "contrat", call)


@router.post("/beneficiaires/{beneficiary_id}/contrat/actions")
async def add_plan_action(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.add_plan_action(beneficiary_id, PlanActionCreate.model_validate(values))

    return await pages.submit(beneficiary_id, "contrat", "action", call)


@router.post("/beneficiaires/{beneficiary_id}/contrat/actions/{action_id}")
async def set_plan_status(beneficiary_id: str, action_id: str, pages: CarnetPagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        data = PlanActionUpdate.model_validate(values)
        await pages.carnet.set_plan_status(beneficiary_id, action_id, data)

    return await pages.submit(
        beneficiary_id, "contrat", "statut", call, failed=f"statut-{action_id}"
    )
