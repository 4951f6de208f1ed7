"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse

from .db import ping

READY_TIMEOUT_SECONDS = 2.0
"""A probe must answer before the orchestrator's own timeout (1 s to a few seconds)."""


async def live(_: Request) -> JSONResponse:
    """200 while the process serves requests at all."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    """200 when every dependency answers, else 503 naming what failed and why."""
    checks = {"database": ping(request.state.engine), "cache": request.state.cache.ping()}
    failed: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, READY_TIMEOUT_SECONDS)
        except TimeoutError:
            failed[name] = f"no answer within {READY_TIMEOUT_SECONDS:g} s"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", and says why
            failed[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    if failed:
        return JSONResponse({"status": "unavailable", "failed": failed}, status_code=503)
    return JSONResponse({"status": "ok"})
