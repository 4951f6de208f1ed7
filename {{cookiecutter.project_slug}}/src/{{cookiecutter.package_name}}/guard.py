"""Every answer is JSON, whatever goes wrong: a body too large, a path or method
that does not exist, or a fault no other code caught.

A pure ASGI middleware, inside ObserveRequests (which then logs and counts the
answer it gives). It counts the body as it arrives, so a client cannot make a
worker hold more than MAX_BODY_BYTES, whatever Content-Length says or leaves out.
A fault is logged once with its traceback under an id, and the client gets the
id and never the traceback. A client that leaves mid-body is no fault: its access
line says 499, as nginx's would.
"""

from __future__ import annotations

import logging

from graphql import GraphQLFormattedError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .graphql.errors import INTERNAL, new_error_id
from .refusal import Refusal

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    """Raised by the counting `receive` once the body has passed MAX_BODY_BYTES."""


def too_large(max_bytes: int) -> JSONResponse:
    message = f"the request body is larger than MAX_BODY_BYTES={max_bytes}: send a smaller one"
    return Refusal.because(message, 413, {"Connection": "close"}).response()


class GuardRequests:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")  # the server has checked its syntax
        if length.isdigit() and int(length) > self.max_body_bytes:
            await too_large(self.max_body_bytes)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise BodyTooLarge
            return message

        async def noted_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, noted_send)
        except BodyTooLarge:
            if not started:
                await too_large(self.max_body_bytes)(scope, receive, send)
        except ClientDisconnect:
            # The client left (or protocol.py closed a body that stopped arriving) before the
            # request was whole: nothing failed here, and nobody is left to answer. The access
            # line records it as nginx does, 499 "client closed request".
            if not started:
                await Refusal.because("the client closed the connection before its request arrived", 499).response()(
                    scope, receive, send
                )
        except Exception as exc:  # a fault anywhere still gets a JSON answer (it is re-raised if too late)
            error_id = new_error_id()
            log.error(
                "fault %s in %s %s: %s",
                error_id,
                scope["method"],
                scope["path"],
                type(exc).__name__,
                exc_info=exc,
                extra={"error_id": error_id, "code": INTERNAL},
            )
            if started:
                raise  # too late for an answer: the server closes the connection
            message = f"internal error [error id {error_id}]"
            error: GraphQLFormattedError = {"message": message, "extensions": {"code": INTERNAL, "id": error_id}}
            await Refusal([error], 500).response()(scope, receive, send)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's 404 and 405 (and any HTTPException) as JSON rather than plain text."""
    assert isinstance(exc, HTTPException)
    message, headers = exc.detail, exc.headers
    if exc.status_code == 404:
        message = f"{request.url.path} does not exist: the service answers /graphql, /health/... and /metrics"
    elif exc.status_code == 405 and exc.headers:
        allowed = ", ".join(sorted(exc.headers["Allow"].split(", ")))  # Starlette's order varies
        message = f"{request.method} is not accepted by {request.url.path}: use {allowed}"
        headers = {**exc.headers, "Allow": allowed}
    return Refusal.because(message, exc.status_code, headers).response()
