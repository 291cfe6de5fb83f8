"""Reads whose SQL the ORM writes once a process (issue 19).

built_once keeps a page's queryset so its care-team test is not built again on every request, but the ORM still
compiled that queryset to SQL on every request: on the staff home and in the dosing room, compiling took a third of
the page's time, more than the database took to answer. A read declared here is built and compiled once for each
key (the user, say) and database, with a placeholder for each value that changes from call to call (a day, a
patient, a list of patients, compiled once for each length); each call binds its values to the same statement and
reads afresh. Its rows are made by the ORM's own iterables (model instances with their select_related rows and
prefetches, values, values_list), so a compiled read returns what the queryset itself would; its bounded count is
the one kapstone.paging makes. A prefetch is compiled on every call, as the ORM filters it by the rows read: a read
that every page load runs reads its rows' related rows with compiled reads of their own, keyed by the rows' keys,
and gives them to the rows as prefetched (as_prefetched).

The build function must take every value that can change as a placeholder: anything else it reads (the time now, a
practice setting) would be compiled into the statement and kept. To catch a read that breaks this rule, each
statement is compiled twice with different placeholder values, and it is refused (ImproperlyConfigured) unless the
two differ exactly where a placeholder's value goes.
"""

import copy
import dataclasses
import datetime
import functools
import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.db import connections
from django.db.models import ManyToOneRel, Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler

from kapstone.accounts.models import User
from kapstone.paging import keys_up_to

Row = TypeVar("Row")

# Enough for every member of staff of a practice; past it the compiled reads are dropped and compiled again.
KEYS_KEPT = 512


@dataclass(frozen=True)
class _Kind:
    """How a placeholder of one type is written: the values to compile with (the nth placeholder value of a read,
    counted across its lists' items too), and the ORM's preparation of a value for the database (what a lookup on a
    field of that type does)."""

    first: Callable[[int], Any]
    second: Callable[[int], Any]
    prepared: Callable[[Any, Any], Any]  # (connection, value) -> the parameter

    def accepts(self, python_type: type, value: Any) -> bool:
        # bool is an int and datetime a date to isinstance, but neither is written as the other.
        return type(value) is python_type or (python_type is str and isinstance(value, str))


def _as_is(connection: Any, value: Any) -> Any:
    return value


def _aware(connection: Any, value: datetime.datetime) -> Any:
    if value.tzinfo is None:
        raise ValueError("A compiled read compares aware datetimes only.")
    return connection.ops.adapt_datetimefield_value(value)


# The values compiled with never meet: each kind's second values start past the last of its first ones.
_MOST_VALUES = 2_000

_KINDS: dict[type, _Kind] = {
    # Numbers below a small integer's limit, so that no field's range check turns the comparison into no rows.
    int: _Kind(first=lambda n: 20_231 + n, second=lambda n: 30_231 + n, prepared=_as_is),
    str: _Kind(
        first=lambda n: f"\x1fcompiled-once {n} a", second=lambda n: f"\x1fcompiled-once {n} b", prepared=_as_is
    ),
    datetime.date: _Kind(
        first=lambda n: datetime.date(2003, 1, 2) + datetime.timedelta(days=n),
        second=lambda n: datetime.date(2013, 6, 7) + datetime.timedelta(days=n),
        prepared=lambda connection, value: connection.ops.adapt_datefield_value(value),
    ),
    datetime.datetime: _Kind(
        first=lambda n: datetime.datetime(2003, 1, 2, 3, 4, 5, n + 1, tzinfo=datetime.UTC),
        second=lambda n: datetime.datetime(2004, 6, 7, 8, 9, 10, n + 1, tzinfo=datetime.UTC),
        prepared=_aware,
    ),
}
# A list of keys (`patient__in=...`): compiled once for each length, as the ORM writes one parameter an item.
KEYS = list[int]

# A key no column can hold (a number from a URL may be any length) matches no row, as the ORM answers an exact lookup
# past a field's range, rather than reaching the database, which cannot take it.
_KEY_RANGE = range(-(2**63), 2**63)


def _kind(python_type: Any) -> _Kind:
    """The kind of a placeholder's value, or of each item of a list of keys."""
    return _KINDS[int] if python_type == KEYS else _KINDS[python_type]


