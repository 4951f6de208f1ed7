"""PostgreSQL through asyncpg: the connection budget is checked against the server itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .settings import Settings
from .tuning import BudgetError, Plan, allowed_connections


def connect_args(settings: Settings) -> dict[str, Any]:
    return {
        "server_settings": {
            # Shown in pg_stat_activity, so an operator can tell this service's connections apart.
            "application_name": "{{ cookiecutter.project_slug }}",
            # No statement, nor a wait for a lock, outlives the request: the server cancels it
            # and its transaction rolls back, so a write that fails says so and leaves nothing.
            "statement_timeout": str(round(settings.request_timeout_seconds * 1000)),
        },
        # asyncpg waits 60 s for a server that does not answer; a request should not.
        "timeout": 5,
    }


def configure(engine: AsyncEngine, settings: Settings) -> None:
    """Nothing per connection beyond connect_args: asyncpg's defaults suit the service."""


async def check_server(engine: AsyncEngine, plan: Plan) -> None:
    """Raise BudgetError when the whole fleet could open more connections than the
    server's own max_connections allows, less the reserve."""
    async with engine.connect() as connection:
        server_max = int((await connection.execute(text("SHOW max_connections"))).scalar_one())
    if plan.total_connections > allowed_connections(server_max):
        raise BudgetError(
            f"PostgreSQL's max_connections={server_max} allows {allowed_connections(server_max)} after the "
            f"reserve, but {plan.instances} instance(s) x {plan.workers} worker(s) x {plan.pool.per_worker} "
            f"= {plan.total_connections} may be opened: set DB_MAX_CONNECTIONS={server_max} so the pools are "
            "sized for it, or lower WEB_CONCURRENCY, DB_POOL_SIZE or DB_MAX_OVERFLOW"
        )
