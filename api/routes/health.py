"""Liveness of the parts the API needs: its database and Temporal."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["exploitation"])


@router.get(
    "/healthz",
    summary="État du service (base de données et Temporal)",
    responses={
        503: {"description": "La base de données ou Temporal ne répond pas : le détail dit lequel"}
    },
)
async def healthz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        async with request.app.state.sessions() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=3)
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"erreur : {type(error).__name__}"
    try:
        await asyncio.wait_for(request.app.state.temporal.service_client.check_health(), timeout=3)
        checks["temporal"] = "ok"
    except Exception as error:
        checks["temporal"] = f"erreur : {type(error).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503
    )