@dataclass(frozen=True)
class _Slot:
    position: int  # among the statement's parameters
    placeholder: str
    item: int | None  # which item of a list of keys, None for a single value


@dataclass(frozen=True)
class _Statement:
    queryset: QuerySet[Any, Any]
    compiler: SQLCompiler | None  # None: read through the ORM on each call (see CompiledRead._statement)
    sql: str
    params: tuple[Any, ...]
    slots: tuple[_Slot, ...]
    # How each column is read (SQLCompiler.get_converters of its selected columns), worked out once for each
    # connection that runs it: the ORM worked them out again on every call, a tenth of the dosing room's reads.
    # Per connection, as a backend's converters may be its connection's methods (SQLite's reads its time zone).
    converters: "weakref.WeakKeyDictionary[Any, dict[int, Any]]" = dataclasses.field(
        default_factory=weakref.WeakKeyDictionary, compare=False
    )

    def converters_of(self, compiler: SQLCompiler, expressions: list[Any]) -> dict[int, Any]:
        """compiler.get_converters(expressions), kept for the statement's own selected columns."""
        assert self.compiler is not None  # only a compiled statement is bound
        selected = [column[0] for column in self.compiler.select[0 : self.compiler.col_count]]
        if len(expressions) != len(selected) or any(a is not b for a, b in zip(expressions, selected, strict=True)):
            return type(compiler).get_converters(compiler, expressions)
        kept = self.converters.get(compiler.connection)
        if kept is None:
            kept = self.converters[compiler.connection] = type(compiler).get_converters(compiler, expressions)
        return kept


def _compiled(queryset: QuerySet[Any, Any]) -> tuple[SQLCompiler | None, str, tuple[Any, ...]]:
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return None, "", ()
    if not sql:
        return None, "", ()
    return compiler, sql, tuple(params)


def _as_built(queryset: QuerySet[Any, Any]) -> QuerySet[Any, Any]:
    return queryset


@dataclass(frozen=True)
class _KeysUpTo:
    """A read's keys, no more than `limit` of them, as a bounded count counts them."""

    limit: int

    def __call__(self, queryset: QuerySet[Any, Any]) -> QuerySet[Any, Any]:
        return keys_up_to(queryset, self.limit)


def _shallow_copy(instance: Any) -> Any:
    duplicate = instance.__class__.__new__(instance.__class__)
    duplicate.__dict__.update(instance.__dict__)
    return duplicate


def _key_part(argument: Any) -> Hashable:
    # A user's reads depend on who they are and on their role; a changed role compiles anew.
    if isinstance(argument, User):
        return ("user", argument.pk, argument.role)
    return argument


