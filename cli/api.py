"""``parcours api --shared-port``: several API processes on one address, without a proxy.

Each process binds its own listening socket with ``SO_REUSEPORT``; the kernel (Linux ≥ 3.9)
spreads incoming connections over the sockets bound to the port. A process that dies takes
only its own connections with it (those it had accepted or was about to: their clients see a
reset and send again); the others keep taking new ones, and the supervisor starts it again.
This works because an API process keeps nothing another one needs: sessions, sign-in
throttles, API tokens, the outbox and the actions' idempotency (Temporal update ids) are in
PostgreSQL or in Temporal (README, « Plusieurs workers et plusieurs API »)."""

from __future__ import annotations

import socket


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
