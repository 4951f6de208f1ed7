"""Ariadne's HTTP handler for the schema, with a fresh context per request."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ariadne.asgi import GraphQL
from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, TypeInfo
from starlette.requests import Request

from ..settings import Settings
from .ariadne_schema import make_schema
from .context import RequestContext
from .documents import DocumentCache


def make_graphql(settings: Settings, documents: DocumentCache) -> GraphQL:
    """Queries by POST (JSON) and by GET `?query=`, each text parsed and validated once;
    no introspection or explorer in production."""

    def context_for(request: Request, _data: Any) -> RequestContext:
        return RequestContext.for_request(request)

    def parse(_context: Any, data: dict[str, Any]) -> DocumentNode:
        return documents.parse(data["query"])

    def validate(
        schema: GraphQLSchema,
        document_ast: DocumentNode,
        rules: Collection[type[ASTValidationRule]] | None = None,
        max_errors: int | None = None,
        type_info: TypeInfo | None = None,
    ) -> list[GraphQLError]:
        return documents.validate(schema, document_ast, rules, max_errors)

    return GraphQL(
        make_schema(),
        context_value=context_for,
        query_parser=parse,
        query_validator=validate,
        execute_get_queries=True,
        introspection=not settings.production,
    )
