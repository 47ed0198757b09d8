"""Every carnet page, in one router for the app."""

from fastapi import APIRouter

from api.pages.carnet import consents, contract, erasure, me, notes, situation, tabs

router = APIRouter(include_in_schema=False)
# The consents page first: /beneficiaires/{id}/consentements must win over the tabs' route.
for part in (consents, tabs, situation, contract, notes, me, erasure):
    router.include_router(part.router)
