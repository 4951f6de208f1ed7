"""uvicorn's httptools protocol, with a bound on the time and size of a request head.

uvicorn has no such bounds for httptools (`h11_max_incomplete_event_size` is h11's
alone), and gunicorn's `keepalive` times only the idle gap between requests. So a
client that sent part of a head, or trickled it a byte at a time, held its
connection forever, and one 64 MB header was read, buffered and answered: a few
such clients exhaust a worker's memory or its file descriptors. Here:

- a request head must arrive within CLIENT_TIMEOUT_SECONDS (counted from the
  connection's opening for its first request, from the head's first byte for the
  next ones), or it is answered 408 and the connection closed; a new connection
  that sends nothing at all in that time is closed without an answer;
- a head larger than MAX_HEADER_BYTES is answered 431 and the connection closed.
  httptools is never fed more of a head than that, so a worker holds at most
  MAX_HEADER_BYTES (and one read) of any head;
- a request body that stops arriving for CLIENT_TIMEOUT_SECONDS is answered 408
  (if the app has not answered yet) and the connection closed: the app sees the
  client's disconnect. Time the server itself stops reading (flow control, a
  pipelined request waiting its turn, `Expect: 100-continue` not yet granted)
  does not count against the client.

Every answer given here is JSON in the service's error shape, and so are two of
uvicorn's that were plain text: its 400 for a request httptools cannot parse, and
its 500 for a request cut off (cancelled) when a stopping worker's graceful_timeout
runs out.

worker.py hands `BoundedHttpToolsProtocol.limited(...)` to uvicorn as `Config(http=...)`.
Connections mid-head when a worker drains are closed by uvicorn's own `shutdown`
(nothing was promised to them); a stalled body no longer holds a shutdown for
graceful_timeout, only for CLIENT_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from .graphql.errors import INTERNAL
from .refusal import error_body

JSON_CONTENT_TYPE = (b"content-type", b"application/json")


class JsonErrorCycle(RequestResponseCycle):
    """A request-response cycle whose last-resort 500 is JSON, like every other answer."""

    async def send_500_response(self) -> None:
        body = error_body("internal error: the service could not finish this request", INTERNAL)
        headers = [JSON_CONTENT_TYPE, (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        await self.send({"type": "http.response.start", "status": 500, "headers": headers})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    # Slots, not the instance's dict: uvicorn's protocol already keeps 27 attributes there,
    # and past 30 CPython stops sharing the dict's keys and specializing access to them,
    # uvicorn's own included: about 0.5 µs more per request, measured.
    __slots__ = ("_deadline", "_head_begun", "_head_bytes", "_last_read", "_reading", "_reading_body", "_refusal")

    max_head_bytes = 32_768
    """MAX_HEADER_BYTES: request line and headers, CRLFs included."""
    client_timeout = 10.0
    """CLIENT_TIMEOUT_SECONDS: for a whole head, and for any pause in a body."""

    @classmethod
    def limited(cls, max_head_bytes: int, client_timeout: float) -> type[BoundedHttpToolsProtocol]:
        """This protocol with the service's limits: uvicorn builds one per connection from the class."""
        limits = {"max_head_bytes": max_head_bytes, "client_timeout": client_timeout}
        return cast(type[BoundedHttpToolsProtocol], type(cls.__name__, (cls,), limits))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        """Bytes fed to the parser since the last message ended: the head being read."""
        self._head_begun = False
        """httptools began a message whose headers are not complete yet."""
        self._reading_body = False
        self._reading = True
        """False once the connection is refused, answered for the last time or upgraded: what
        the client sends after that is not parsed."""
        self._last_read = 0.0
        self._deadline: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str] | None = None
        """An answer that waits for the answers owed to earlier (pipelined) requests."""

    # The connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A new connection owes its first head within the limit: one that never sends
        # anything would otherwise hold a file descriptor for as long as the client likes.
        self._arm(self.client_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        while data and self._reading:
            if self._reading_body:
                piece, data = data, b""
            else:
                # Never hand httptools more of a head than the limit: it buffers a header's
                # value until the value ends, however long that takes. (A head that begins
                # in the same read as the end of the request before it is counted from the
                # next read: pipelining can stretch the bound by one read.)
                room = self.max_head_bytes - self._head_bytes
                piece, data = (data[:room], data[room:]) if len(data) > room else (data, b"")
                self._head_bytes += len(piece)
            super().data_received(piece)
            if self._head_bytes >= self.max_head_bytes and not self._reading_body and self._reading:
                self._refuse(431, f"the request head is larger than MAX_HEADER_BYTES={self.max_head_bytes} bytes")
        if not self._reading:
            return
        if self._reading_body:
            self._last_read = self.loop.time()
            if self._deadline is None:
                self._arm(self.client_timeout)
        elif (self._head_begun or self._head_bytes) and self._deadline is None:
            # A head under way, or bytes before one: httptools skips the blank lines a client may
            # send before a request without beginning a message, and uvicorn's data_received has
            # cancelled its keep-alive timer all the same. An earlier deadline stands: a head's
            # time runs from its first byte, and may not be extended.
            self._arm(self.client_timeout)

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the connection is no longer HTTP's: the WebSocket protocol times it
        self._reading = False
        super().handle_websocket_upgrade()

    # httptools' callbacks (super's build the ASGI scope and start the app)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_begun = True

    def on_headers_complete(self) -> None:
        self._head_begun = False
        self._reading_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_body = False
        self._head_bytes = 0
        if self._deadline is not None:
            self._disarm()  # the next head's time starts with its first byte

    # Answers

    def shutdown(self) -> None:
        # The requests still unanswered when the worker stops are the ones uvicorn may cancel
        # at graceful_timeout and answer its plain-text 500: they get the JSON one. uvicorn
        # builds every cycle in on_headers_complete with no hook for its class, and changing
        # the class of each (rather than of these few) would slow every attribute access on
        # it. (uvicorn's 500 otherwise needs the app to raise a BaseException or return
        # without an answer, which guard.py's JSON 500 for any Exception leaves no room for.)
        for cycle in (self.cycle, *(cycle for cycle, _ in self.pipeline)):
            if cycle is not None and not cycle.response_complete:
                cycle.__class__ = JsonErrorCycle
        super().shutdown()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._refusal is not None and not self.transport.is_closing():
            self._refuse(*self._refusal)  # its turn, once nothing is owed before it

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, f"the request is not valid HTTP: {msg}")

    def _answers_owed(self) -> bool:
        # The newest cycle is the last one owed: the ones before it were answered first.
        return self.cycle is not None and not self.cycle.response_complete

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` as JSON and close; after the answers owed to earlier requests, if any."""
        self._reading = False
        if self._answers_owed():
            self._refusal = (status, message)
            self.flow.pause_reading()
            return
        self._refusal = None
        self._answer_and_close(status, message)

    def _answer_and_close(self, status: int, message: str) -> None:
        self._reading = False
        body = error_body(message)
        lines = [STATUS_LINE[status]]
        # The date (and nothing of the server); `connection: close` follows anyway.
        defaults = [(name, value) for name, value in self.server_state.default_headers if name != b"connection"]
        for name, value in [*defaults, JSON_CONTENT_TYPE, (b"content-length", str(len(body)).encode())]:
            lines.append(b"%s: %s\r\n" % (name, value))
        lines.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join([*lines, body]))
        self.transport.close()

    # The deadline: one timer per connection, for the head or the body being read

    def _arm(self, delay: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(delay, self._deadline_passed)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if not self._reading or self.transport.is_closing():
            return
        if self._reading_body:
            self._body_deadline_passed()
        elif self.flow.read_paused:
            # A pipelined head waiting behind the answers owed: the server is not reading it.
            self._arm(self.client_timeout)
        elif self._head_begun or self._head_bytes:
            limit = f"CLIENT_TIMEOUT_SECONDS={self.client_timeout:g}"
            self.logger.info("%s: request head incomplete after %s; answered 408", self._peer(), limit)
            self._refuse(408, f"the request head did not arrive within {limit}: send it at once")
        else:
            self.transport.close()  # a connection that never sent a request: nothing to answer

    def _body_deadline_passed(self) -> None:
        now = self.loop.time()
        if self.flow.read_paused or self.pipeline or (self.cycle is not None and self.cycle.waiting_for_100_continue):
            # The server is not reading this body (flow control; its request is pipelined and
            # waits for its turn; or the app has not granted `Expect: 100-continue`): the client
            # cannot be late. Its time restarts.
            self._last_read = now
        pause = now - self._last_read
        if pause < self.client_timeout:
            self._arm(self.client_timeout - pause)
            return
        limit = f"CLIENT_TIMEOUT_SECONDS={self.client_timeout:g}"
        self.logger.info("%s: request body paused longer than %s; connection closed", self._peer(), limit)
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            # The app, still waiting for the body, sees the client's disconnect and answers
            # nothing more: this is the connection's only answer.
            cycle.disconnected = True
            self._answer_and_close(408, f"the request body paused longer than {limit}")
        else:
            self.transport.close()

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
