"""A lean HTTP/1.1 client for the benchmark's load: kept-alive connections, JSON in and out.

The benchmark shares two cores with what it measures, so its own cost is taken from the
platform's. httpx spent about 1.5 ms of CPU per call here, a tenth of what the API spends on
one; this client, a few hundred microseconds. The bare workflow's driver, Temporal's client,
is as lean (its core is in Rust), so both sides are driven at a similar cost.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit


class HttpError(RuntimeError):
    pass


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def close(self) -> None:
        self.writer.close()


class KeepAliveClient:
    """Up to ``connections`` kept-alive connections to one server."""

    def __init__(self, base_url: str, connections: int, headers: dict[str, str] | None = None):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.headers = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(connections)

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """The status and the decoded JSON body (None when empty)."""
        payload = json.dumps(body).encode() if body is not None else b""
        lines = [f"{method} {self.prefix}{path} HTTP/1.1"]
        for name, value in {**self.headers, **(headers or {})}.items():
            lines.append(f"{name}: {value}")
        if body is not None:
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(payload)}")
        message = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        async with self._slots:
            reused = bool(self._idle)
            connection = self._idle.pop() if reused else await self._open()
            try:
                status, content, keep = await self._exchange(connection, message)
            except (asyncio.IncompleteReadError, ConnectionError) as error:
                connection.close()
                # An idle connection the server closed (its keep-alive timeout) before it read
                # anything: the request was not received, send it again on a new one.
                if not reused or (isinstance(error, asyncio.IncompleteReadError) and error.partial):
                    raise
                connection = await self._open()
                status, content, keep = await self._exchange(connection, message)
            except BaseException:
                connection.close()
                raise
            if keep:
                self._idle.append(connection)
            else:
                connection.close()
        return status, json.loads(content) if content else None

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, message: bytes) -> tuple[int, bytes, bool]:
        connection.writer.write(message)
        head = await connection.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        fields: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
        if fields.get("transfer-encoding", "").lower() == "chunked":
            content = await self._chunks(connection.reader)
        else:
            content = await connection.reader.readexactly(int(fields.get("content-length", "0")))
        return status, content, fields.get("connection", "").lower() != "close"

    @staticmethod
    async def _chunks(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def aclose(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
