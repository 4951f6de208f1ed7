"""How much one GraphQL operation may ask for: depth, aliases and an estimated cost.

A document of a few hundred characters can ask for millions of values: lists in
lists (`users { posts { author { posts { ... } } } }`), or one costly field asked
again and again under aliases. The parser's limits (documents.py) bound the text,
and complexity.py what validating it costs; this rule bounds what the text asks for.
It is a validation rule, so it runs once per query text (DocumentCache remembers the
verdict) and refuses before anything executes, with a GraphQL error that names the
measure and the limit (code QUERY_TOO_COMPLEX).

The measures, per operation, through fragments:
- depth: how deeply selections nest; `{ users { id } }` is 2.
- aliases: how many fields carry an alias.
- cost: an estimate of the values the answer holds. A field costs 1 for each
  object it is asked of; a list field multiplies what is below it by its items:
  its `limit` argument when given as a literal, else the variable's default, else
  the most the argument allows; the argument's own default when left out; and
  ESTIMATED_LIST_ITEMS for a list with no `limit` (a user's posts).
Introspection (`__schema`, `__type`) is left out of all three: its depth is the
type system's, and production refuses it anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    VariableNode,
    get_named_type,
    get_nullable_type,
    value_from_ast,
)

from ..settings import Settings
from .errors import TOO_COMPLEX
from .operations import MAX_LIMIT

ESTIMATED_LIST_ITEMS = 10
"""Items assumed for a list field without a `limit` argument."""


@dataclass(frozen=True)
class Measures:
    depth: int
    aliases: int
    cost: int

    def __add__(self, other: Measures) -> Measures:
        """Both selections at one level: the deeper one's depth, and what both ask for."""
        return Measures(max(self.depth, other.depth), self.aliases + other.aliases, self.cost + other.cost)


NOTHING = Measures(0, 0, 0)


def measure(context: ValidationContext, operation: OperationDefinitionNode) -> Measures:
    """One operation's measures, found by walking its selections with the schema's types."""
    root = context.schema.get_root_type(operation.operation)
    return _Walk(context, operation).selections(operation.selection_set, root)


class _Walk:
    """The measures of selection sets, as asked of one object; each fragment is walked once, however
    often it is spread (walked at every spread, fragments that spread one another twice took a few
    hundred characters to billions of steps)."""

    def __init__(self, context: ValidationContext, operation: OperationDefinitionNode) -> None:
        self.context = context
        self.defaults = {
            definition.variable.name.value: definition.default_value
            for definition in operation.variable_definitions or ()
        }
        self.fragments: dict[str, Measures] = {}

    def selections(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None) -> Measures:
        measures = NOTHING
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                measures += self._field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.context.schema.get_type(condition.name.value) if condition else parent
                measures += self.selections(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                measures += self._fragment(selection.name.value)
        return measures

    def _fragment(self, name: str) -> Measures:
        known = self.fragments.get(name)
        if known is not None:
            return known
        fragment = self.context.get_fragment(name)
        self.fragments[name] = NOTHING  # unknown or cyclic: other rules say so
        if fragment is not None:
            inner = self.context.schema.get_type(fragment.type_condition.name.value)
            self.fragments[name] = self.selections(fragment.selection_set, inner)
        return self.fragments[name]

    def _field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Measures:
        name = node.name.value
        if name.startswith("__") and name != "__typename":
            return NOTHING
        aliases = 0 if node.alias is None else 1
        field = parent.fields.get(name) if isinstance(parent, GraphQLObjectType) else None
        if node.selection_set is None or field is None:
            return Measures(1, aliases, 1)
        below = self.selections(node.selection_set, get_named_type(field.type))
        items = self._items(node, field.type, field.args.get("limit"))
        return Measures(1 + below.depth, aliases + below.aliases, 1 + items * below.cost)

    def _items(self, node: FieldNode, type_: Any, limit: GraphQLArgument | None) -> int:
        """Items a field's list holds at most (1 for a field that is no list)."""
        if not isinstance(get_nullable_type(type_), GraphQLList):
            return 1
        if limit is None:
            return ESTIMATED_LIST_ITEMS
        value = next((argument.value for argument in node.arguments or () if argument.name.value == "limit"), None)
        if isinstance(value, VariableNode):
            value = self.defaults.get(value.name.value)
            if value is None:
                return MAX_LIMIT
        if isinstance(value, IntValueNode):  # of 100 digits at most: complexity.py refuses longer
            return max(int(value.value), 0)
        if value is None:
            default = _default_of(limit)
            if isinstance(default, int):
                return default
        return MAX_LIMIT  # a null or a wrong type: other rules and the resolver refuse it


def _default_of(argument: GraphQLArgument) -> Any:
    """An argument's default value, however the schema library gave it: graphql-core 3.3 keeps
    a schema-first default as its literal, a code-first one as a value."""
    if argument.default is None:
        return argument.default_value
    if argument.default.literal is not None:
        return value_from_ast(argument.default.literal, argument.type)
    return argument.default.value


def limits_rule(settings: Settings) -> type[ASTValidationRule]:
    """A validation rule that refuses operations beyond the settings' limits.

    Made once per app: DocumentCache keys its verdicts by the rule classes.
    """
    max_depth = settings.graphql_max_depth
    max_aliases = settings.graphql_max_aliases
    max_cost = settings.graphql_max_cost

    class QueryLimits(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            context = self.context
            assert isinstance(context, ValidationContext)  # a rule that reads types runs with the schema
            measures = measure(context, node)
            label = f"operation {node.name.value!r}" if node.name else "the operation"
            if measures.depth > max_depth:
                self.refuse(f"{label} nests {measures.depth} levels deep: at most {max_depth} are allowed", node)
            if measures.aliases > max_aliases:
                self.refuse(f"{label} uses {measures.aliases} aliases: at most {max_aliases} are allowed", node)
            if measures.cost > max_cost:
                self.refuse(
                    f"{label} may return about {measures.cost:,} values: at most {max_cost:,} are allowed; "
                    "ask for fewer fields or a smaller `limit`",
                    node,
                )

        def refuse(self, message: str, node: OperationDefinitionNode) -> None:
            self.report_error(GraphQLError(message, node, extensions={"code": TOO_COMPLEX}))

    return QueryLimits
