"""Parse and validate each query text once: caches in front of graphql-core, bounded by memory.

Parsing and validation cost more CPU than executing a small query, and clients
send the same few query texts again and again. Both results are cached by the
query text, never on the AST nodes (graphql-core 3.3 freezes them). Parsing is
bounded, so that no text is too costly to reject, and so is validation
(complexity.py refuses, before any rule runs, a document whose validation
would hold the worker).

The caches are bounded by what their entries hold in memory. A parsed document
holds some 200 to 610 bytes per lexical token, a hundred times its text, so only
documents that passed validation are kept for long; a refused one leaves its
verdict alone: the errors' messages and locations, without the document they
point into.
"""

from __future__ import annotations

from collections.abc import Collection
from time import perf_counter
from typing import TypeVar

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
from graphql.validation.rules import overlapping_fields_can_be_merged
from graphql.validation.validate import ValidationAbortedError

from ..monitoring import DOCUMENT_CACHE
from ..settings import Settings
from ..timing import spent
from .complexity import tokens, too_complex
from .errors import TOO_COMPLEX
from .limits import limits_rule

MAX_QUERY_LENGTH = 20_000
"""Characters in one query text; real queries are a few hundred to a few thousand."""
MAX_TOKENS = 2_000
"""Lexical tokens in one query: the parser's cost grows with them, even for invalid text."""
BYTES_PER_TOKEN = 640
"""What a parsed document holds per lexical token, at most: its AST nodes, their locations and
the token itself. Measured with tracemalloc over documents of every kind of token: 190 (comments)
to 610 bytes (fields without arguments)."""
CACHED_DOCUMENTS_BYTES = 32 * 2**20
"""Parsed documents that passed validation, by BYTES_PER_TOKEN: thousands of usual queries,
or 26 of the largest (MAX_TOKENS)."""
PARSED_BYTES = 8 * 2**20
"""Parsed documents not validated yet (the endpoint parses a batch's items to find its mutations,
then again to run them): a batch of the largest texts."""
CACHED_TEXT = 2_000_000
"""Characters of query text the cache of passed validations holds: the text is all such an entry keeps."""
CACHED_REFUSALS_BYTES = 4 * 2**20
"""Validation refusals, by ENTRY_BYTES and ERROR_BYTES: tens of the largest (100 errors each), a thousand typos."""
ENTRY_BYTES = 2_000
"""What one cached verdict holds besides its text and errors: its key, the rules in it, the cache's links
(measured with tracemalloc: 1,900 at most, with the longest tuple of rules)."""
ERROR_BYTES = 1_000
"""What one cached error holds besides its message: the error, its positions and locations (measured 700)."""
VALIDATION_BUDGET = 100_000
"""graphql-core's own bound on the comparisons its overlapping-fields rule makes (MAX_COMPLEXITY_BUDGET,
500,000 by default: 1-2 s of a worker). complexity.py refuses, before the rule runs, the documents
whose field pairs would spend more than MAX_FIELD_PAIRS (2 to 3 units each); this is the backstop for
the work that estimate leaves out, comparisons of fragments with fragments, some 0.1 s at most."""

overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = VALIDATION_BUDGET  # read as each validation starts


