"""PostgreSQL through asyncpg, directly or through PgBouncer in transaction pooling
(DB_PGBOUNCER): the connection budget is checked against the server itself."""

from __future__ import annotations

import logging
from typing import Any
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .settings import Settings
from .tuning import BudgetError, allowed_connections

log = logging.getLogger(__name__)


def connect_args(settings: Settings) -> dict[str, Any]:
    server_settings = {
        # Shown in pg_stat_activity, so an operator can tell this service's connections apart.
        "application_name": "{{ cookiecutter.project_slug }}",
    }
    args: dict[str, Any] = {
        "server_settings": server_settings,
        # asyncpg waits 60 s for a server that does not answer; a request should not.
        "timeout": 5,
    }
    if settings.db_pgbouncer:
        # PgBouncer in transaction pooling hands each transaction whichever server connection
        # is free, so a statement prepared under one name may meet another: prepare each
        # statement under a name of its own and keep none (SQLAlchemy's recipe for PgBouncer).
        # PgBouncer refuses other startup parameters: statement_timeout is set on the role.
        args.update(
            statement_cache_size=0,
            prepared_statement_cache_size=0,
            prepared_statement_name_func=lambda: f"__asyncpg_{uuid4()}__",
        )
    else:
        # No statement, nor a wait for a lock, outlives the request: the server cancels it
        # and its transaction rolls back, so a write that fails says so and leaves nothing.
        server_settings["statement_timeout"] = str(round(settings.request_timeout_seconds * 1000))
    return args


def configure(engine: AsyncEngine, settings: Settings) -> None:
    """Nothing per connection beyond connect_args: asyncpg's defaults suit the service."""


async def check_server(engine: AsyncEngine, settings: Settings) -> None:
    """Raise BudgetError when the whole fleet could open more connections than the
    server's own max_connections allows, less the reserve.

    Behind PgBouncer the fleet's connections are PgBouncer's clients, and the server's are
    PgBouncer's to bound (default_pool_size, max_db_connections): DB_MAX_CONNECTIONS is then
    PgBouncer's max_client_conn, which it does not report to clients.
    """
    if settings.db_pgbouncer:
        log.info("DB_PGBOUNCER is on: PgBouncer bounds the server's connections; DB_MAX_CONNECTIONS is its clients'")
        return
    plan = settings.plan
    async with engine.connect() as connection:
        server_max = int((await connection.execute(text("SHOW max_connections"))).scalar_one())
    if plan.total_connections > allowed_connections(server_max):
        raise BudgetError(
            f"PostgreSQL's max_connections={server_max} allows {allowed_connections(server_max)} after the "
            f"reserve, but {plan.instances} instance(s) x {plan.workers} worker(s) x {plan.pool.per_worker} "
            f"= {plan.total_connections} may be opened: set DB_MAX_CONNECTIONS={server_max} so the pools are "
            "sized for it, or lower WEB_CONCURRENCY, DB_POOL_SIZE or DB_MAX_OVERFLOW"
        )
