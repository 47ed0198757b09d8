"""Security headers on every answer (issue 16, item 2).

- A strict Content-Security-Policy: scripts, styles, fonts and images from Parcours itself only
  (DSFR's assets are served from /static/dsfr), no inline script or style attribute, no
  plug-in, never framed (``frame-ancestors 'none'``, and ``X-Frame-Options`` for old browsers).
  The interactive API documentation (/docs, /redoc) loads FastAPI's assets from a CDN and is
  left without it.
- ``nosniff``, a referrer kept to Parcours' own addresses (links carry one-time tokens), no
  camera, microphone or location.
- ``Cache-Control: no-store`` on everything but the static assets: pages, exports, downloads and
  API answers carry personal data and never stay in a shared or a browser cache.
- HSTS in production (behind TLS).

A pure ASGI middleware: it adds headers to the start of the answer and nothing else.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=63072000; includeSubDomains"
# FastAPI's own documentation pages use a CDN and inline scripts.
WITHOUT_CSP = ("/docs", "/redoc")
STATIC = "/static/"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.production = production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        extra = self._headers(path)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((name, value) for name, value in extra if name not in present),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers(self, path: str) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"permissions-policy", PERMISSIONS_POLICY.encode()),
            (b"x-frame-options", b"DENY"),
        ]
        if not path.startswith(WITHOUT_CSP):
            headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
        if not path.startswith(STATIC) and path != "/favicon.ico":
            headers.append((b"cache-control", b"no-store"))
        if self.production:
            headers.append((b"strict-transport-security", HSTS.encode()))
        return headers