def service_rules(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    """The validation rules added to the spec's: the limits, and no introspection in production.

    Call it once per app: the classes it returns are part of the validation cache's keys.
    """
    introspection = (NoSchemaIntrospectionCustomRule,) if settings.production else ()
    return (limits_rule(settings), *introspection)


ValidationKey = tuple[str, tuple[type[ASTValidationRule], ...], int | None, bool]


def _text_of(document: DocumentNode) -> str | None:
    return document.loc.source.body if document.loc else None


def _document_size(document: DocumentNode) -> int:
    """An estimate, by BYTES_PER_TOKEN, of the memory a parsed document holds, its text included."""
    return len(_text_of(document) or "") + sum(1 for _ in tokens(document)) * BYTES_PER_TOKEN


def _refusal_size(text: str, errors: list[GraphQLError]) -> int:
    return ENTRY_BYTES + len(text) + sum(len(error.message) + ERROR_BYTES for error in errors)


def _detached(error: GraphQLError, found: int) -> GraphQLError:
    """`error` as a client reads it, without the AST nodes it points into: a cache keeps it for long.

    graphql-core's two bare "Validation aborted." messages say which limit stopped it; `found` is
    how many errors validation found before.
    """
    message, extensions = error.message, error.extensions
    if isinstance(error, ValidationAbortedError):
        if message.startswith("Too many validation errors"):
            message = f"validation stopped after {found} errors: correct these and send the query again"
        else:  # one of graphql-core's budgets: comparisons of fields, or work on shared fragments
            message = (
                f"validation stopped at graphql-core's bound on its work ({VALIDATION_BUDGET:,} comparisons of "
                "fields, or spreads of shared fragments): ask for each field once, give repeated fields aliases "
                "of their own, or spread fewer fragments"
            )
            extensions = {"code": TOO_COMPLEX}
    return GraphQLError(message, source=error.source, positions=error.positions, extensions=extensions)


K = TypeVar("K")
V = TypeVar("V")


Sized = tuple[int, DocumentNode]
"""A parsed document, with the estimate of what it holds."""


def _size(entry: tuple[int, object]) -> int:
    return entry[0]


def _keep(cache: LRUCache[K, V], key: K, value: V) -> None:
    """Cache `value` unless it alone is over the cache's bound (cachetools would raise ValueError)."""
    if cache.getsizeof(value) <= cache.maxsize:
        cache[key] = value


class DocumentCache:
    """Per-worker caches of parsed documents and validation verdicts, by query text."""

    def __init__(self) -> None:
        # Each entry is stored with its size, found once: cachetools sizes an entry by its value
        # alone, and asks for the size again whenever it is stored.
        self._documents: LRUCache[str, Sized] = LRUCache(CACHED_DOCUMENTS_BYTES, getsizeof=_size)
        self._parsed: LRUCache[str, Sized] = LRUCache(PARSED_BYTES, getsizeof=_size)
        self._passed: LRUCache[ValidationKey, int] = LRUCache(CACHED_TEXT, getsizeof=lambda size: size)
        self._refused: LRUCache[ValidationKey, tuple[int, list[GraphQLError]]] = LRUCache(
            CACHED_REFUSALS_BYTES, getsizeof=_size
        )

    def parse(self, query: str) -> DocumentNode:
        """The document for `query`, parsed once; a GraphQLError names the limit a text breaks."""
        started = perf_counter()
        try:
            return self._parse(query)
        finally:
            spent("parse", perf_counter() - started)

    def _parse(self, query: str) -> DocumentNode:
        entry = self._documents.get(query) or self._parsed.get(query)
        if entry is not None:
            DOCUMENT_CACHE.labels("parse", "hit").inc()
            return entry[1]
        DOCUMENT_CACHE.labels("parse", "miss").inc()
        if len(query) > MAX_QUERY_LENGTH:
            raise GraphQLError(f"the query is {len(query)} characters long: send at most {MAX_QUERY_LENGTH}")
        document = parse(query, max_tokens=MAX_TOKENS)
        _keep(self._parsed, query, (_document_size(document), document))
        return document

    def validate(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: Collection[type[ASTValidationRule]] | None = None,
        max_errors: int | None = None,
        hide_suggestions: bool = False,
    ) -> list[GraphQLError]:
        """graphql-core's validate, remembered for each (query text, rules, max_errors, hide_suggestions).

        The rules must be the same classes from one request to the next (the spec's
        rules and fixed custom ones): a rule built per request would never hit.
        """
        started = perf_counter()
        try:
            return self._validate(schema, document, rules, max_errors, hide_suggestions)
        finally:
            spent("validate", perf_counter() - started)

    def _validate(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: Collection[type[ASTValidationRule]] | None,
        max_errors: int | None,
        hide_suggestions: bool,
    ) -> list[GraphQLError]:
        text = _text_of(document)
        if text is None:  # built in code, not parsed: nothing to know it by
            refusal = too_complex(document)
            return [refusal] if refusal else validate(schema, document, rules, max_errors, hide_suggestions)
        key: ValidationKey = (text, tuple(rules or ()), max_errors, hide_suggestions)
        parsed = self._parsed.pop(text, None)
        refused = self._refused.get(key)
        if refused is not None:
            DOCUMENT_CACHE.labels("validate", "hit").inc()
            return refused[1]
        if self._passed.get(key) is not None:
            DOCUMENT_CACHE.labels("validate", "hit").inc()
        else:
            DOCUMENT_CACHE.labels("validate", "miss").inc()
            refusal = too_complex(document)
            errors = [refusal] if refusal else validate(schema, document, rules, max_errors, hide_suggestions)
            if errors:
                detached = [_detached(error, len(errors) - 1) for error in errors]
                _keep(self._refused, key, (_refusal_size(text, detached), detached))
                return detached
            _keep(self._passed, key, len(text))
        if text not in self._documents:
            size = parsed[0] if parsed is not None else _document_size(document)
            _keep(self._documents, text, (size, document))
        return []
