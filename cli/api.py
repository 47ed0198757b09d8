"""``parcours api --shared-port``: several API processes on one address, without a proxy;
``parcours api --processes N`` starts and keeps N of them (``serve_processes``).

Each process binds its own listening socket with ``SO_REUSEPORT``; the kernel (Linux ≥ 3.9)
spreads incoming connections over the sockets bound to the port. A process that dies takes
only its own connections with it (those it had accepted or was about to: their clients see a
reset and send again); the others keep taking new ones, and the supervisor starts it again.
This works because an API process keeps nothing another one needs: sessions, sign-in
throttles, API tokens, the outbox and the actions' idempotency (Temporal update ids) are in
PostgreSQL or in Temporal (README, « Plusieurs workers et plusieurs API »)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path

from api.metrics import MULTIPROCESS_DIR_ENV
from parcours.core.settings import ROOT, Settings


def shared_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` that other processes may bind too (not yet
    listening: uvicorn does that)."""
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def serve_processes(settings: Settings, count: int) -> int:
    """``parcours api --processes N``: ``count`` API processes sharing the API port, as
    ``parcours dev --apis N`` runs them, for a container that has more than one core (a Python
    process serves its requests on one). One that stops is started again (``cli.supervisor``);
    their ``/metrics`` add up all of them. SIGTERM or Ctrl-C stops them all; 1 when they could
    not start (why, in French), else 0."""
    from cli.dev import api_components, refuse_taken_api_port
    from cli.supervisor import StartFailed, Supervisor, interrupt_on

    given = os.environ.get(MULTIPROCESS_DIR_ENV)
    counters = Path(given) if given else Path(tempfile.mkdtemp(prefix="parcours-api-metrics-"))
    supervisor = Supervisor(ROOT, os.environ)
    interrupt_on(signal.SIGTERM)
    try:
        refuse_taken_api_port(settings)
        for component in api_components(settings, count, counters):
            supervisor.start(component)
        print(f"{count} processus API sur {settings.api_host}:{settings.api_port}", flush=True)
        supervisor.wait()
    except StartFailed as failed:
        print(str(failed), file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        supervisor.stop()
        if not given:
            shutil.rmtree(counters, ignore_errors=True)