class CompiledRead(Generic[Row]):
    """One read, compiled once for each key and database; calling it returns a list of rows."""

    def __init__(self, build: Callable[..., QuerySet[Any, Row]], placeholders: dict[str, Any]) -> None:
        unknown = [
            name for name, python_type in placeholders.items() if python_type not in _KINDS and python_type != KEYS
        ]
        if unknown:
            raise ImproperlyConfigured(f"{build.__qualname__}: no placeholder of that type for {unknown}.")
        self.build = build
        self.placeholders = placeholders
        self._statements: dict[tuple[Hashable, ...], _Statement] = {}
        self._lock = threading.Lock()

    def _values_to_compile_with(self, kind: str, lengths: dict[str, int]) -> tuple[dict[str, Any], list[_Slot]]:
        """The placeholders' values for one compilation, and a slot (with no position yet) for each value written."""
        values: dict[str, Any] = {}
        written: list[_Slot] = []
        for name, python_type in self.placeholders.items():
            make = getattr(_kind(python_type), kind)
            if python_type == KEYS:
                values[name] = [make(len(written) + item) for item in range(lengths[name])]
                written += [_Slot(position=-1, placeholder=name, item=item) for item in range(lengths[name])]
            else:
                values[name] = make(len(written))
                written.append(_Slot(position=-1, placeholder=name, item=None))
        return values, written

    def _statement(
        self, arguments: tuple[Any, ...], lengths: dict[str, int], shape: Callable[[QuerySet[Any, Any]], Any]
    ) -> _Statement:
        first_values, written = self._values_to_compile_with("first", lengths)
        second_values, _ = self._values_to_compile_with("second", lengths)
        queryset = shape(self.build(*arguments, **first_values))
        compiler, sql, params = _compiled(queryset)
        if compiler is None:
            # The ORM found the read empty (no role to see anything; an empty list), which may rest on the values it
            # was given: each call goes through the ORM.
            return _Statement(queryset=queryset, compiler=None, sql="", params=(), slots=())
        second_compiler, second_sql, second_params = _compiled(shape(self.build(*arguments, **second_values)))
        name = self.build.__qualname__
        if second_compiler is None or sql != second_sql or len(params) != len(second_params):
            raise ImproperlyConfigured(f"{name}: its SQL changes with its placeholders' values.")
        connection = connections[queryset.db]

        def value(values: dict[str, Any], slot: _Slot) -> Any:
            given = values[slot.placeholder] if slot.item is None else values[slot.placeholder][slot.item]
            return _kind(self.placeholders[slot.placeholder]).prepared(connection, given)

        slots = []
        for position, (first, second) in enumerate(zip(params, second_params, strict=True)):
            if first == second and type(first) is type(second):
                continue  # a constant of the read (the user's key, a status)
            found = [
                slot for slot in written if first == value(first_values, slot) and second == value(second_values, slot)
            ]
            if len(found) != 1:
                raise ImproperlyConfigured(
                    f"{name}: parameter {position} changes but is not one placeholder's value as given (a lookup that "
                    "rewrites it, or a value the read takes from elsewhere, such as the time now)."
                )
            slots.append(_Slot(position=position, placeholder=found[0].placeholder, item=found[0].item))
        if {(slot.placeholder, slot.item) for slot in slots} != {(slot.placeholder, slot.item) for slot in written}:
            raise ImproperlyConfigured(f"{name}: a placeholder is not in its SQL.")
        return _Statement(queryset=queryset, compiler=compiler, sql=sql, params=params, slots=tuple(slots))

    def _bindable(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """The values as bound, without the keys of a list that no column can hold; None when a single key is such a
        key, so no row can match. Raises TypeError for values of the wrong type."""
        if set(values) != set(self.placeholders):
            raise TypeError(f"{self.build.__qualname__} takes the placeholders {sorted(self.placeholders)}.")
        bindable = dict(values)
        for name, python_type in self.placeholders.items():
            given = values[name]
            if python_type == KEYS:
                if not isinstance(given, list | tuple) or not all(type(item) is int for item in given):
                    raise TypeError(f"{self.build.__qualname__}: {name} must be a list of whole numbers.")
                bindable[name] = [item for item in given if item in _KEY_RANGE]
            elif not _KINDS[python_type].accepts(python_type, given):
                raise TypeError(f"{self.build.__qualname__}: {name} must be a {python_type.__name__}.")
            elif python_type is int and given not in _KEY_RANGE:
                return None
        return bindable

    def _kept(self, arguments: tuple[Any, ...], values: dict[str, Any], shape: _KeysUpTo | None) -> _Statement | None:
        """The statement of this key (compiled now if it is new), or None when the read goes through the ORM."""
        lengths = {name: len(values[name]) for name, python_type in self.placeholders.items() if python_type == KEYS}
        if sum(lengths.values()) + len(self.placeholders) > _MOST_VALUES:
            return None  # too many to compile with values that never meet
        # A count is its own statement, for each bound it counts to.
        key = (*(_key_part(argument) for argument in arguments), *lengths.values(), shape and shape.limit)
        statement = self._statements.get(key)
        if statement is None:
            with self._lock:
                if len(self._statements) >= KEYS_KEPT:
                    self._statements.clear()
                statement = self._statements[key] = self._statement(arguments, lengths, shape or _as_built)
        return statement if statement.compiler is not None else None

    def __call__(self, *arguments: Any, **given: Any) -> list[Row]:
        values = self._bindable(given)
        if values is None:
            return []
        statement = self._kept(arguments, values, None)
        if statement is None:
            return list(self.build(*arguments, **values))
        return list(self._bound(statement, values))

    def count(self, *arguments: Any, at_most: int, **given: Any) -> int:
        """How many rows the read has, counted no further than `at_most` (kapstone.paging's bound), as the ORM counts
        a sliced queryset: the rows' keys, limited, counted by the database."""
        values = self._bindable(given)
        if values is None:
            return 0
        statement = self._kept(arguments, values, _KeysUpTo(at_most))
        if statement is None:
            return _KeysUpTo(at_most)(self.build(*arguments, **values)).count()
        # The statement is the ORM's, with its parameters bound by the driver; the count around it is how the ORM
        # counts a sliced queryset.
        counting = f'SELECT COUNT(*) FROM ({statement.sql}) "counted"'  # noqa: S608
        with connections[statement.queryset.db].cursor() as cursor:
            cursor.execute(counting, self._params(statement, values))
            return cursor.fetchone()[0]

    def _params(self, statement: _Statement, values: dict[str, Any]) -> tuple[Any, ...]:
        connection = connections[statement.queryset.db]
        params = list(statement.params)
        for slot in statement.slots:
            given = values[slot.placeholder] if slot.item is None else values[slot.placeholder][slot.item]
            params[slot.position] = _kind(self.placeholders[slot.placeholder]).prepared(connection, given)
        return tuple(params)

    def _bound(self, statement: _Statement, values: dict[str, Any]) -> QuerySet[Any, Any]:
        """The kept queryset, with a copy of its compiler that runs the kept SQL with this call's values."""
        original = statement.queryset
        connection = connections[original.db]
        params = self._params(statement, values)
        assert statement.compiler is not None  # a statement without one is read through the ORM
        compiler = copy.copy(statement.compiler)
        # The kept compiler knows its columns and how to read them; only the connection is this thread's own.
        compiler.connection = connection
        compiler.as_sql = lambda *args, **kwargs: (statement.sql, params)  # type: ignore[method-assign]
        compiler.get_converters = functools.partial(statement.converters_of, compiler)  # type: ignore[method-assign]
        # Shallow copies: the kept queryset and query are only read. (copy.copy would evaluate a queryset.)
        query = _shallow_copy(original.query)
        query.get_compiler = lambda *args, **kwargs: compiler
        bound = _shallow_copy(original)  # no rows yet: a kept queryset is never evaluated
        bound._query = query
        return bound


def compiled_once(**placeholders: Any) -> Callable[[Callable[..., QuerySet[Any, Row]]], CompiledRead[Row]]:
    """Declare a read compiled once: `@compiled_once(day=datetime.date)` over `def build(user, *, day)`. The build's
    positional arguments are its key (a user counts as their key and role); each keyword is a placeholder of the
    given type (int, str, date, an aware datetime, or KEYS: a list of whole numbers), which no lookup may rewrite (no
    `__icontains`) and which may not be None. A number is a key, compared for equality: one past what a column can
    hold matches no row."""

    def declare(build: Callable[..., QuerySet[Any, Row]]) -> CompiledRead[Row]:
        read = CompiledRead(build, placeholders)
        functools.update_wrapper(read, build)
        return read

    return declare


def as_prefetched(instances: Sequence[Model], related_name: str, rows: Iterable[Model]) -> None:
    """Gives each of `instances` its rows of the reverse foreign key `related_name` among `rows` (read for them all, in
    the order each instance's rows are to be listed), as prefetch_related does: `instance.<related_name>.all()`
    answers them without a query, and each row's foreign key is its instance. `rows` come from a compiled read of the
    instances' keys; a prefetch_related on the read itself would compile its own read of them on every call."""
    if not instances:
        return
    relation = type(instances[0])._meta.get_field(related_name)
    if not isinstance(relation, ManyToOneRel) or not relation.field.target_field.primary_key:
        raise ImproperlyConfigured(f"{related_name} is not a reverse foreign key to the instances' keys.")
    field = relation.field
    owners = {instance.pk: instance for instance in instances}
    owned: defaultdict[Any, list[Model]] = defaultdict(list)
    for row in rows:
        owner = owners[getattr(row, field.attname)]
        field.set_cached_value(row, owner)
        owned[owner.pk].append(row)
    for instance in instances:
        # What prefetch_related keeps for each instance: the manager's own queryset (filtered to the instance, so
        # that a further filter or count on it still reads the database) holding the rows as read.
        listed = getattr(instance, related_name).get_queryset()
        listed._result_cache = owned[instance.pk]
        listed._prefetch_done = True
        if not hasattr(instance, "_prefetched_objects_cache"):
            instance._prefetched_objects_cache = {}  # type: ignore[attr-defined]  # as prefetch_related sets it
        instance._prefetched_objects_cache[relation.cache_name] = listed  # type: ignore[attr-defined]
