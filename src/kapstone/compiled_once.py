"""Reads whose SQL the ORM writes once a process (issue 19).

built_once keeps a page's queryset so its care-team test is not built again on every request, but the ORM still
compiled that queryset to SQL on every request: on the staff home and in the dosing room, compiling took a third of
the page's time, more than the database took to answer. A read declared here is built and compiled once for each
key (the user, say) and database, with a placeholder for each value that changes from call to call (a day, a
patient); each call binds its values to the same statement and reads afresh. Its rows are made by the ORM's own
iterables (model instances with their select_related rows and prefetches, values, values_list), so a compiled read
returns what the queryset itself would.

The build function must take every value that can change as a placeholder: anything else it reads (the time now, a
practice setting) would be compiled into the statement and kept. To catch a read that breaks this rule, each
statement is compiled twice with different placeholder values, and it is refused (ImproperlyConfigured) unless the
two differ exactly where a placeholder's value goes.
"""

import copy
import datetime
import functools
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.db import connections
from django.db.models import QuerySet
from django.db.models.sql.compiler import SQLCompiler

from kapstone.accounts.models import User

# Enough for every member of staff of a practice; past it the compiled reads are dropped and compiled again.
KEYS_KEPT = 512


@dataclass(frozen=True)
class _Kind:
    """How a placeholder of one type is written: two values to compile with, and the ORM's preparation of a value
    for the database (what a lookup on a field of that type does)."""

    first: Callable[[int], Any]
    second: Callable[[int], Any]
    prepared: Callable[[Any, Any], Any]  # (connection, value) -> the parameter

    def accepts(self, python_type: type, value: Any) -> bool:
        # bool is an int and datetime a date to isinstance, but neither is written as the other.
        return type(value) is python_type or (python_type is str and isinstance(value, str))


# A key no column can hold (a number from a URL may be any length) matches no row, as the ORM answers an exact lookup
# past a field's range, rather than reaching the database, which cannot take it.
_KEY_RANGE = range(-(2**63), 2**63)


def _as_is(connection: Any, value: Any) -> Any:
    return value


def _aware(connection: Any, value: datetime.datetime) -> Any:
    if value.tzinfo is None:
        raise ValueError("A compiled read compares aware datetimes only.")
    return connection.ops.adapt_datetimefield_value(value)


_KINDS: dict[type, _Kind] = {
    # Small numbers, so that no field's range check (a small integer's) turns the comparison into no rows.
    int: _Kind(first=lambda n: 20_231 + n, second=lambda n: 20_431 + n, prepared=_as_is),
    str: _Kind(
        first=lambda n: f"\x1fcompiled-once {n} a", second=lambda n: f"\x1fcompiled-once {n} b", prepared=_as_is
    ),
    datetime.date: _Kind(
        first=lambda n: datetime.date(2003, 1, 2) + datetime.timedelta(days=n),
        second=lambda n: datetime.date(2004, 6, 7) + datetime.timedelta(days=n),
        prepared=lambda connection, value: connection.ops.adapt_datefield_value(value),
    ),
    datetime.datetime: _Kind(
        first=lambda n: datetime.datetime(2003, 1, 2, 3, 4, 5, n + 1, tzinfo=datetime.UTC),
        second=lambda n: datetime.datetime(2004, 6, 7, 8, 9, 10, n + 1, tzinfo=datetime.UTC),
        prepared=_aware,
    ),
}


@dataclass(frozen=True)
class _Statement:
    queryset: QuerySet[Any, Any]
    compiler: SQLCompiler | None  # None: the read can have no rows (the ORM found its condition empty)
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (position among the parameters, the placeholder whose value goes there)


def _compiled(queryset: QuerySet[Any, Any]) -> tuple[SQLCompiler | None, str, tuple[Any, ...]]:
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return None, "", ()
    if not sql:
        return None, "", ()
    return compiler, sql, tuple(params)


def _shallow_copy(instance: Any) -> Any:
    duplicate = instance.__class__.__new__(instance.__class__)
    duplicate.__dict__.update(instance.__dict__)
    return duplicate


def _key_part(argument: Any) -> Hashable:
    # A user's reads depend on who they are and on their role; a changed role compiles anew.
    if isinstance(argument, User):
        return ("user", argument.pk, argument.role)
    return argument


