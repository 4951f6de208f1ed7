"""Strawberry's HTTP handler for the schema, with a fresh context per request.

Strawberry's view is adapted to the HTTP contract the service keeps whatever its
schema library: the endpoint's parsed document and the shared validation cache
instead of Strawberry's own steps, no `data` entry when execution never began
(as the GraphQL spec says), 400 when there is no data, JSON errors only, and
faults logged and masked by errors.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError, GraphQLField
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry import Schema
from strawberry.asgi import GraphQL
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError

from ..refusal import Refusal
from ..settings import Settings
from .context import RequestContext
from .documents import DocumentCache, service_rules
from .endpoint import Handler, prepared_document
from .errors import format_error
from .execution import FastExecutor
from .schema_strawberry import Mutation, Query

STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)
"""The rules Strawberry adds to the spec's when it validates a document itself."""


class StrawberryFastExecutor(FastExecutor, StrawberryGraphQLCoreExecutionContext):
    """execution.py's short path for Strawberry's fields without a resolver of their own."""

    def plain_attribute(self, field: GraphQLField, name: str) -> str | None:
        if not getattr(field.resolve, "_is_default", False):  # how Strawberry marks a plain attribute's resolver
            return None
        definition: Any = field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
        return str(definition.python_name)


class SharedDocuments(SchemaExtension):
    """Parse and validation through the endpoint's document and the shared DocumentCache."""

    def __init__(self, documents: DocumentCache, hide_suggestions: bool) -> None:
        super().__init__()
        self.documents = documents
        self.hide_suggestions = hide_suggestions

    def on_parse(self) -> Iterator[None]:
        context: RequestContext = self.execution_context.context
        self.execution_context.graphql_document = prepared_document(context.request)
        yield

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        assert execution.graphql_document is not None  # on_parse has set it
        rules = (*execution.validation_rules, *STRAWBERRY_RULES)
        execution.pre_execution_errors = self.documents.validate(
            execution.schema._schema, execution.graphql_document, rules, hide_suggestions=self.hide_suggestions
        )
        yield


class StrawberryGraphQL(GraphQL[RequestContext, None]):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> RequestContext:
        assert isinstance(request, Request)  # no subscriptions: HTTP only
        return RequestContext.for_request(request)

    def __init__(self, schema: Schema, settings: Settings) -> None:
        super().__init__(schema, graphql_ide=None)  # the endpoint serves the explorer (explorer/)
        self.production = settings.production

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        answer = process_result(result)
        if isinstance(result, PreExecutionError):
            answer.pop("data", None)
        if result.errors:
            answer["errors"] = [format_error(error, self.production) for error in result.errors]
        return answer

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if isinstance(response_data, dict) and response_data.get("data") is None:
            response.status_code = 400
        return response


class ServiceSchema(Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Nothing: Strawberry would log every error, bad input included, with a traceback;
        errors.format_error logs the faults, once each, with the id the client gets."""


def make_schema(settings: Settings, documents: DocumentCache) -> Schema:
    rules = list(service_rules(settings))
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: SharedDocuments(documents, hide_suggestions=settings.production),
        lambda: AddValidationRules(rules),
    ]
    return ServiceSchema(
        query=Query, mutation=Mutation, extensions=extensions, execution_context_class=StrawberryFastExecutor
    )


def make_handler(settings: Settings, documents: DocumentCache) -> Handler:
    """Queries by POST (JSON) and by GET `?query=`; no introspection or suggestions in production."""
    view = StrawberryGraphQL(make_schema(settings, documents), settings)

    async def handle(request: Request) -> Response:
        try:
            return await view.run(request)
        except HTTPException as error:
            return Refusal.because(error.reason, error.status_code).response()

    return handle
