"""POST and GET /graphql: the response cache in front of the schema library's handler.

A cached answer is found from the raw request (query text, variables, operation
name, credentials) before anything is parsed, so a hit costs about what a plain
JSON response does. Concurrent misses for one key in a worker compute it once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import OperationType, get_operation_ast
from starlette.requests import Request
from starlette.responses import Response

from ..cache import ResponseCache, auth_scope, response_key
from ..monitoring import RESPONSE_CACHE
from .documents import DocumentCache

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    query: str
    variables: Any
    operation_name: str | None


async def read_operation(request: Request) -> Operation | None:
    """The operation a request asks for, or None when it is malformed (the handler says why)."""
    if request.method == "GET":
        data: Any = dict(request.query_params)
        try:
            data["variables"] = json.loads(data.get("variables") or "null")
        except ValueError:
            return None
    elif request.method == "POST" and request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = await request.json()  # Starlette keeps it: the handler reads it again for free
        except ValueError:
            return None
    else:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("query"), str):
        return None
    name = data.get("operationName")
    return Operation(data["query"], data.get("variables"), name if isinstance(name, str) else None)


@dataclass
class _Flight:
    """The misses for one key that are under way in this worker."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    requests: int = 0


class CachedEndpoint:
    def __init__(self, handle: Handler, documents: DocumentCache) -> None:
        self._handle = handle
        self._documents = documents
        self._flights: dict[str, _Flight] = {}

    async def handle(self, request: Request) -> Response:
        request.state.cache_tags = set()
        cache: ResponseCache = request.state.cache
        operation = await read_operation(request) if cache.enabled else None
        if operation is None:
            return await self._handle(request)
        key = response_key(
            operation.query,
            operation.variables,
            operation.operation_name,
            auth_scope(request.headers.get("authorization"), request.headers.get("cookie")),
        )
        flight = self._flights.setdefault(key, _Flight())
        flight.requests += 1
        try:
            # The first miss computes; the others wait here, then find its answer cached.
            async with flight.lock:
                return await self._answer(request, cache, key, operation)
        finally:
            flight.requests -= 1
            if flight.requests == 0:
                del self._flights[key]

    async def _answer(self, request: Request, cache: ResponseCache, key: str, operation: Operation) -> Response:
        body = await cache.get(key)
        if body is not None:
            RESPONSE_CACHE.labels("hit").inc()
            return Response(body, media_type="application/json", headers={"X-Cache": "hit"})
        RESPONSE_CACHE.labels("miss").inc()
        generation = await cache.begin()
        response = await self._handle(request)
        if response.status_code == 200 and b'"errors":' not in response.body and self._is_query(operation):
            await cache.put(key, bytes(response.body), request.state.cache_tags, generation)
        response.headers["X-Cache"] = "miss"
        return response

    def _is_query(self, operation: Operation) -> bool:
        """Only queries are cached: never mutations or subscriptions."""
        document = self._documents.peek(operation.query)  # the handler has just parsed it
        if document is None:
            return False
        definition = get_operation_ast(document, operation.operation_name)
        return definition is not None and definition.operation == OperationType.QUERY
