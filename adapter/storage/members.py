"""`one_of(column, values)`: membership in a long list of values, sent as one bound parameter.

`column.in_(values)` makes one bound parameter per value: an ICB caller's access filter lists the
90-200 practices it may see, and SQLAlchemy built, keyed and rendered those parameters again for
every statement of every request (a third of the extra CPU an ICB's search cost over a `service`
caller's). Here the list is one parameter whatever its length, and the compiled statement is
cached like any other:

- PostgreSQL: `column = ANY(:values)`, the values as an array of the column's type;
- SQLite: `column IN (SELECT value FROM json_each(:values))`, the values as a JSON array.

Both match exactly what `IN (...)` matches, NULL included (no match), and an empty list matches
nothing.
"""
from __future__ import annotations

from typing import Iterable

import orjson
from sqlalchemy import Boolean, String, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator


class _Values(TypeDecorator):
    """A list bound as one parameter: an array of the column's type for psycopg, JSON text for
    SQLite (json_each yields JSON strings as text and JSON integers as integers)."""
    impl = String
    cache_ok = True

    def __init__(self, element=None):
        super().__init__()
        self.element = element if element is not None else String()

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(ARRAY(self.element) if dialect.name == "postgresql" else String())

    def process_bind_param(self, value, dialect):
        values = list(value)
        return values if dialect.name == "postgresql" else orjson.dumps(values).decode()


class _OneOf(ColumnElement):
    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a predicate: never rendered as `(...) = 1` where booleans are integers
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("values", InternalTraversal.dp_clauseelement)]

    def __init__(self, column, values: Iterable[str]):
        self.column = column
        self.values = bindparam(None, value=tuple(values), type_=_Values(column.type), unique=True)


@compiles(_OneOf)
def _compile_default(element: _OneOf, compiler, **kw) -> str:
    return (f"{compiler.process(element.column, **kw)} IN "
            f"(SELECT value FROM json_each({compiler.process(element.values, **kw)}))")


@compiles(_OneOf, "postgresql")
def _compile_postgresql(element: _OneOf, compiler, **kw) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.values, **kw)})"


def one_of(column, values: Iterable[str]) -> ColumnElement:
    return _OneOf(column, values)
