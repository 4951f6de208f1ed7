"""What every resolver gets as `info.context`."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from ..cache import ResponseCache
from .loaders import Loaders, Sessions


@dataclass(frozen=True)
class RequestContext:
    request: Request
    sessions: Sessions
    loaders: Loaders
    cache: ResponseCache
    tags: set[str] = field(default_factory=set)
    """What this request read, for the response cache: `users`, `user:7`, `posts`."""

    @classmethod
    def for_request(cls, request: Request) -> RequestContext:
        sessions: Sessions = request.state.sessions
        return cls(
            request=request,
            sessions=sessions,
            loaders=Loaders(sessions),
            cache=request.state.cache,
            tags=request.state.cache_tags,
        )

    def read(self, *tags: str) -> None:
        """Note that the response depends on `tags`."""
        self.tags.update(tags)

    async def wrote(self, *tags: str) -> None:
        """A committed write changed `tags`: no response that read them may be served from now on."""
        await self.cache.invalidate(tags)
