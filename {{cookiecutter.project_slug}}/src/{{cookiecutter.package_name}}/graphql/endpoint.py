"""GET and POST /graphql: one HTTP contract in front of the schema library's handler.

The endpoint reads and checks the request itself, so that a malformed one gets the
same JSON error whichever schema library renders the schema. A cached answer is
then found from the raw request (query text, variables, operation name,
credentials) before anything is parsed, so a hit costs about what a plain JSON
response does. On a miss the endpoint parses the text (once per text, in
DocumentCache), picks the operation and refuses a mutation sent by GET; the
library's handler then reuses that document through `prepared_document` and
never parses it again. Identical queries that miss together in a worker are
computed once: the others wait for the first, then read its answer from the
cache or share its 503; one that got neither (the answer had errors, or a write
made it stale before it was stored) computes its own.

A POST whose body is a JSON array is a batch: each of its operations is a request
of its own (its own context, DataLoaders and cache lookup), run concurrently with
its neighbours, except that a mutation waits for every operation before it and
holds back every one after it; the answer is the array of their answers, in order.

Whatever happens inside, the answer is JSON: a query not answered within
REQUEST_TIMEOUT_SECONDS of its operation being read, waiting for an identical one
included, is cancelled and answered 503 (a mutation is bounded by the database
instead; `_run` says why), and so is a request whose errors say the database
cannot serve now.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from .. import explorer
from ..cache import ResponseCache, auth_scope, response_key
from ..monitoring import CURRENT_OPERATION, RESPONSE_CACHE, count_operation
from ..refusal import Refusal
from ..timing import TIMINGS, Timings, spent
from .documents import DocumentCache
from .errors import RETRY_AFTER_SECONDS, UNAVAILABLE

Handler = Callable[[Request], Awaitable[Response]]
SHOWN = 60
"""Characters of a bad value an error message repeats: enough to recognise it."""


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[: SHOWN - 3]}..."


FIRST_OPERATION = re.compile(r"(?:[\s,\ufeff]|#[^\n\r]*)*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")
"""The name of a document's first operation, found in the text without parsing it."""


@dataclass(frozen=True)
class Operation:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None

    @property
    def label(self) -> str | None:
        """The operation's name for logs and metrics: operationName, or the first operation's name."""
        if self.operation_name is not None:
            return self.operation_name
        match = FIRST_OPERATION.match(self.query)
        return match[1] if match else None


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return names.get(type(value), "null")


def _json_param(name: str, text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError as error:
        raise Refusal.because(f"{name}={shown(text)} is not valid JSON: {error}") from None


async def read_request(request: Request, explorer: bool) -> Any:
    """What a request sends: an object (one operation), a list (a batch, by POST only),
    or None for the explorer page (`explorer` allows it)."""
    if request.method == "GET":
        if "query" not in request.query_params:
            if explorer and "text/html" in request.headers.get("accept", ""):
                return None
            raise Refusal.because("GET /graphql needs a `query` parameter holding a GraphQL document")
        return {
            "query": request.query_params["query"],
            "variables": _json_param("variables", request.query_params.get("variables")),
            "operationName": request.query_params.get("operationName"),
        }
    if request.method != "POST":
        raise Refusal.because(f"{request.method} is not accepted: use GET or POST", 405, {"Allow": "GET, POST"})
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != "application/json":
        raise Refusal.because(f"Content-Type {content_type or '(none)'!r} is not accepted: send application/json")
    try:
        data = await request.json()  # Starlette keeps it: the handler reads it again for free
    except ValueError as error:
        raise Refusal.because(f"the request body is not valid JSON: {error}") from None
    if not isinstance(data, dict | list):
        raise Refusal.because(
            f"the request body is a JSON {json_type(data)}: send an object with a query, or an array of them"
        )
    return data


def operation_of(data: Any, item: str | None = None) -> Operation:
    """The operation an object asks for; `item` names a batch's item, `batch[2]`, in the messages."""
    if not isinstance(data, dict):
        raise Refusal.because(f"{item or 'the operation'} is a JSON {json_type(data)}: send an object with a query")
    where = f"{item}: " if item else ""
    query, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise Refusal.because(f"{where}query={shown(query)} is not a GraphQL document: send it as a non-empty string")
    if variables is not None and not isinstance(variables, dict):
        raise Refusal.because(f"{where}variables={shown(variables)} is not valid: send a JSON object or null")
    if name is not None and not isinstance(name, str):
        raise Refusal.because(f"{where}operationName={shown(name)} is not valid: send a string or null")
    return Operation(query, variables, name)


def begin(request: Request) -> None:
    """A request's state before anything is known of it: refused, no operation, nothing read."""
    request.state.cache_tags = set()
    request.state.outcome = "refused"
    request.state.operation_name = None


def item_request(request: Request, item: Any) -> Request:
    """A request of its own for one operation of a batch: the batch's headers and the
    lifespan's state, the operation as its body, and a state of its own for the rest."""
    body = json.dumps(item).encode()
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:  # the batch's body has been read: what comes next is the client's disconnect
            return await request.receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        **request.scope,
        "headers": [(name, value) for name, value in request.scope["headers"] if name != b"content-length"],
        "state": {**request.scope.get("state", {})},
    }
    return Request(scope, receive)


