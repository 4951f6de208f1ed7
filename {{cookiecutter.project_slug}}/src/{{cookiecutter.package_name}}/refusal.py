"""The service's one error shape for an answer without data: `{"errors": [{"message": ...}]}`,
with `extensions.code` where a client can act on it.

Every layer answers with it: the GraphQL endpoint for a malformed request, the guard for a
body too large, a path not served or a fault, the profiler, /metrics, and the HTTP protocol
for what never reached the app. It imports nothing of the service, so all of them import it
from below.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from graphql import GraphQLFormattedError
from starlette.responses import JSONResponse


class Refusal(Exception):
    """A request answered with errors and no data; raise it, or answer its `response()`."""

    def __init__(
        self, errors: list[GraphQLFormattedError], status_code: int = 400, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(errors[0]["message"])
        self.errors = errors
        self.status_code = status_code
        self.headers = headers

    @classmethod
    def because(
        cls, message: str, status_code: int = 400, headers: Mapping[str, str] | None = None, code: str | None = None
    ) -> Refusal:
        error: GraphQLFormattedError = {"message": message}
        if code is not None:
            error["extensions"] = {"code": code}
        return cls([error], status_code, headers)

    def response(self) -> JSONResponse:
        return JSONResponse({"errors": self.errors}, self.status_code, self.headers)


def error_body(message: str, code: str | None = None) -> bytes:
    """A refusal's body, encoded, for code below the app (protocol.py) that writes bytes itself."""
    return json.dumps({"errors": Refusal.because(message, code=code).errors}).encode()
