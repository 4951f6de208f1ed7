"""Ariadne's HTTP handler for the schema, with a fresh context per request."""

from __future__ import annotations

from typing import Any

from ariadne.asgi import GraphQL
from starlette.requests import Request

from ..settings import Settings
from .ariadne_schema import make_schema
from .context import RequestContext


def make_graphql(settings: Settings) -> GraphQL:
    """Queries by POST (JSON) and by GET `?query=`; no introspection or explorer in production."""

    def context_for(request: Request, _data: Any) -> RequestContext:
        return RequestContext.for_request(request)

    return GraphQL(
        make_schema(),
        context_value=context_for,
        execute_get_queries=True,
        introspection=not settings.production,
    )
