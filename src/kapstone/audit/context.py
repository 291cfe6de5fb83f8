"""Who is acting and from where, for the request or command under way."""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class ActorContext:
    actor_id: int | None
    actor_label: str
    ip_address: str = ""


_current: ContextVar[ActorContext | None] = ContextVar("kapstone_audit_actor", default=None)


def current() -> ActorContext | None:
    return _current.get()


def set_current(context: ActorContext | None):
    return _current.set(context)


def reset(token) -> None:
    _current.reset(token)


def for_command(name: str) -> ActorContext:
    return ActorContext(actor_id=None, actor_label=f"system:{name}")
