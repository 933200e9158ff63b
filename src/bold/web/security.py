"""What every response carries and every request is held to, before any route runs: security headers, and a
limit on the size of what may be sent (an upload bigger than the limit is refused as it streams in, not after).

Plain ASGI middleware, so a streamed body is counted without being read twice.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
# A report BOLD wrote as one self-contained HTML file (inline styles, charts as inline SVG, no script), served as
# it is: its styles may be inline, nothing else may load or run, and it is sandboxed (no script, no form, no
# same-origin access even if something slipped in). A route sets it with ``headers=REPORT_HEADERS``.
REPORT_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
REPORT_HEADERS = {"content-security-policy": REPORT_CSP}


class SecurityHeaders:
    """Adds ``HEADERS`` to every response (a header the route set itself is kept). Nothing but static files is
    cached (``no-store``), and over TLS browsers are told to use it from now on (HSTS)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        tls = scope.get("scheme") == "https"
        static = scope["path"].startswith("/static/")

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                own = {k.decode().lower() for k, _ in headers}  # a route's own CSP (a report's) is kept
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items() if k not in own]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                if tls:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class SizeLimit:
    """Refuses a request body larger than ``limit`` bytes with 413, whether or not it says its length."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:  # raised in the route's reading of the body: the app's error page, 413
                    raise HTTPException(413, self.message)
            return message

        await self.app(scope, counted, send)

    @property
    def message(self) -> str:
        return f"the upload is larger than this server accepts ({self.limit // 1_000_000} MB)"

    async def _refuse(self, send):
        text = self.message.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(text)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": text})
