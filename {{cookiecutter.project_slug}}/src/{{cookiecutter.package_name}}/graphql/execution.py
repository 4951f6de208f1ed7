"""graphql-core's executor, with a short path for the fields that are only a value to read.

Completing a large list costs graphql-core several calls per scalar field: a `Path`,
a `GraphQLResolveInfo`, the default resolver, an awaitable check, then the non-null
and leaf completion. Most fields of a list of rows are exactly that: a column read
off the row and serialized. `FastExecutor` reads and serializes those in one
step, and hands every other case to graphql-core unchanged: fields with a resolver or
arguments, null values (so that a null in a non-null field is reported the standard
way), values a scalar refuses, and everything when a middleware is installed (an
empty manager, which a schema library may pass on every request, is none). The same
document gives the same answer either way; tests/test_execution.py compares them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import NoneType
from typing import Any, TypeGuard, cast

from graphql import (
    Executor,
    GraphQLField,
    GraphQLID,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLString,
    Undefined,
    get_nullable_type,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path
from graphql.pyutils import is_awaitable as graphql_is_awaitable

Plan = tuple[str, Callable[[Any], Any]] | None
"""How to complete one field without graphql-core: (attribute or key to read, serialize); None: no short path."""

Step = tuple[str, FieldDetailsList, Plan]
"""(response name, its field nodes, its plan)."""

PLAIN = frozenset({NoneType, bool, int, float, str, bytes, dict, list, tuple})


def _string(value: Any) -> Any:
    return value if type(value) is str else GraphQLString.serialize(value)


def _id(value: Any) -> Any:
    kind = type(value)
    return value if kind is str else str(value) if kind is int else GraphQLID.serialize(value)


SERIALIZE: dict[Any, Callable[[Any], Any]] = {GraphQLString: _string, GraphQLID: _id}
"""The built-in scalars' serialize, for the values rows hold: what graphql-core would answer, sooner."""


def is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    """graphql-core's check, without its attribute lookup for the plain values most fields return."""
    return type(value) not in PLAIN and graphql_is_awaitable(value)


class FastExecutor(Executor[Any]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_awaitable = is_awaitable
        self._selections: dict[int, tuple[GroupedFieldSet, list[Step]]] = {}

    def plain_attribute(self, field: GraphQLField, name: str) -> str | None:
        """The attribute (or key) the field's value is read from when it has no resolver of its own."""
        return name if field.resolve is None else None

    def _plan(self, parent_type: GraphQLObjectType, details: FieldDetailsList) -> Plan:
        node = details[0].node
        field = self.schema.get_field(parent_type, node.name.value)
        if field is None or field.args or node.arguments:
            return None
        attribute = self.plain_attribute(field, node.name.value)
        leaf = get_nullable_type(field.type)
        if attribute is None or not is_leaf_type(leaf):
            return None
        return (attribute, SERIALIZE.get(leaf, leaf.serialize))

    def _plans_for(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> list[Step]:
        """Each field's plan, once per selection: graphql-core keeps each grouped set for the request."""
        found = self._selections.get(id(grouped_field_set))
        if found is None or found[0] is not grouped_field_set:
            steps = [(name, details, self._plan(parent_type, details)) for name, details in grouped_field_set.items()]
            found = self._selections[id(grouped_field_set)] = (grouped_field_set, steps)
        return found[1]

    def _split(
        self, parent_type: GraphQLObjectType, source: Any, grouped_field_set: GroupedFieldSet
    ) -> tuple[dict[str, Any], GroupedFieldSet]:
        """(the fields completed here, the ones left to graphql-core)."""
        read = _reader(source)
        if read is None or (self.middleware_manager is not None and self.middleware_manager.middlewares):
            return {}, grouped_field_set
        done: dict[str, Any] = {}
        rest: GroupedFieldSet = {}
        for response_name, details, plan in self._plans_for(parent_type, grouped_field_set):
            value = Undefined if plan is None else _complete(read, plan)
            if value is Undefined:
                rest[response_name] = details
            else:
                done[response_name] = value
        return done, rest

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        done, rest = self._split(parent_type, source_value, grouped_field_set)
        if not rest:
            return done
        completed = super().execute_fields(parent_type, source_value, path, rest, position_context)
        if not done:
            return completed
        order = list(grouped_field_set)
        if self.is_awaitable(completed):

            async def merged() -> dict[str, Any]:
                return _in_order(order, done, await completed)

            return merged()
        return _in_order(order, done, cast("dict[str, Any]", completed))

    def complete_list_item_value(
        self,
        item: Any,
        complete_results: list[Any],
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        item_path: Path,
        position_context: Any,
    ) -> bool:
        """An item of a list of objects whose every field is a plain read is completed in one step."""
        object_type = get_nullable_type(item_type)
        if item is not None and is_object_type(object_type) and not object_type.is_type_of:
            grouped_field_set, defer_usages, *_ = self.collect_subfields(object_type, field_details_list)
            if not defer_usages:
                done, rest = self._split(object_type, item, grouped_field_set)
                if not rest:
                    complete_results.append(done)
                    return False
        return super().complete_list_item_value(
            item, complete_results, item_type, field_details_list, info, item_path, position_context
        )


def _reader(source: Any) -> Callable[[str], Any] | None:
    """How graphql-core's default resolver reads a field off `source`; None where it is not that simple."""
    if type(source) is dict:
        return source.get
    if isinstance(source, Mapping):
        return None
    return lambda name: getattr(source, name, None)


def _complete(read: Callable[[str], Any], plan: tuple[str, Callable[[Any], Any]]) -> Any:
    attribute, serialize = plan
    value = read(attribute)
    if value is None or callable(value):  # a null, or a method the default resolver would call
        return Undefined
    try:
        serialized = serialize(value)
    except Exception:  # noqa: BLE001 - whatever it is, graphql-core reports it again, with the path
        return Undefined
    return Undefined if serialized is None else serialized


def _in_order(order: list[str], done: dict[str, Any], rest: Mapping[str, Any]) -> dict[str, Any]:
    return {name: done[name] if name in done else rest[name] for name in order if name in done or name in rest}