def unavailable(response: Response) -> bool:
    """Whether an answer with errors holds one that errors.py marked SERVICE_UNAVAILABLE."""
    if UNAVAILABLE.encode() not in response.body:  # the common case, without decoding
        return False
    errors = json.loads(bytes(response.body)).get("errors") or []
    return any(error.get("extensions", {}).get("code") == UNAVAILABLE for error in errors)


def select_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    """The operation `name` picks, as GraphQL's GetOperation does, or a Refusal that says why none."""
    definition = get_operation_ast(document, name)
    if definition is not None:
        return definition
    names = [op.name.value for op in document.definitions if isinstance(op, OperationDefinitionNode) and op.name]
    if name is not None:
        choice = f"use one of {', '.join(map(repr, names))}" if names else "leave it out"
        raise Refusal.because(f"operationName={shown(name)} names no operation in the query: {choice}")
    if names:
        raise Refusal.because(f"the query holds {len(names)} operations: name the one to run in operationName")
    raise Refusal.because("the query holds no operation: send a query or a mutation")


def prepared_document(request: Request) -> DocumentNode:
    """The document the endpoint parsed for this request, for the library's parse step."""
    document: DocumentNode = request.state.document
    return document


def _copy(response: Response) -> Response:
    """A response of its own with `response`'s status, headers and body, for a request to add to."""
    return Response(bytes(response.body), response.status_code, dict(response.headers))


def _counted(request: Request, outcome: str, response: Response) -> Response:
    """`response`, marked and counted as a cache `outcome` (hit or miss)."""
    request.state.cache_outcome = outcome
    RESPONSE_CACHE.labels(outcome).inc()
    response.headers["X-Cache"] = outcome
    return response


_Flight = asyncio.Future[Response | None]
"""A query's miss that one request (the leader) computes in this worker for every
identical miss that arrives meanwhile: done with the 503 they all get, or with None
(look in the cache, else compute your own); cancelled when the leader was."""


