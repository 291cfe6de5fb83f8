"""The security probes' walk over the permission matrix's routes: each route's rows are made, probed and rolled
back on their own, as the permission matrix makes them, so one route's writes (a sign-out, a second open alert) do
not reach the next."""

import contextlib
from collections.abc import Iterator

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.urls import reverse

from kapstone.creativity.services import CreativityError
from tests.conftest import Cast
from tests.faults.test_view_fuzz import WRITE
from tests.matrix import Route
from tests.test_mixed_ids import UNWATCHED_TABLE_PREFIXES


@contextlib.contextmanager
def rolled_back() -> Iterator[None]:
    """Everything written inside is rolled back at its end, however it ends (a `continue` to the next route too)."""
    with transaction.atomic():
        try:
            yield
        finally:
            transaction.set_rollback(True)


def route_url(name: str, route: Route, cast: Cast) -> str | None:
    """The route's address, its rows made beside those made before; None where they clash, as the permission matrix
    makes each alone (a second open alert, a creativity task due on a day an earlier route made a dosing day)."""
    try:
        return reverse(name, kwargs=route.kwargs(cast))
    except (ObjectDoesNotExist, CreativityError):
        return None


def tables_written(queries) -> list[str]:
    """The tables the captured statements wrote to, but those a refused request may write (the audit trail...)."""
    return sorted(
        {
            match[1]
            for query in queries
            for match in [WRITE.match(query["sql"])]
            if match and not match[1].startswith(UNWATCHED_TABLE_PREFIXES)
        }
    )
