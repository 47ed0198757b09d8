"""The switches that make a partner misbehave, and the route class that obeys them.

Switches act on a partner's *operations* (the calls Parcours makes), never on the control
endpoints (``_state``, ``_decide``…) that tests and demos use to drive and inspect the partner.
A failure happens before the work (the partner is down); a hold or a lost answer happens after it
(the partner did the work, the client gave up waiting or got a 500), which is what idempotency
keys are for.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field


class Partner(StrEnum):
    CAF = "caf"
    FRANCE_TRAVAIL = "france_travail"
    REGION = "region"
    STRUCTURES = "structures"
    SMS = "sms"


class Switches(BaseModel):
    """How one partner behaves; ``PUT /_switches/{partner}`` replaces all of them at once."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(default=0, ge=0, le=600_000, description="Délai ajouté à chaque appel")
    fail_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Part des appels qui échouent en 500"
    )
    fail_next: int = Field(default=0, ge=0, description="Les N prochains appels échouent en 503")
    timeout_next: int = Field(
        default=0,
        ge=0,
        description="Les N prochains appels sont traités, puis la réponse est retenue hold_ms",
    )
    fail_after_next: int = Field(
        default=0,
        ge=0,
        description="Les N prochains appels sont traités, puis la réponse est perdue (500)",
    )
    hold_ms: int = Field(
        default=30_000, ge=0, le=600_000, description="Durée de la retenue (timeout_next)"
    )
    duplicate_callbacks: bool = Field(
        default=False, description="Chaque rappel est envoyé deux fois"
    )
    path_prefix: str = Field(
        default="",
        max_length=300,
        description="Les pannes ne visent que les appels dont le chemin commence ainsi (vide : "
        "tous) ; les autres appels passent, sans consommer les compteurs",
    )


class Traffic(BaseModel):
    """What a partner's operations went through since the last reset."""

    calls: int = 0
    failed: int = 0
    held: int = 0


@dataclass(frozen=True, slots=True)
class Injection:
    """The faults drawn for one call."""

    latency_s: float = 0.0
    fail_status: int | None = None
    hold_s: float = 0.0
    # Answered instead of the partner's answer, after the work is done.
    lost_answer_status: int | None = None


class Switchboard:
    """Every partner's switches and traffic. Not locked: each method runs without awaiting, so
    on one event loop a call is never interleaved with another."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._switches = {partner: Switches() for partner in Partner}
        self._traffic = {partner: Traffic() for partner in Partner}

    def get(self, partner: Partner) -> Switches:
        return self._switches[partner]

    def set(self, partner: Partner, switches: Switches) -> None:
        self._switches[partner] = switches

    def all(self) -> dict[Partner, Switches]:
        return dict(self._switches)

    def traffic(self, partner: Partner) -> Traffic:
        return self._traffic[partner].model_copy()

    def draw(self, partner: Partner, path: str = "") -> Injection:
        """The faults for the next call to ``partner`` at ``path``, consuming the one-shot
        counters. Calls outside the switches' ``path_prefix`` get the latency only: a test that
        breaks one operation is not disturbed by another journey's call to another."""
        switches = self._switches[partner]
        traffic = self._traffic[partner]
        traffic.calls += 1
        latency_s = switches.latency_ms / 1000
        if not path.startswith(switches.path_prefix):
            return Injection(latency_s=latency_s)
        if switches.fail_next:
            self._switches[partner] = switches.model_copy(
                update={"fail_next": switches.fail_next - 1}
            )
            traffic.failed += 1
            return Injection(latency_s=latency_s, fail_status=503)
        if switches.fail_rate and self._rng.random() < switches.fail_rate:
            traffic.failed += 1
            return Injection(latency_s=latency_s, fail_status=500)
        if switches.timeout_next:
            self._switches[partner] = switches.model_copy(
                update={"timeout_next": switches.timeout_next - 1}
            )
            traffic.held += 1
            return Injection(latency_s=latency_s, hold_s=switches.hold_ms / 1000)
        if switches.fail_after_next:
            self._switches[partner] = switches.model_copy(
                update={"fail_after_next": switches.fail_after_next - 1}
            )
            traffic.failed += 1
            return Injection(latency_s=latency_s, lost_answer_status=500)
        return Injection(latency_s=latency_s)


_FAILURE_DETAILS = {
    500: "Erreur interne du partenaire (panne simulée).",
    503: "Service du partenaire indisponible (panne simulée).",
}
_LOST_ANSWER_DETAIL = "Erreur interne du partenaire après traitement (réponse perdue, simulée)."

RouteHandler = Callable[[Request], Coroutine[Any, Any, Response]]


def partner_route(partner: Partner) -> type[APIRoute]:
    """A route class whose endpoints obey ``partner``'s switches."""

    class PartnerRoute(APIRoute):
        def get_route_handler(self) -> RouteHandler:
            handle = super().get_route_handler()

            async def handle_with_faults(request: Request) -> Response:
                board: Switchboard = request.app.state.partners.switches
                injection = board.draw(partner, request.url.path)
                if injection.latency_s:
                    await asyncio.sleep(injection.latency_s)
                if injection.fail_status is not None:
                    return JSONResponse(
                        status_code=injection.fail_status,
                        content={"detail": _FAILURE_DETAILS[injection.fail_status]},
                    )
                response = await handle(request)
                if injection.lost_answer_status is not None and response.status_code < 400:
                    return JSONResponse(
                        status_code=injection.lost_answer_status,
                        content={"detail": _LOST_ANSWER_DETAIL},
                    )
                if injection.hold_s:
                    # The work is done and stored; only the answer is late.
                    await asyncio.sleep(injection.hold_s)
                return response

            return handle_with_faults

    PartnerRoute.__name__ = PartnerRoute.__qualname__ = f"{partner.name.title()}Route"
    return PartnerRoute
