"""What every resolver gets as `info.context`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from .loaders import Loaders, Sessions


@dataclass(frozen=True)
class RequestContext:
    request: Request
    sessions: Sessions
    loaders: Loaders

    @classmethod
    def for_request(cls, request: Request) -> RequestContext:
        sessions: Sessions = request.state.sessions
        return cls(request=request, sessions=sessions, loaders=Loaders(sessions))
