"""What every resolver gets as `info.context`."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request

from ..cache import ResponseCache
from .loaders import Loaders


@dataclass(frozen=True)
class RequestContext:
    request: Request
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    """For writes; reads go through `engine` and the loaders."""
    loaders: Loaders
    cache: ResponseCache
    tags: set[str] = field(default_factory=set)
    """What this request read, for the response cache: `users`, `user:7`, `posts`."""

    @classmethod
    def for_request(cls, request: Request) -> RequestContext:
        engine: AsyncEngine = request.state.engine
        return cls(
            request=request,
            engine=engine,
            sessions=request.state.sessions,
            loaders=Loaders(engine),
            cache=request.state.cache,
            tags=request.state.cache_tags,
        )

    def read(self, *tags: str) -> None:
        """Note that the response depends on `tags`."""
        self.tags.update(tags)

    async def wrote(self, *tags: str) -> None:
        """A committed write changed `tags`: no response that read them may be served from now on."""
        await self.cache.invalidate(tags)
