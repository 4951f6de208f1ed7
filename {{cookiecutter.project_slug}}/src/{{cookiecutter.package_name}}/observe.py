"""One access log line and the request metrics for every HTTP request.

A pure ASGI middleware, so that it times the whole answer, body included. The
GraphQL endpoint leaves the operation name, the cache outcome and the outcome
in the request's state; this reads them when the answer has gone. (A batch's
line names its operations; the endpoint counts each of them itself.)
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .monitoring import count_operation

access = logging.getLogger(__name__.rpartition(".")[0] + ".access")
QUIET_PATHS = ("/health/", "/metrics")
"""Probes and scrapes: logged at DEBUG, since they arrive every few seconds."""


class ObserveRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        path: str = scope["path"]
        state: dict[str, Any] = scope.get("state", {})
        operation = state.get("operation_name")
        cache = state.get("cache_outcome")
        fields = {
            "method": scope["method"],
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "operation": operation,
            "cache": cache,
        }
        if path == "/graphql" and not state.get("batch"):  # a batch's operations are counted one by one
            count_operation(operation, state.get("outcome", "error"), seconds)
        level = logging.DEBUG if path.startswith(QUIET_PATHS) else logging.INFO
        access.log(
            level,
            "%s %s %d %.1f ms operation=%s cache=%s",
            scope["method"],
            path,
            status,
            seconds * 1000,
            operation or "-",
            cache or "-",
            extra=fields,
        )
