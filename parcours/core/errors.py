"""Errors the domain raises, each carrying its HTTP status and a French message."""

from __future__ import annotations


class ParcoursError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ParcoursError):
    status_code = 404


class Conflict(ParcoursError):
    """An action refused in the journey's current state (the message says why)."""

    status_code = 409


class InvalidReference(ParcoursError):
    """A referenced référent or structure does not exist or is out of scope."""

    status_code = 422


class Unavailable(ParcoursError):
    status_code = 503


class Forbidden(ParcoursError):
    """Signed in, allowed to see, but not to do this."""

    status_code = 403


class Unauthenticated(ParcoursError):
    status_code = 401


class TooManyAttempts(ParcoursError):
    """Too many tries in a short time (signing in): wait, then try again."""

    status_code = 429
