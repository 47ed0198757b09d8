"""What a partner refuses, with the HTTP status it answers and a message in French."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse


class PartnerError(Exception):
    status_code = 400

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        # The partner's own error code, for partners whose APIs answer one (France Travail).
        self.code = code


class Forbidden(PartnerError):
    status_code = 403


class NotFound(PartnerError):
    status_code = 404


class Conflict(PartnerError):
    status_code = 409


class Unprocessable(PartnerError):
    status_code = 422


async def render_partner_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PartnerError)
    content = {"detail": error.detail}
    if error.code is not None:
        content["code"] = error.code
    return JSONResponse(status_code=error.status_code, content=content)