class GraphQLEndpoint:
    def __init__(
        self,
        handle: Handler,
        documents: DocumentCache,
        *,
        explorer: bool,
        timeout: float,
        max_batch_size: int,
        server_timing: bool,
    ) -> None:
        self._handle = handle
        self._documents = documents
        self._explorer = explorer
        self._timeout = timeout
        self._max_batch_size = max_batch_size
        self._server_timing = server_timing
        self._flights: dict[str, _Flight] = {}

    async def handle(self, request: Request) -> Response:
        """The answer; the request's state keeps what observe.py logs and counts of it."""
        if not self._server_timing:
            return await self._dispatch(request)
        timings = Timings()
        TIMINGS.set(timings)  # this request's task, and the tasks it starts
        response = await self._dispatch(request)
        if timings.measured():  # no header of zeros on an answer that spent nothing measured
            response.headers.append("Server-Timing", timings.header())
        return response

    async def _dispatch(self, request: Request) -> Response:
        begin(request)
        try:
            data = await read_request(request, self._explorer)
            if isinstance(data, list):
                return await self._batch(request, data)
            operation = None if data is None else operation_of(data)
        except Refusal as refusal:
            return refusal.response()
        return await self._operation(request, operation)

    async def _batch(self, request: Request, items: list[Any]) -> Response:
        """The answers to a batch's operations, as one JSON array in their order.

        The status is 200 when any operation answered, else 503 when any could not be
        served now, else 400; each item holds its own data and errors.
        """
        if self._max_batch_size == 0:
            raise Refusal.because(
                "the request body is a JSON array (a batch), and batches are off (MAX_BATCH_SIZE=0): "
                "send one object with a query"
            )
        if not 1 <= len(items) <= self._max_batch_size:
            raise Refusal.because(
                f"the batch holds {len(items)} operations: send 1 to {self._max_batch_size} (MAX_BATCH_SIZE) "
                "per request"
            )
        request.state.batch = True  # observe.py: each operation is counted on its own, here
        async with asyncio.TaskGroup() as group:
            tasks: list[asyncio.Task[tuple[Response, str | None]]] = []
            for index, item in enumerate(items):
                writes = self._writes(item)
                if writes and tasks:
                    await asyncio.wait(tasks)  # a mutation starts when everything before it is done
                tasks.append(group.create_task(self._item(request, index, item)))
                if writes:
                    await asyncio.wait(tasks[-1:])  # and nothing after it starts until it is done
        answers = [task.result() for task in tasks]
        request.state.operation_name = ",".join(name or "-" for _, name in answers)
        statuses = {response.status_code for response, _ in answers}
        status = 200 if 200 in statuses else 503 if 503 in statuses else 400
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
        body = b"[" + b",".join(bytes(response.body) for response, _ in answers) + b"]"
        return Response(body, status, headers, media_type="application/json")

    def _writes(self, item: Any) -> bool:
        """Whether a batch's item is a mutation; one that cannot be told is refused when it runs."""
        if not isinstance(item, dict) or not isinstance(query := item.get("query"), str):
            return False
        name = item.get("operationName")
        try:
            definition = get_operation_ast(self._documents.parse(query), name if isinstance(name, str) else None)
        except GraphQLError:
            return False
        return definition is not None and definition.operation is OperationType.MUTATION

    async def _item(self, batch: Request, index: int, item: Any) -> tuple[Response, str | None]:
        """One operation of a batch, answered as if it had come alone, and counted as such."""
        started = time.perf_counter()
        request = item_request(batch, item)
        begin(request)
        try:
            response = await self._operation(request, operation_of(item, f"batch[{index}]"))
        except Refusal as refusal:
            response = refusal.response()
        count_operation(request.state.operation_name, request.state.outcome, time.perf_counter() - started)
        return response, request.state.operation_name

    async def _operation(self, request: Request, operation: Operation | None) -> Response:
        request.state.operation_name = operation.label if operation else None
        CURRENT_OPERATION.set(request.state.operation_name)  # this request's task only
        response = await self._respond(request, operation)
        failed = response.status_code >= 400 or b'"errors":' in response.body
        if failed and unavailable(response):
            response.status_code = 503
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        request.state.outcome = "error" if failed else "ok"
        return response

    async def _respond(self, request: Request, operation: Operation | None) -> Response:
        if operation is None:
            return await explorer.page(request)
        # One deadline for all of a query's time from here: waiting for an identical one included.
        deadline = asyncio.get_running_loop().time() + self._timeout
        cache: ResponseCache = request.state.cache
        if not cache.enabled:
            kind = self._prepare(request, operation)
            return kind if isinstance(kind, Response) else await self._run(request, kind, deadline)
        key = response_key(
            operation.query,
            operation.variables,
            operation.operation_name,
            auth_scope(request.headers.get("authorization"), request.headers.get("cookie")),
        )
        body = await cache.get(key)
        if body is not None:
            return _counted(request, "hit", Response(body, media_type="application/json"))
        kind = self._prepare(request, operation)
        if isinstance(kind, Response):
            return _counted(request, "miss", kind)
        if kind is OperationType.QUERY and cache.in_use:
            return await self._query(request, cache, key, deadline)
        if kind is OperationType.QUERY:  # the cache set aside for an outage stores nothing to share
            return _counted(request, "miss", await self._compute(request, cache, key, deadline))
        # A write is never cached, and never waits for, nor shares, another request's answer: no
        # X-Cache, and not counted as a miss, though the lookup above could not know it was one.
        return await self._run(request, kind, deadline)

    async def _query(self, request: Request, cache: ResponseCache, key: str, deadline: float) -> Response:
        """A query's answer after a miss. The first of identical misses in this worker computes it;
        the others wait for it, each until its own deadline, then read it from the cache. Only what
        every one of them would get is shared otherwise: a 503. Whatever else the leader got (errors,
        or an answer a write made stale before it was stored), each computes its own; and if the
        leader is cancelled (its client left), the first of them leads instead."""
        while (flight := self._flights.get(key)) is not None:
            try:
                async with asyncio.timeout_at(deadline) as waiting:
                    await asyncio.wait([flight])  # unlike awaiting it, never cancels the flight
            except TimeoutError:
                if not waiting.expired():
                    raise
                return _counted(request, "miss", self._timed_out())
            if flight.cancelled():
                continue
            shared = flight.result()
            if shared is not None:
                return _counted(request, "miss", _copy(shared))
            body = await cache.get(key)
            if body is not None:
                return _counted(request, "hit", Response(body, media_type="application/json"))
            return _counted(request, "miss", await self._compute(request, cache, key, deadline))
        flight = self._flights[key] = asyncio.get_running_loop().create_future()
        try:
            response = await self._compute(request, cache, key, deadline)
            flight.set_result(_copy(response) if response.status_code == 503 or unavailable(response) else None)
            return _counted(request, "miss", response)
        finally:
            del self._flights[key]
            flight.cancel()  # when it has no result: the leader was cancelled

    async def _compute(self, request: Request, cache: ResponseCache, key: str, deadline: float) -> Response:
        """A query's answer, run by the handler and stored when it is whole and without errors."""
        generation = await cache.begin()
        response = await self._run(request, OperationType.QUERY, deadline)
        if response.status_code == 200 and b'"errors":' not in response.body:
            await cache.put(key, bytes(response.body), request.state.cache_tags, generation)
        return response

    def _prepare(self, request: Request, operation: Operation) -> OperationType | Response:
        """The kind of operation to run, its document kept for the handler; or the answer that refuses it."""
        try:
            document = self._documents.parse(operation.query)
        except GraphQLError as error:
            return Refusal([error.formatted]).response()
        try:
            definition = select_operation(document, operation.operation_name)
            if request.method == "GET" and definition.operation is not OperationType.QUERY:
                kind = definition.operation.value
                raise Refusal.because(f"GET /graphql runs queries only: send a {kind} by POST", 405, {"Allow": "POST"})
        except Refusal as refusal:
            return refusal.response()
        request.state.document = document
        return definition.operation

    async def _run(self, request: Request, kind: OperationType, deadline: float) -> Response:
        """The handler's answer; a 503 when a query is not done by `deadline`, and is cancelled."""
        started = time.perf_counter()
        try:
            if kind is not OperationType.QUERY:
                # A write is never cut off here: SQLAlchemy finishes a commit it has begun whatever
                # happens to the request, so a cancelled mutation could be written after its client
                # was told it failed, and be written again when the client retries. The database
                # bounds each of its statements by the same timeout instead (db_*.py).
                return await self._handle(request)
            try:
                async with asyncio.timeout_at(deadline) as running:
                    return await self._handle(request)
            except TimeoutError:
                if not running.expired():
                    raise
                return self._timed_out()
        finally:
            spent("execute", time.perf_counter() - started)

    def _timed_out(self) -> Response:
        message = (
            f"the query did not finish within REQUEST_TIMEOUT_SECONDS={self._timeout:g}: "
            "ask for less (fewer fields, a smaller limit) or retry later"
        )
        return Refusal.because(message, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}).response()
