"""The gunicorn worker: uvicorn-worker's, with a shutdown that loses no request.

A worker shuts down on SIGTERM (stop or scale-in), on SIGHUP (gunicorn replaces
every worker to reload) and when it has served `max_requests`. Two things go
wrong with the plain UvicornWorker then:

- uvicorn closes idle keep-alive connections at once. A client that had just
  sent its next request on one (a busy client always has) sees the connection
  close without an answer: a failed request it cannot tell was not processed.
  Here the worker first stops accepting, then answers every request that still
  arrives on an open connection with `Connection: close`, so the client's next
  request opens a connection to a worker that stays. Only after DRAIN_SECONDS,
  or when every connection has closed, are idle ones closed.
- uvicorn-worker does not hand gunicorn's `graceful_timeout` to uvicorn, so
  uvicorn waits for in-flight requests forever, gunicorn kills the worker when
  graceful_timeout runs out, and the lifespan's shutdown (which closes the
  database pool and the cache client) never runs. Here requests get
  graceful_timeout less LIFESPAN_RESERVE_SECONDS, and the lifespan the rest.

It also hands uvicorn what its Config has no setting for: protocol.py's bounds on
a request head's size and time and on a stalled body (MAX_HEADER_BYTES,
CLIENT_TIMEOUT_SECONDS), and it turns off uvicorn's `server: uvicorn` header, so
that answers do not tell every client which server (and so which flaws) it is.

A terminal's Ctrl-C sends SIGINT to the master and to every worker. uvicorn shuts
down cleanly on it, then raises it again so that the process dies by it, and
gunicorn's master logs each worker's death by SIGINT as a warning: here a worker
that has shut down cleanly exits as it would after any other stop.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from .protocol import BoundedHttpToolsProtocol
from .settings import load_settings

DRAIN_SECONDS = 1.0
"""How long open connections may still bring requests once shutdown begins."""
DRAIN_CHECKS = 20
LIFESPAN_RESERVE_SECONDS = 5
"""Of graceful_timeout, what is kept for closing the pools after the last request."""


class DrainingServer(Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            # uvicorn raises what it caught again as this block ends; a clean shutdown is done.
            self._captured_signals = [sig for sig in self._captured_signals if sig != signal.SIGINT]

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # accept no more: new connections go to the other workers, or wait for the new one
        # Every answer from now on closes its connection; uvicorn reads this list for each request.
        self.server_state.default_headers = [*self.server_state.default_headers, (b"connection", b"close")]
        for _ in range(DRAIN_CHECKS):  # until every client has closed, or DRAIN_SECONDS
            if not self.server_state.connections:
                break
            await asyncio.sleep(DRAIN_SECONDS / DRAIN_CHECKS)
        await super().shutdown(sockets)


class Worker(UvicornWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.timeout_graceful_shutdown = max(1, self.cfg.graceful_timeout - LIFESPAN_RESERVE_SECONDS)
        # gunicorn.conf.py has checked the settings; uvicorn reads both of these when the server starts.
        settings = load_settings()
        self.config.http = BoundedHttpToolsProtocol.limited(settings.max_header_bytes, settings.client_timeout_seconds)
        self.config.server_header = False  # the `date` header stays

    async def _serve(self) -> None:
        # UvicornWorker._serve with DrainingServer in place of uvicorn's Server.
        self.config.app = self.wsgi
        server = DrainingServer(config=self.config)
        self._install_sigquit_handler()
        # The sockets themselves, not gunicorn's wrappers of them: uvloop closes a listening socket
        # by its descriptor, then closes the object it was given, which through a wrapper closes
        # the descriptor again and logs "Error while closing socket [Errno 9]" at every stop.
        await server.serve(sockets=[listener.sock for listener in self.sockets])
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
