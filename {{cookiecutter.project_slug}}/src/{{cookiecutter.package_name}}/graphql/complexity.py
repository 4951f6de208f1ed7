"""How much work a document asks of validation, measured before graphql-core validates it.

Validation runs on the event loop, so while it runs its worker answers nothing else,
health checks included. It is linear in the text except for one rule of the spec's:
OverlappingFieldsCanBeMerged compares every two fields that share a response name,
and then their sub-fields pairwise, so 275 repeated `posts { author { id } }` in 5 KB
took a worker 0.5 to 1 s, and 24 such queries at once had gunicorn kill every worker.
Fragments spread within fragments, each walked again at every spread, make a few
hundred characters select billions of fields.

`too_complex` measures a document in a walk over its syntax tree per measure, each
fragment walked once, and refuses it before any rule runs when it is over a limit:
- selections: the fields an operation or fragment selects once its fragments are expanded;
- nesting: how deeply selection sets nest through fragments;
- field pairs: how many pairs of fields the overlapping rule may compare, counted as it
  counts them: within each selection set (inline fragments and spreads flattened into it,
  each fragment's own pairs counted once, at its definition), every two fields of a
  response name, and below each such pair the pairs of sub-fields at the same response
  path. That sum is bounded from above without enumerating pairs: for fields i and j of
  one response name, with c(p) the fields at response path p below each, the rule makes
  at most sum_p c_i(p) * c_j(p) <= sqrt(q_i * q_j) comparisons (Cauchy-Schwarz), where
  q = sum_p c(p)^2 is itself bounded per field from its sub-fields' q. Fields with
  distinct aliases are never compared: the bound stays 0 for the usual query.

It also refuses number literals no argument can take, before graphql-core tries
int() on thousands of digits and answers with Python's own error and the digits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from math import sqrt

from graphql import (
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
    Token,
    TokenKind,
)
from graphql.language.parser import MAX_NESTING_DEPTH

from .errors import TOO_COMPLEX

MAX_NUMBER_LENGTH = 100
"""Characters of a number literal: an Int has at most 11, a Float needs no more than 25 to be exact."""
MAX_SELECTIONS = 5_000
"""Fields an operation or fragment selects with its fragments expanded. A large real query
selects a few hundred; past this, fragments spread within fragments are multiplying, not
describing, what the client reads (and the cost limit refuses far fewer values anyway)."""
MAX_NESTING = MAX_NESTING_DEPTH
"""Selection sets nested through fragments: graphql-core's own bound (its parser's, 200), past which
its validation stops with a bare "Validation aborted."; here the client is told why."""
MAX_FIELD_PAIRS = 5_000
"""Field pairs the overlapping rule may compare: about 3.6 µs each, so validation stays under 20 ms.
A real query compares few (each field whose name repeats, with its twin: a fragment's `id` and
the query's); past this it repeats fields by the hundred. Aliases make repeated fields distinct."""


@dataclass
class _Group:
    """The fields of one response name in a selection set, fragments expanded; q as in the module doc."""

    fields: int = 0
    sum_q: float = 0.0
    sum_root_q: float = 0.0

    def add(self, other: _Group) -> None:
        self.fields += other.fields
        self.sum_q += other.sum_q
        self.sum_root_q += other.sum_root_q

    def pairs(self) -> float:
        """The bound on comparisons among these fields: sum over i < j of sqrt(q_i * q_j)."""
        return (self.sum_root_q**2 - self.sum_q) / 2


Groups = dict[str, _Group]


def too_complex(document: DocumentNode) -> GraphQLError | None:
    """The error that refuses `document` for the work its validation would take, or None."""
    number = next((token for token in tokens(document) if _too_long(token)), None)
    if number is not None:
        return GraphQLError(
            f"a number literal of {len(number.value or ''):,} characters: at most {MAX_NUMBER_LENGTH} are allowed",
            source=document.loc.source if document.loc else None,
            positions=[number.start],
            extensions={"code": "BAD_USER_INPUT"},
        )
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    definitions = [
        definition for definition in document.definitions if isinstance(definition, ExecutableDefinitionNode)
    ]
    sizes = _Sizes(fragments)
    for definition in definitions:
        try:
            selections, nesting = sizes.of_definition(definition)
        except _TooDeep:
            selections, nesting = 0, MAX_NESTING + 1
        if nesting > MAX_NESTING:
            return _refusal(
                f"{_label(definition)} nests selections more than {MAX_NESTING} levels deep through its fragments: "
                f"at most {MAX_NESTING} are allowed",
                definition,
            )
        if selections > MAX_SELECTIONS:
            return _refusal(
                f"{_label(definition)} selects {selections:,} fields once its fragments are expanded: "
                f"at most {MAX_SELECTIONS:,} are allowed",
                definition,
            )
    pairs = _Pairs(fragments)
    for definition in definitions:
        pairs.of_definition(definition)
    if pairs.total > MAX_FIELD_PAIRS:
        return _refusal(
            f"the query repeats fields so often that validating it compares about {pairs.total:,.0f} pairs of "
            f"fields: at most {MAX_FIELD_PAIRS:,} are allowed; ask for each field once, or give repeated fields "
            "aliases of their own",
            None,
        )
    return None


def tokens(document: DocumentNode) -> Iterator[Token]:
    """The lexical tokens of a parsed document, in order."""
    token = document.loc.start_token if document.loc else None
    while token is not None:
        yield token
        token = token.next


def _too_long(token: Token) -> bool:
    return token.kind in (TokenKind.INT, TokenKind.FLOAT) and len(token.value or "") > MAX_NUMBER_LENGTH


def _label(definition: ExecutableDefinitionNode) -> str:
    if isinstance(definition, FragmentDefinitionNode):
        return f"fragment {definition.name.value!r}"
    return f"operation {definition.name.value!r}" if definition.name else "the operation"


def _refusal(message: str, node: ExecutableDefinitionNode | None) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": TOO_COMPLEX})


def _spreads(selection_set: SelectionSetNode) -> Iterator[FieldNode | FragmentSpreadNode]:
    """The fields and spreads of a selection set, with its inline fragments' flattened into it."""
    for selection in selection_set.selections:
        if isinstance(selection, InlineFragmentNode):
            yield from _spreads(selection.selection_set)
        elif isinstance(selection, FieldNode | FragmentSpreadNode):
            yield selection


class _TooDeep(Exception):
    """Nesting went past MAX_NESTING: the walk stops before Python's recursion limit."""


class _Sizes:
    """Selections and nesting of each definition, each fragment walked once."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.known: dict[str, tuple[int, int]] = {}
        self.walking: set[str] = set()

    def of_definition(self, definition: ExecutableDefinitionNode) -> tuple[int, int]:
        if isinstance(definition, FragmentDefinitionNode):
            return self._fragment(definition.name.value, 0)
        return self._selection_set(definition.selection_set, 0)

    def _fragment(self, name: str, level: int) -> tuple[int, int]:
        known = self.known.get(name)
        if known is not None:
            return known
        fragment = self.fragments.get(name)
        if fragment is None or name in self.walking:  # unknown or cyclic: the spec's rules say so
            return 0, 0
        self.walking.add(name)
        self.known[name] = sizes = self._selection_set(fragment.selection_set, level)
        self.walking.discard(name)
        return sizes

    def _selection_set(self, selection_set: SelectionSetNode, level: int) -> tuple[int, int]:
        """Fields below `selection_set`, fragments expanded, and how deep its sets nest (itself: 1)."""
        if level >= MAX_NESTING:
            raise _TooDeep
        selections, nesting = 0, 0
        spread: set[str] = set()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                below, deeper = (
                    (0, 0)
                    if selection.selection_set is None
                    else self._selection_set(selection.selection_set, level + 1)
                )
                selections, nesting = selections + 1 + below, max(nesting, deeper)
                continue
            if isinstance(selection, InlineFragmentNode):
                below, merged = self._selection_set(selection.selection_set, level + 1)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in spread:
                spread.add(selection.name.value)  # as graphql-core, which collects each name once
                below, merged = self._fragment(selection.name.value, level + 1)
            else:
                continue
            # A fragment's selections join this set: they nest no deeper than its own fields do.
            selections, nesting = selections + below, max(nesting, merged - 1)
        return selections, nesting + 1


class _Pairs:
    """The bound on the overlapping rule's comparisons, summed over the selection sets it visits."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.known: dict[str, Groups] = {}
        self.walking: set[str] = set()
        self.total = 0.0

    def of_definition(self, definition: ExecutableDefinitionNode) -> None:
        if isinstance(definition, FragmentDefinitionNode):
            self._fragment(definition.name.value)
        else:
            self._selection_set(definition.selection_set)

    def _fragment(self, name: str) -> Groups:
        known = self.known.get(name)
        if known is not None:
            return known
        fragment = self.fragments.get(name)
        if fragment is None or name in self.walking:
            return {}
        self.walking.add(name)
        self.known[name] = groups = self._selection_set(fragment.selection_set)
        self.walking.discard(name)
        return groups

    def _selection_set(self, selection_set: SelectionSetNode) -> Groups:
        """The groups of one selection set the rule visits; adds the comparisons within it to the total.

        A spread fragment's pairs among its own fields are counted at its definition, not here.
        """
        groups: Groups = {}
        counted_elsewhere = 0.0
        spread: set[str] = set()
        for selection in _spreads(selection_set):
            if isinstance(selection, FieldNode):
                name = selection.alias.value if selection.alias else selection.name.value
                q = 1.0
                if selection.selection_set is not None:
                    q += sum(
                        group.fields * group.sum_q for group in self._selection_set(selection.selection_set).values()
                    )
                groups.setdefault(name, _Group()).add(_Group(1, q, sqrt(q)))
            elif selection.name.value not in spread:  # graphql-core compares each fragment once
                spread.add(selection.name.value)
                fragment = self._fragment(selection.name.value)
                counted_elsewhere += sum(group.pairs() for group in fragment.values())
                for name, group in fragment.items():
                    groups.setdefault(name, _Group()).add(group)
        self.total += sum(group.pairs() for group in groups.values()) - counted_elsewhere
        return groups
