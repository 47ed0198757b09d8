"""The partner simulators' tests: an app ``serve``d on a free port for a block, and
``CallbackReceiver``, a stand-in for Parcours that receives the simulators' signed callbacks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from simulators.config import SimulatorConfig
from simulators.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    partner_secret,
    verify,
)
from tests.support.servers import free_port, server_config

CALLBACK_SECRET = "test-callback-secret"


@asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """``app`` on a free local port, for as long as the block lasts."""
    port = free_port()
    server = uvicorn.Server(server_config(app, port))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # Raises why the server could not start.
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class ReceivedCallback:
    body: dict[str, Any]
    signature_valid: bool


@dataclass
class CallbackReceiver:
    """Parcours's callback endpoint, reduced to what the tests look at."""

    url: str = ""
    received: list[ReceivedCallback] = field(default_factory=list)
    refused: int = 0
    fail_next: int = 0  # answer 500 to the next N deliveries

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/callbacks", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> JSONResponse:
        raw = await request.body()
        if self.fail_next:
            self.fail_next -= 1
            self.refused += 1
            return JSONResponse({"detail": "panne simulée côté Parcours"}, status_code=500)
        # Signed with the key of the partner the callback names (derived from the master).
        partner = request.headers.get(KEY_ID_HEADER, "")
        valid = partner == json.loads(raw).get("partner") and verify(
            partner_secret(CALLBACK_SECRET, partner),
            request.headers.get(TIMESTAMP_HEADER),
            raw,
            request.headers.get(SIGNATURE_HEADER),
        )
        self.received.append(ReceivedCallback(body=json.loads(raw), signature_valid=valid))
        return JSONResponse({"ok": True})

    def reset(self) -> None:
        self.received.clear()
        self.refused = self.fail_next = 0

    async def wait_for(self, count: int) -> list[ReceivedCallback]:
        async with asyncio.timeout(5):
            while len(self.received) < count:
                await asyncio.sleep(0.02)
        return list(self.received)


def simulator_config(receiver: CallbackReceiver, **overrides: Any) -> SimulatorConfig:
    settings: dict[str, Any] = {
        "callback_url": receiver.url,
        "callback_secret": CALLBACK_SECRET,
        "callback_attempts": 3,
        "callback_backoff_s": 0.05,
        "callback_timeout_s": 2.0,
        **overrides,
    }
    return SimulatorConfig(**settings)
