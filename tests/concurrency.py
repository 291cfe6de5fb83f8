"""Calls raced against each other, for the tests of row locks on PostgreSQL."""

import contextlib
import threading
from collections.abc import Callable

from django.db import connections


def all_at_once(calls: list[Callable[[], object]]) -> list[BaseException]:
    """Runs each call in its own thread and connection, released together; returns what any of them raised."""
    barrier = threading.Barrier(len(calls))
    failures: list[BaseException] = []

    def run(call):
        try:
            barrier.wait()
            call()
        except BaseException as failure:  # noqa: BLE001 - reported to the test thread, which fails on it
            failures.append(failure)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def meeting_of_two() -> Callable[[], None]:
    """A point where two racing calls wait for each other, so that both have done what comes before it before either
    goes on. A call held by a row lock before the point never comes: the other goes on when the wait times out."""
    barrier = threading.Barrier(2, timeout=3)

    def meet() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()

    return meet
