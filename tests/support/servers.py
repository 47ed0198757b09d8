"""An app served by uvicorn on a free local port: ``free_port`` and ``serve``."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn

# Idle connections are kept longer than a client keeps them (httpx: 5 s, uvicorn's default
# too): at equal times a client may send on a connection the server is closing, and the test
# gets a ``ReadError`` from a fixture that did nothing wrong.
KEEP_ALIVE_S = 60


def server_config(app: Any, port: int) -> uvicorn.Config:
    """How the tests serve an app: on 127.0.0.1:``port``, quiet, connections kept."""
    return uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=KEEP_ALIVE_S
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(app: Any, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(server_config(app, port))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return server, task