class CompiledRead:
    """One read, compiled once for each key and database; calling it returns a list of rows."""

    def __init__(self, build: Callable[..., QuerySet[Any, Any]], placeholders: dict[str, type]) -> None:
        unknown = [name for name, python_type in placeholders.items() if python_type not in _KINDS]
        if unknown:
            raise ImproperlyConfigured(f"{build.__qualname__}: no placeholder of that type for {unknown}.")
        self.build = build
        self.placeholders = placeholders
        self._statements: dict[tuple[Hashable, ...], _Statement] = {}
        self._lock = threading.Lock()

    def _values(self, kind: str) -> dict[str, Any]:
        return {
            name: getattr(_KINDS[python_type], kind)(position)
            for position, (name, python_type) in enumerate(self.placeholders.items())
        }

    def _statement(self, arguments: tuple[Any, ...]) -> _Statement:
        first_values, second_values = self._values("first"), self._values("second")
        queryset = self.build(*arguments, **first_values)
        compiler, sql, params = _compiled(queryset)
        second_compiler, second_sql, second_params = _compiled(self.build(*arguments, **second_values))
        name = self.build.__qualname__
        if (compiler is None) != (second_compiler is None) or sql != second_sql or len(params) != len(second_params):
            raise ImproperlyConfigured(f"{name}: its SQL changes with its placeholders' values.")
        connection = connections[queryset.db]
        slots = []
        for position, (first, second) in enumerate(zip(params, second_params, strict=True)):
            if first == second and type(first) is type(second):
                continue  # a constant of the read (the user's key, a status)
            found = [
                placeholder
                for placeholder, python_type in self.placeholders.items()
                if first == _KINDS[python_type].prepared(connection, first_values[placeholder])
                and second == _KINDS[python_type].prepared(connection, second_values[placeholder])
            ]
            if len(found) != 1:
                raise ImproperlyConfigured(
                    f"{name}: parameter {position} changes but is not one placeholder's value as given (a lookup that "
                    "rewrites it, or a value the read takes from elsewhere, such as the time now)."
                )
            slots.append((position, found[0]))
        if compiler is not None and {placeholder for _, placeholder in slots} != set(self.placeholders):
            raise ImproperlyConfigured(f"{name}: a placeholder is not in its SQL.")
        return _Statement(queryset=queryset, compiler=compiler, sql=sql, params=params, slots=tuple(slots))

    def __call__(self, *arguments: Any, **values: Any) -> list[Any]:
        if set(values) != set(self.placeholders):
            raise TypeError(f"{self.build.__qualname__} takes the placeholders {sorted(self.placeholders)}.")
        for name, python_type in self.placeholders.items():
            if not _KINDS[python_type].accepts(python_type, values[name]):
                raise TypeError(f"{self.build.__qualname__}: {name} must be a {python_type.__name__}.")
        if any(type(value) is int and value not in _KEY_RANGE for value in values.values()):
            return []
        key = tuple(_key_part(argument) for argument in arguments)
        statement = self._statements.get(key)
        if statement is None:
            with self._lock:
                if len(self._statements) >= KEYS_KEPT:
                    self._statements.clear()
                statement = self._statements[key] = self._statement(arguments)
        if statement.compiler is None:
            return []
        return list(self._bound(statement, values))

    def _bound(self, statement: _Statement, values: dict[str, Any]) -> QuerySet[Any, Any]:
        """The kept queryset, with a copy of its compiler that runs the kept SQL with this call's values."""
        original = statement.queryset
        connection = connections[original.db]
        params = list(statement.params)
        for position, placeholder in statement.slots:
            params[position] = _KINDS[self.placeholders[placeholder]].prepared(connection, values[placeholder])
        compiler = copy.copy(statement.compiler)
        # The kept compiler knows its columns and how to read them; only the connection is this thread's own.
        compiler.connection = connection
        compiler.as_sql = lambda *args, **kwargs: (statement.sql, tuple(params))  # type: ignore[method-assign]
        # Shallow copies: the kept queryset and query are only read. (copy.copy would evaluate a queryset.)
        query = _shallow_copy(original.query)
        query.get_compiler = lambda *args, **kwargs: compiler  # type: ignore[method-assign]
        bound = _shallow_copy(original)  # no rows yet: a kept queryset is never evaluated
        bound._query = query
        return bound


def compiled_once(**placeholders: type) -> Callable[[Callable[..., QuerySet[Any, Any]]], CompiledRead]:
    """Declare a read compiled once: `@compiled_once(day=datetime.date)` over `def build(user, *, day)`. The build's
    positional arguments are its key (a user counts as their key and role); each keyword is a placeholder of the
    given type (int, str, date, or an aware datetime), which no lookup may rewrite (no `__icontains`) and which may
    not be None. An int is a key, compared for equality: one past what a column can hold matches no row."""

    def declare(build: Callable[..., QuerySet[Any, Any]]) -> CompiledRead:
        return functools.wraps(build)(CompiledRead(build, placeholders))

    return declare
