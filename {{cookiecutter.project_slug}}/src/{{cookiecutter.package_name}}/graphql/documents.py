"""Parse and validate each query text once: bounded caches in front of graphql-core.

Parsing and validation cost more CPU than executing a small query, and clients
send the same few query texts again and again. Both results are cached by the
query text, never on the AST nodes (graphql-core 3.3 freezes them). Parsing is
bounded, so that no text is too costly to reject.
"""

from __future__ import annotations

from collections.abc import Collection
from time import perf_counter

from cachetools import LRUCache
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    parse,
    validate,
)

from ..monitoring import DOCUMENT_CACHE
from ..settings import Settings
from ..timing import spent
from .limits import limits_rule

MAX_QUERY_LENGTH = 20_000
"""Characters in one query text; real queries are a few hundred to a few thousand."""
MAX_TOKENS = 2_000
"""Lexical tokens in one query: the parser's cost grows with them, even for invalid text."""
CACHED_TEXT = 2_000_000
"""Characters of query text each cache holds at most, whatever the number of entries."""


def service_rules(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    """The validation rules added to the spec's: the limits, and no introspection in production.

    Call it once per app: the classes it returns are part of the validation cache's keys.
    """
    introspection = (NoSchemaIntrospectionCustomRule,) if settings.production else ()
    return (limits_rule(settings), *introspection)


ValidationKey = tuple[str, tuple[type[ASTValidationRule], ...], int | None]


def _text_of(document: DocumentNode) -> str | None:
    return document.loc.source.body if document.loc else None


def _text_size(document: DocumentNode) -> int:
    return len(_text_of(document) or "") or 1


class DocumentCache:
    """Per-worker caches of parsed documents and validation results, by query text."""

    def __init__(self) -> None:
        self._documents: LRUCache[str, DocumentNode] = LRUCache(CACHED_TEXT, getsizeof=_text_size)
        # Each validation entry is sized by its query text too: the text is in its key.
        self._validations: LRUCache[ValidationKey, tuple[int, list[GraphQLError]]] = LRUCache(
            CACHED_TEXT, getsizeof=lambda entry: entry[0]
        )

    def parse(self, query: str) -> DocumentNode:
        """The document for `query`, parsed once; a GraphQLError names the limit a text breaks."""
        started = perf_counter()
        try:
            return self._parse(query)
        finally:
            spent("parse", perf_counter() - started)

    def _parse(self, query: str) -> DocumentNode:
        document = self._documents.get(query)
        if document is not None:
            DOCUMENT_CACHE.labels("parse", "hit").inc()
            return document
        DOCUMENT_CACHE.labels("parse", "miss").inc()
        if len(query) > MAX_QUERY_LENGTH:
            raise GraphQLError(f"the query is {len(query)} characters long: send at most {MAX_QUERY_LENGTH}")
        document = parse(query, max_tokens=MAX_TOKENS)
        self._documents[query] = document
        return document

    def validate(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: Collection[type[ASTValidationRule]] | None = None,
        max_errors: int | None = None,
    ) -> list[GraphQLError]:
        """graphql-core's validate, remembered for each (query text, rules, max_errors).

        The rules must be the same classes from one request to the next (the spec's
        rules and fixed custom ones): a rule built per request would never hit.
        """
        started = perf_counter()
        try:
            return self._validate(schema, document, rules, max_errors)
        finally:
            spent("validate", perf_counter() - started)

    def _validate(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: Collection[type[ASTValidationRule]] | None,
        max_errors: int | None,
    ) -> list[GraphQLError]:
        text = _text_of(document)
        if text is None:
            return validate(schema, document, rules, max_errors)
        key: ValidationKey = (text, tuple(rules or ()), max_errors)
        entry = self._validations.get(key)
        if entry is not None:
            DOCUMENT_CACHE.labels("validate", "hit").inc()
            return entry[1]
        DOCUMENT_CACHE.labels("validate", "miss").inc()
        errors = validate(schema, document, rules, max_errors)
        self._validations[key] = (len(text), errors)
        return errors
