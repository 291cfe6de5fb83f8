"""The two rows every signed-in request reads after its session: the user, and the second factor the session was
verified with. Django's ModelBackend and django-otp's middleware read each through the ORM, which builds the same
SELECT again on every request, at more cost than the database's answer (issue 19: about half of what a signed-in
request costs before its page). Here the ORM writes each model's SELECT by primary key once per database, and every
request runs it and builds the instance as the ORM does (its columns, its converters, Model.from_db). What is read,
and every check made of it (an inactive user, the session's hash, a device of another user or unconfirmed), is
Django's and django-otp's own."""

import functools
import threading
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, models, router
from django_otp.middleware import OTPMiddleware
from django_otp.models import Device

# A key no row has (keys count up from 1), compiled into the statement in place of the one asked for, and checked
# to be its only parameter.
_KEY_PLACEHOLDER = -20_231  # in the range of every integer key, even a small one, so the ORM compiles the comparison


@dataclass(frozen=True)
class _Statement:
    sql: str
    attnames: list[str]
    converters: list[tuple[int, list, Any]]  # (column, its converters, the column's expression), as the ORM keeps them


class RowByPrimaryKey:
    """One model's row by its primary key, through its default manager, in a statement the ORM wrote once."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self._statements: dict[str, _Statement] = {}
        self._lock = threading.Lock()

    def _statement(self, using: str) -> _Statement:
        statement = self._statements.get(using)
        if statement is None:
            with self._lock:
                queryset = self.model._default_manager.using(using).filter(pk=_KEY_PLACEHOLDER).order_by()
                compiler = queryset.query.get_compiler(using)
                sql, params = compiler.as_sql()
                if tuple(params) != (_KEY_PLACEHOLDER,):
                    raise ImproperlyConfigured(f"{self.model.__name__}'s manager filters its rows: read it by the ORM.")
                columns = [column for column, _, _ in compiler.select]
                converters = compiler.get_converters(columns)
                statement = _Statement(
                    sql=sql,
                    attnames=[column.target.attname for column in columns],
                    converters=[(position, found, expression) for position, (found, expression) in converters.items()],
                )
                self._statements[using] = statement
        return statement

    def get(self, pk: Any) -> models.Model | None:
        using = router.db_for_read(self.model)
        statement = self._statement(using)
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(statement.sql, [self.model._meta.pk.get_db_prep_value(pk, connection)])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for position, found, expression in statement.converters:
            for converter in found:
                values[position] = converter(values[position], expression, connection)
        return self.model.from_db(using, statement.attnames, values)


@functools.cache
def _users() -> RowByPrimaryKey:
    return RowByPrimaryKey(get_user_model())  # once the apps are loaded


class SignedInUserBackend(ModelBackend):
    """Django's ModelBackend, reading the signed-in user of each request by a statement written once."""

    def get_user(self, user_id):
        user = _users().get(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


class VerifiedDeviceMiddleware(OTPMiddleware):
    """django-otp's middleware, reading the session's verified device by a statement written once per kind of device."""

    _devices: dict[type[models.Model], RowByPrimaryKey] = {}
    _devices_lock = threading.Lock()

    def _device_from_persistent_id(self, persistent_id: str):
        # The id names the device's model and its key, as django-otp's Device.from_persistent_id reads it.
        try:
            model_label, device_id = self._normalize_persistent_id(persistent_id).rsplit("/", 1)
            app_label, model_name = model_label.split(".")
            device_model = apps.get_model(app_label, model_name)
            key = int(device_id)
        except (ValueError, LookupError):
            return None
        if not issubclass(device_model, Device):
            return None
        reader = self._devices.get(device_model)
        if reader is None:
            with self._devices_lock:
                reader = self._devices.setdefault(device_model, RowByPrimaryKey(device_model))
        return reader.get(key)
