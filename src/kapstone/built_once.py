"""Querysets built once a process for each member of staff (issue 19).

A page's reads each test rows against the care-team rule (patients.selectors.patient_visible_to and the like), and
building that test (its EXISTS subqueries, resolved against the outer query) took longer than the database took to
answer. What the test asks depends only on who the user is and their role, so a read that takes nothing else from
its caller, or adds what it takes (a day, the time now) as a filter, is built once for each user and role and copied
for each request. (kapstone.compiled_once goes further, compiling a read to SQL once.) Only the query is kept,
never its rows: every call gets a fresh copy and reads afresh, so a kept query can never hand out stale rows.
"""

import functools
from collections.abc import Callable
from typing import TypeVar

from django.db.models import Model, QuerySet

from kapstone.accounts.models import User

# Enough for every member of staff of a practice; past it the built queries are dropped and built again.
USERS_KEPT = 512

Row = TypeVar("Row", bound=Model)


def built_once_per_user(build: Callable[[User], QuerySet[Row]]) -> Callable[[User], QuerySet[Row]]:
    """`build(user)` kept for each user and role (a changed role builds it anew); each call gets a fresh copy, so
    rows are never shared between calls."""
    built: dict[tuple[int, str], QuerySet[Row]] = {}

    @functools.wraps(build)
    def for_user(user: User) -> QuerySet[Row]:
        key = (user.pk, user.role)
        query = built.get(key)
        if query is None:
            if len(built) >= USERS_KEPT:
                built.clear()
            query = built[key] = build(user)
        return query.all()

    return for_user
