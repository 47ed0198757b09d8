"""Every page of access: signing in and out, invitations, ProConnect, and the administration
console, in one router for the app."""

from fastapi import APIRouter

from api.pages.access import admin, sign_in

router = APIRouter(include_in_schema=False)
for part in (sign_in, admin):
    router.include_router(part.router)
