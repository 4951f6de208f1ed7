"""Liveness and readiness for load balancers and orchestrators.

Readiness means "can serve". It is 503 only for what no request can be answered
without: the database. The response cache is optional (while it fails, answers are
computed uncached), so its outage is reported in the body and in /metrics
(`response_cache_up`) while the instance stays in the load balancer: an outage of a
cache server shared by every pod must not take them all out of a Service at once.

    200 {"status": "ok"}
    200 {"status": "degraded", "degraded": {"cache": "unavailable: ..."}}
    503 {"status": "unavailable", "failed": {"database": "..."}, "degraded": {...}}

In production the body says what fails, not why: driver messages name hosts and ports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .cache import ResponseCache
from .db import ping
from .logs import describe

READY_TIMEOUT_SECONDS = 2.0
"""A probe must answer before the orchestrator's own timeout (1 s to a few seconds)."""


async def live(_: Request) -> JSONResponse:
    """200 while the process serves requests at all."""
    return JSONResponse({"status": "ok"})


async def _failure(check: Awaitable[None], production: bool) -> str | None:
    """Why `check` failed, or None when it answered in time."""
    try:
        await asyncio.wait_for(check, READY_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"no answer within {READY_TIMEOUT_SECONDS:g} s"
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot serve", and says why
        return "unavailable" if production else describe(exc)
    return None


def readiness(production: bool) -> Callable[[Request], Awaitable[JSONResponse]]:
    """GET /health/ready, with details in development only."""

    async def ready(request: Request) -> JSONResponse:
        cache: ResponseCache = request.state.cache
        # Concurrently: a probe waits for the slower check, not for both in turn.
        database, cache_down = await asyncio.gather(_failure(ping(request.state.engine), production), cache.check())
        failed = {} if database is None else {"database": database}
        degraded = {}
        if cache_down is not None:
            degraded["cache"] = "unavailable" if production else f"unavailable: {cache_down}"
        body: dict[str, Any] = {"status": "unavailable" if failed else "degraded" if degraded else "ok"}
        if failed:
            body["failed"] = failed
        if degraded:
            body["degraded"] = degraded
        return JSONResponse(body, status_code=503 if failed else 200)

    return ready
