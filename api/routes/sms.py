"""JSON API of the SMS channel: the provider's delivery reports (its webhook)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header

from api.deps import SessionDep, SettingsDep
from parcours.sms.schemas import DeliveryReceipt, DeliveryReport
from parcours.sms.service import (
    REPORT_SECRET_HEADER,
    check_report_secret,
    record_delivery_report,
)

router = APIRouter(prefix="/api/v1", tags=["SMS"])


def provider(
    settings: SettingsDep,
    secret: Annotated[str | None, Header(alias=REPORT_SECRET_HEADER)] = None,
) -> None:
    """The caller is the provider (the shared secret), checked before the body is read."""
    check_report_secret(settings, secret)


@router.post(
    "/sms/delivery-reports",
    summary="Compte rendu de remise d'un SMS (webhook du fournisseur)",
    description=(
        'Le fournisseur de SMS (interface de Brevo : `{"messageId": …, "event": '
        '"delivered"}`) dit si un SMS est arrivé (`delivered` : « délivré ») ou non '
        "(`hard_bounce`, `soft_bounce`, `rejected`, `blacklisted`, `skip` : « échec »). "
        f"Authentifié par le secret partagé dans l'en-tête `{REPORT_SECRET_HEADER}` "
        "(`PARCOURS_SMS_REPORT_SECRET`) : refusé (401) sans lui. Un compte rendu sur un SMS "
        "inconnu, ou qui ne change rien (copie, autre événement), répond `ignored`."
    ),
    responses={401: {"description": "Secret absent ou invalide"}},
)
async def receive_delivery_report(
    _provider: Annotated[None, Depends(provider)], report: DeliveryReport, session: SessionDep
) -> DeliveryReceipt:
    return await record_delivery_report(session, report)
