"""Ariadne's HTTP handler for the schema, with a fresh context per request."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from ariadne.asgi import GraphQL
from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, TypeInfo
from starlette.requests import Request

from ..settings import Settings
from .context import RequestContext
from .documents import DocumentCache, service_rules
from .endpoint import Handler, prepared_document
from .errors import format_error
from .execution import FastExecutor
from .schema_ariadne import make_schema

UNLOGGED = logging.Logger(f"{__name__}.unlogged", level=logging.CRITICAL + 1)
"""Where Ariadne's own error lines go: nowhere. It logs every error, bad input included, with a
traceback; errors.format_error logs the faults, once each, with the id the client gets. A logger
outside logging's tree, so that no logging configuration can turn it back on."""


def make_handler(settings: Settings, documents: DocumentCache) -> Handler:
    """Queries by POST (JSON) and by GET `?query=`, each text validated once;
    no introspection, and no suggestions of field names, in production."""

    def context_for(request: Request, _data: Any) -> RequestContext:
        return RequestContext.for_request(request)

    def parse(context: Any, _data: dict[str, Any]) -> DocumentNode:
        return prepared_document(context.request)  # context is the RequestContext of context_for

    def validate(
        schema: GraphQLSchema,
        document_ast: DocumentNode,
        rules: Collection[type[ASTValidationRule]] | None = None,
        max_errors: int | None = None,
        type_info: TypeInfo | None = None,
    ) -> list[GraphQLError]:
        return documents.validate(schema, document_ast, rules, max_errors, hide_suggestions=settings.production)

    graphql = GraphQL(
        make_schema(),
        context_value=context_for,
        query_parser=parse,
        query_validator=validate,
        execute_get_queries=True,
        execution_context_class=FastExecutor,
        # Introspection is refused by graphql-core's rule, as with every schema library; Ariadne's
        # own switch would answer with other errors. The endpoint serves the explorer (explorer/).
        introspection=True,
        validation_rules=list(service_rules(settings)),
        error_formatter=lambda error, _debug: dict(format_error(error, settings.production)),
        logger=UNLOGGED,
    )
    return graphql.handle_request
