"""What a client sees of a GraphQL error, and what the log keeps of it.

An error the service raises on purpose (a GraphQLError: bad input, a limit, a
validation rule) reaches the client as it is: its message is written for them.
Any other exception in a resolver is a fault. It is logged once, with its
traceback, under a fresh id; the client gets that id, so a report can be matched
to its log line, and never the traceback. In production its message is
replaced, since it may name hosts, tables or code; in development it is kept.

A fault that says the database cannot serve now (it does not answer, or no
pooled connection came free within DB_POOL_TIMEOUT) is SERVICE_UNAVAILABLE:
the endpoint answers it with 503 and Retry-After, which clients and load
balancers know to retry. It is logged as one warning line with its id, no traceback.
"""

from __future__ import annotations

import logging
import secrets

from graphql import GraphQLError, GraphQLFormattedError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)

UNAVAILABLE = "SERVICE_UNAVAILABLE"
INTERNAL = "INTERNAL_SERVER_ERROR"
TOO_COMPLEX = "QUERY_TOO_COMPLEX"
"""An operation over one of the limits on what a query may ask (complexity.py, limits.py)."""
RETRY_AFTER_SECONDS = 2
"""What a 503 asks clients to wait: long enough for a pool to free a connection or a server to restart."""


STATEMENT_TIMEOUT = "57014"
UNAVAILABLE_SQLSTATES = ("08", "53", "57", "55P03")
"""SQLSTATE classes and codes that mean "not now": connection exceptions, insufficient resources
(too many connections), operator intervention (cancelled, shutting down, starting), lock not available."""


def new_error_id() -> str:
    return secrets.token_hex(6)


def unavailable_reason(error: BaseException) -> str | None:
    """Why the database cannot serve this request now, or None when `error` is not about that."""
    if isinstance(error, PoolTimeout):
        return "no database connection came free within DB_POOL_TIMEOUT: the service is busy"
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None) or ""
    if sqlstate == STATEMENT_TIMEOUT:
        return "the database did not finish within REQUEST_TIMEOUT_SECONDS and cancelled the statement"
    if sqlstate.startswith(UNAVAILABLE_SQLSTATES):
        return "the database is unavailable"
    if isinstance(error, OSError | OperationalError | InterfaceError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    ):  # refused, lost, shutting down, locked, out of connections...
        return "the database is unavailable"
    return None


def format_error(error: GraphQLError, production: bool) -> GraphQLFormattedError:
    """`error` as the client sees it; a fault is logged here, once, with the id the client gets."""
    fault = error.original_error
    if fault is None or isinstance(fault, GraphQLError):
        return error.formatted
    error_id = new_error_id()
    reason = unavailable_reason(fault)
    code = INTERNAL if reason is None else UNAVAILABLE
    detail = str(fault).splitlines()[0] if str(fault) else type(fault).__name__
    where = ".".join(map(str, error.path or ())) or "-"
    extra = {"error_id": error_id, "code": code}
    if reason is None:
        log.error("fault %s at %s: %s: %s", error_id, where, type(fault).__name__, detail, exc_info=fault, extra=extra)
    else:  # the database, not this code: one line each, no traceback to flood the log during an outage
        log.warning("unavailable %s at %s: %s: %s", error_id, where, type(fault).__name__, detail, extra=extra)
    if reason is not None:
        message = f"{reason}; retry in {RETRY_AFTER_SECONDS} s"
    else:
        message = "internal error: the service failed to answer this field"
    if not production:
        message = f"{message} ({type(fault).__name__}: {detail})"
    formatted = error.formatted
    formatted["message"] = f"{message} [error id {error_id}]"
    formatted["extensions"] = {"code": code, "id": error_id}
    return formatted
