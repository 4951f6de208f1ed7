"""GraphiQL, the in-browser explorer a browser's `GET /graphql` shows in development.

The service serves the page and every file it loads itself: no CDN, so the explorer works
on an air-gapped host and under a Content-Security-Policy of 'self', which the page is sent
with. The assets are the published files of three npm releases (MIT licensed), kept
gzip-compressed as they are sent; the page loads them with Subresource Integrity hashes of
those files, so a browser refuses any other bytes. To move to other releases:

    npm pack graphiql@3.8.3 react@18.2.0 react-dom@18.2.0
    # graphiql: graphiql.min.js, graphiql.min.css; react(-dom): umd/*.production.min.js
    gzip -9n < FILE > explorer/<name>-<version>...gz
    openssl dgst -sha384 -binary FILE | base64   # the integrity in index.html

and rename them in ASSETS and index.html: a new name per version, as each is cached for a year.
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib.resources import files

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

ASSETS = {
    "react-18.2.0.production.min.js": "text/javascript",
    "react-dom-18.2.0.production.min.js": "text/javascript",
    "graphiql-3.8.3.min.js": "text/javascript",
    "graphiql-3.8.3.min.css": "text/css",
}
"""Files kept as <name>.gz, by the name the page asks for; versioned names, so cached for a year."""

START = "explorer.js"
"""The page's own script: a file, not inline, so that the policy needs no 'unsafe-inline' for scripts."""

POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
"""GraphiQL sets styles on its elements and carries its fonts as data: URLs; nothing else is needed."""


@cache
def _read(name: str) -> bytes:
    return (files(__name__) / name).read_bytes()


async def page(_: Request) -> Response:
    return HTMLResponse(_read("index.html"), headers={"Content-Security-Policy": POLICY, "Cache-Control": "no-cache"})


async def asset(request: Request) -> Response:
    """One of the page's files, compressed when the browser accepts gzip (every browser does)."""
    name = request.path_params["name"]
    if name == START:
        return Response(_read(START), media_type="text/javascript", headers={"Cache-Control": "no-cache"})
    if name not in ASSETS:
        raise HTTPException(404)
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "Vary": "Accept-Encoding"}
    body = _read(f"{name}.gz")
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
    else:
        body = gzip.decompress(body)
    return Response(body, media_type=ASSETS[name], headers=headers)


ROUTE = Route("/explorer/{name}", asset, methods=["GET"])
"""Where index.html's relative `explorer/...` addresses lead from /graphql."""
