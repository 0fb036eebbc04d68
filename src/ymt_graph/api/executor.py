"""A faster field walk for plain fields.

graphql-core resolves every field the same way: a Path, a ResolveInfo, argument
coercion, strawberry's resolver wrapper, then completion — several µs a field,
and a catalog page has over a thousand. Most fields are plain attributes with
no resolver and no arguments. For those this context reads the attribute and:
a scalar or enum is serialised directly; a concrete object has its sub-selection
executed directly. Anything else — resolvers, lists, abstract types, nulls in
non-null fields, values that fail to serialise — takes graphql-core's own path,
and errors inside a fast object are handled exactly as graphql-core would
(located, nulled or propagated by nullability).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NamedTuple, cast

from graphql import GraphQLEnumType, GraphQLNonNull, GraphQLObjectType, GraphQLScalarType
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter


class FieldPlan(NamedTuple):
    attribute: str
    non_null: bool
    serialize: Callable[[Any], Any] | None  # a leaf
    object_type: GraphQLObjectType | None  # a concrete object
    return_type: Any


_plans: dict[GraphQLObjectType, dict[str, FieldPlan]] = {}


def field_plan(parent_type: GraphQLObjectType) -> dict[str, FieldPlan]:
    """Per object type: its plain fields (computed once per type)."""
    plan = _plans.get(parent_type)
    if plan is not None:
        return plan
    plan = {}
    for name, field in parent_type.fields.items():
        definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if definition is None or field.args or not getattr(field.resolve, "_is_default", False):
            continue
        if definition.base_resolver is not None or definition.extensions or definition.permission_classes:
            continue
        non_null = isinstance(field.type, GraphQLNonNull)
        inner = field.type.of_type if non_null else field.type
        if isinstance(inner, (GraphQLScalarType, GraphQLEnumType)):
            plan[name] = FieldPlan(definition.python_name, non_null, inner.serialize, None, field.type)
        elif isinstance(inner, GraphQLObjectType):
            plan[name] = FieldPlan(definition.python_name, non_null, None, inner, field.type)
    _plans[parent_type] = plan
    return plan


# How one selected field is answered: (response name, plan or None for graphql-core's path, field nodes).
Step = tuple[str, FieldPlan | None, Any]


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per request: a selection set's steps, worked out once and reused for every
        # object of a list (graphql-core memoises the grouped field sets themselves).
        self._steps: dict[int, tuple[Any, list[Step], bool]] = {}

    def _steps_for(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> tuple[list[Step], bool]:
        cached = self._steps.get(id(grouped_field_set))
        if cached is not None and cached[0] is grouped_field_set:
            return cached[1], cached[2]
        plan = field_plan(parent_type)
        steps: list[Step] = [
            (name, plan.get(details[0].node.name.value), details) for name, details in grouped_field_set.items()
        ]
        any_fast = any(step[1] is not None for step in steps)
        self._steps[id(grouped_field_set)] = (grouped_field_set, steps, any_fast)  # keeps it alive: ids stay unique
        return steps, any_fast

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        steps, any_fast = self._steps_for(parent_type, grouped_field_set)
        if not any_fast or (self.middleware_manager and self.middleware_manager.middlewares):
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        results: dict[str, Any] = {}
        pending: list[str] = []
        slow: dict[str, Any] = {}
        for response_name, field, field_details_list in steps:
            if field is None:
                slow[response_name] = field_details_list
                continue
            value = getattr(source_value, field.attribute, None)
            if value is None:
                if field.non_null:
                    slow[response_name] = field_details_list  # graphql-core reports it
                else:
                    results[response_name] = None
                continue
            if field.serialize is not None:
                try:
                    serialized = field.serialize(value)
                except Exception:  # let the normal path report it
                    serialized = Undefined
                if serialized is Undefined or serialized is None:
                    slow[response_name] = field_details_list
                else:
                    results[response_name] = serialized
                continue
            assert field.object_type is not None
            grouped, new_defer_usages, _ = self.collect_subfields(field.object_type, field_details_list)
            if new_defer_usages:
                slow[response_name] = field_details_list
                continue
            field_path = Path(path, response_name, parent_type.name)
            try:
                sub = self.execute_fields(field.object_type, value, field_path, grouped, position_context)
            except Exception as error:
                self.handle_field_error(error, field.return_type, field_details_list, field_path)
                sub = None
            if self.is_awaitable(sub):
                sub = self._guard(sub, field, field_details_list, field_path)
                pending.append(response_name)
            results[response_name] = sub
        if slow:
            rest = super().execute_fields(parent_type, source_value, path, slow, position_context)
            if self.is_awaitable(rest):
                results["\0rest"] = rest
                pending.append("\0rest")
            else:
                results.update(cast(dict[str, Any], rest))
        if not pending:
            return _in_selection_order(grouped_field_set, results) if slow else results

        async def gather() -> dict[str, Any]:
            # Concurrently, so sibling fields' DataLoader calls land in the same batch.
            if len(pending) == 1:  # the usual case: no task needed
                values = [await results[pending[0]]]
            else:
                values = await asyncio.gather(*(results[name] for name in pending))
            for name, value in zip(pending, values, strict=True):
                if name == "\0rest":
                    del results[name]
                    results.update(value)
                else:
                    results[name] = value
            return _in_selection_order(grouped_field_set, results)

        return gather()

    async def _guard(self, sub: Any, field: FieldPlan, field_details_list: Any, field_path: Path) -> Any:
        try:
            return await sub
        except Exception as error:
            self.handle_field_error(error, field.return_type, field_details_list, field_path)
            return None


def _in_selection_order(grouped: Any, results: dict[str, Any]) -> dict[str, Any]:
    """Response keys follow the query's field order (clients and tests rely on it)."""
    return {name: results[name] for name in grouped if name in results}
