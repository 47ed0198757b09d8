"""Every page of access: signing in and out, invitations, ProConnect, and the administration
console with its access log, in one router for the app."""

from fastapi import APIRouter

from api.pages.access import access_log, admin, sign_in

router = APIRouter(include_in_schema=False)
for part in (sign_in, admin, access_log):
    router.include_router(part.router)
