"""What every partner adapter shares: one ``httpx.AsyncClient`` per partner, the
``Idempotency-Key`` header on every call, and partner errors sorted into "try again later"
(network, timeouts, 5xx, 408, 429) and "will never work" (any other 4xx)."""

from __future__ import annotations

import logging
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from parcours.core.tracing import TRACED_PATH, instrument_http

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
PartnerName = Literal["caf", "france_travail", "region", "structures", "sms"]
PARTNER_NAMES: dict[str, str] = {
    "caf": "la CAF",
    "france_travail": "France Travail",
    "region": "la Région",
    "structures": "la structure",
    "sms": "le fournisseur de SMS",
}
_RETRYABLE_4XX = frozenset({408, 429})

Model = TypeVar("Model", bound=BaseModel)


class PartnerError(Exception):
    """A call to a partner that did not succeed; ``retryable`` says whether trying the same
    call again (with the same idempotency key) may."""

    retryable = True

    def __init__(self, partner: str, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.partner = partner
        self.message = message
        self.status_code = status_code


class PartnerUnavailable(PartnerError):
    """Down, slow, overloaded or unreachable: the call may work later."""


class PartnerRefused(PartnerError):
    """The partner refused the request itself (4xx): sending it again changes nothing."""

    retryable = False


class PartnerClient:
    """One partner's HTTP client. Create it once (it holds a connection pool), close it with
    ``aclose``."""

    def __init__(
        self,
        partner: PartnerName,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 3.0,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """``headers``: sent on every call (a provider's API key)."""
        self.partner = partner
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            headers={"User-Agent": "Parcours/1 (SPIE)", **(headers or {})},
            transport=transport,
        )
        instrument_http(self._http)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        key: str,
        body: BaseModel | None = None,
        result: type[Model],
        not_found_is_none: bool = False,
        traced_as: str | None = None,
    ) -> tuple[Model | None, bool]:
        """Send one request with ``key`` as its idempotency key and parse the answer.

        ``traced_as``: the path's pattern, for a path that carries a person's identifier
        (traces show the pattern, never the identifier).

        Returns the parsed answer (None for a 404 when ``not_found_is_none``) and whether the
        partner replayed a stored answer (the same key had already done the work).
        """
        name = PARTNER_NAMES[self.partner]
        content = None if body is None else body.model_dump_json(exclude_none=True)
        headers = {IDEMPOTENCY_HEADER: key}
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(
                method,
                path,
                content=content,
                headers=headers,
                extensions={TRACED_PATH: traced_as} if traced_as else None,
            )
        except httpx.TimeoutException as error:
            raise PartnerUnavailable(
                self.partner, f"{name} n'a pas répondu à temps ({type(error).__name__})."
            ) from error
        except httpx.TransportError as error:
            raise PartnerUnavailable(
                self.partner, f"{name} est injoignable ({type(error).__name__})."
            ) from error
        status = response.status_code
        if status == 404 and not_found_is_none:
            return None, False
        if status >= 500 or status in _RETRYABLE_4XX:
            raise PartnerUnavailable(
                self.partner, f"{name} indisponible (HTTP {status}) : {_detail(response)}", status
            )
        if status >= 400:
            raise PartnerRefused(
                self.partner,
                f"{name} refuse la demande (HTTP {status}) : {_detail(response)}",
                status,
            )
        try:
            parsed = result.model_validate_json(response.content)
        except ValidationError as error:
            # A 2xx we cannot read is the partner's bug, not ours to retry forever.
            raise PartnerRefused(
                self.partner,
                f"Réponse illisible de {name} : {error.error_count()} erreur(s).",
                status,
            ) from error
        replayed = response.headers.get(REPLAYED_HEADER, "").lower() == "true"
        if replayed:
            log.info(
                "partner replayed a stored answer", extra={"partner": self.partner, "key": key}
            )
        return parsed, replayed


def _detail(response: httpx.Response) -> str:
    try:
        payload: Any = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(payload, dict) and "detail" in payload:
        return str(payload["detail"])[:500]
    return str(payload)[:200]
