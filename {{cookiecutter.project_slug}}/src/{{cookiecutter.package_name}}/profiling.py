"""PROFILE=1 (development only): one request profiled on demand, with pyinstrument.

Add `profile=html` or `profile=text` to the URL of any request, a POST included:

    curl -s 'http://127.0.0.1:8000/graphql?profile=text' -H 'content-type: application/json' \\
        -d '{"query": "{ users(limit: 100) { name posts { title } } }"}'

The request runs as usual, and the answer is pyinstrument's report of it instead:
an HTML page to open in a browser, or the call tree as text. pyinstrument samples
the request's own task (`async_mode="enabled"`), so what other requests do meanwhile
is not counted, and time spent awaiting the database shows as `[await]`. Profiled
requests take turns. The status the request would have had is in the
`X-Profiled-Status` header.

For where many requests spend their time, across every worker, use `make profile`
(py-spy) instead; settings.py refuses PROFILE=1 in production.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from pyinstrument import Profiler
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .refusal import Refusal

INTERVAL_SECONDS = 0.0001
"""Sampling interval: a request takes milliseconds, pyinstrument's default (1 ms) would see a few samples."""
FORMATS = ("html", "text")


class ProfileRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # One profiled request at a time: pyinstrument's profilers share the thread's
        # sampling hook, and overlapping ones slow each other down many times over.
        self._turn = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        asked = parse_qs(scope["query_string"].decode("latin-1")).get("profile") if scope["type"] == "http" else None
        if not asked:
            await self.app(scope, receive, send)
            return
        kind = asked[-1]
        if kind not in FORMATS:
            refusal = Refusal.because(f"profile={kind!r} is not valid: use profile=html or profile=text")
            await refusal.response()(scope, receive, send)
            return
        status = 500

        async def keep_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        async with self._turn:
            profiler = Profiler(interval=INTERVAL_SECONDS, async_mode="enabled")
            profiler.start()
            try:
                await self.app(scope, receive, keep_status)
            finally:
                profiler.stop()
        headers = {"X-Profiled-Status": str(status)}
        report: Response
        if kind == "html":
            report = HTMLResponse(profiler.output_html(), headers=headers)
        else:
            report = PlainTextResponse(profiler.output_text(unicode=True), headers=headers)
        await report(scope, receive, send)
