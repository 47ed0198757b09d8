"""Every carnet page, in one router for the app."""

from fastapi import APIRouter

from api.pages.carnet import contract, erasure, me, notes, situation, tabs

router = APIRouter(include_in_schema=False)
for part in (tabs, situation, contract, notes, me, erasure):
    router.include_router(part.router)
