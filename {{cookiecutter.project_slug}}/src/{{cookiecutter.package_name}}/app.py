"""The application factory: routes, and a lifespan that owns every connection pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from . import explorer
from .cache import ResponseCache
from .cache_{{ cookiecutter.cache_backend }} import open_backend
from .db import make_engine, make_sessions, verify_server
from .graphql.documents import DocumentCache
from .graphql.endpoint import GraphQLEndpoint
from .graphql.handler_{{ cookiecutter.schema_library }} import make_handler
from .guard import GuardRequests, http_error
from .health import live, readiness
from .memory import monitor_memory
from .monitoring import metrics_for
from .observe import ObserveRequests
from .settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the app; nothing connects until the lifespan starts (in each worker, after the fork)."""
    settings = settings or load_settings()
    documents = DocumentCache()
    graphql = GraphQLEndpoint(
        make_handler(settings, documents),
        documents,
        explorer=not settings.production,
        timeout=settings.request_timeout_seconds,
        max_batch_size=settings.max_batch_size,
        server_timing=settings.timing_header,
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:  # closed in reverse order, whatever fails
            engine = make_engine(settings)
            stack.push_async_callback(engine.dispose)
            await verify_server(settings, engine)
            cache = ResponseCache(await open_backend(settings), settings.cache_ttl_seconds)
            stack.push_async_callback(cache.close)
            await stack.enter_async_context(monitor_memory(settings))
            yield {"engine": engine, "sessions": make_sessions(engine), "cache": cache}

    # ObserveRequests outermost: it logs and counts whatever GuardRequests answers.
    middleware = [Middleware(ObserveRequests), Middleware(GuardRequests, max_body_bytes=settings.max_body_bytes)]
    if settings.profile:
        from .profiling import ProfileRequests  # pyinstrument: a development dependency, as PROFILE is

        middleware.append(Middleware(ProfileRequests))
    # A Route, not a Mount: POST /graphql must not bounce through a 307 to /graphql/. Starlette
    # adds HEAD to any route with GET, which the schema libraries answer 405: not offered.
    graphql_route = Route("/graphql", graphql.handle, methods=["GET", "POST"])
    graphql_route.methods = {"GET", "POST"}
    routes = [
        graphql_route,
        Route("/health/live", live),
        Route("/health/ready", readiness(settings.production)),
        Route("/metrics", metrics_for(settings.metrics_networks)),
    ]
    if not settings.production:
        routes.append(explorer.ROUTE)  # GraphiQL's files, for the page a browser's GET /graphql shows
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    # Starlette's 307 from /graphql/ to /graphql would build its `location` from the client's
    # Host header: an open redirect for anyone who can set it. A path that is not served is a 404.
    app.router.redirect_slashes = False
    return app
