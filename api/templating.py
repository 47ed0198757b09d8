"""The Jinja2 environment shared by every page."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from parcours.core.errors import ParcoursError
from parcours.core.settings import ROOT

templates = Jinja2Templates(directory=ROOT / "templates")


def _options(items: Any, key: str, label: str) -> list[tuple[Any, Any]]:
    return [(getattr(i, key), getattr(i, label)) for i in items]


def _principal(request: Any) -> Any:
    return getattr(request.state, "principal", None)


def _csrf(request: Any) -> str:
    return getattr(request.state, "csrf", None) or ""


def _new_action_id() -> str:
    return uuid.uuid4().hex


templates.env.globals.update(
    options=_options, principal_of=_principal, csrf_of=_csrf, new_action_id=_new_action_id
)


def error_page(request: Request, error: ParcoursError) -> Response:
    return templates.TemplateResponse(
        request, "error.html", {"message": error.message}, status_code=error.status_code
    )
