"""Requests stored by idempotency key, as a well-behaved partner keeps them.

Every request Parcours sends that creates something carries ``Idempotency-Key``. The first
request with a key does the work and stores the answer; any later request with the same key
(a retry, or a second try after a timeout when the partner had in fact done the work) gets the
stored answer back, 200, and creates nothing. The same key with a different body is refused
(422), as the IETF "Idempotency-Key" draft recommends: it is a client bug, not a retry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from simulators.errors import PartnerError, Unprocessable

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


class MissingIdempotencyKey(PartnerError):
    status_code = 400


def idempotency_key(
    key: Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER)] = None,
) -> str:
    """The request's idempotency key (a FastAPI dependency)."""
    if key is None or not key.strip():
        raise MissingIdempotencyKey(
            f"En-tête {IDEMPOTENCY_HEADER} manquant : chaque demande qui crée quelque chose chez "
            "le partenaire doit porter une clé d'idempotence."
        )
    if len(key) > MAX_KEY_LENGTH:
        raise MissingIdempotencyKey(
            f"En-tête {IDEMPOTENCY_HEADER} trop long ({len(key)} caractères, "
            f"{MAX_KEY_LENGTH} au plus)."
        )
    return key.strip()


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    answer: dict[str, Any]
    first_seen_at: datetime
    last_seen_at: datetime
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Outcome:
    answer: dict[str, Any]
    replayed: bool

    def response(self) -> JSONResponse:
        return JSONResponse(
            content=self.answer,
            headers={REPLAYED_HEADER: "true" if self.replayed else "false"},
        )


def fingerprint(payload: BaseModel) -> str:
    canonical = json.dumps(payload.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class IdempotencyLedger:
    """One operation's answers by key. ``once`` runs without awaiting, so two requests with the
    same key on one event loop can never both do the work."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def once(self, key: str, payload: BaseModel, perform: Callable[[], dict[str, Any]]) -> Outcome:
        now = datetime.now(UTC)
        digest = fingerprint(payload)
        entry = self._entries.get(key)
        if entry is not None:
            if entry.fingerprint != digest:
                raise Unprocessable(
                    f"La clé d'idempotence « {key} » a déjà servi pour une demande différente."
                )
            entry.attempts += 1
            entry.last_seen_at = now
            return Outcome(answer=entry.answer, replayed=True)
        answer = perform()
        self._entries[key] = _Entry(
            fingerprint=digest, answer=answer, first_seen_at=now, last_seen_at=now
        )
        return Outcome(answer=answer, replayed=False)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per key: how many requests arrived with it and the answer they all got."""
        return {
            key: {
                "attempts": entry.attempts,
                "answer": entry.answer,
                "first_seen_at": entry.first_seen_at.isoformat(),
                "last_seen_at": entry.last_seen_at.isoformat(),
            }
            for key, entry in self._entries.items()
        }
