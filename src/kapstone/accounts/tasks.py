"""Background work for logins: the password reset message, sent by a worker, and the sweep of ended sessions."""

from celery import shared_task

from kapstone.accounts import services
from kapstone.audit import context


@shared_task(ignore_result=True)
def send_password_reset(identifier: str, ip_address: str = "") -> None:
    """The links and messages of one reset request, recorded as the anonymous visitor's from their address."""
    token = context.set_current(context.ActorContext(None, "anonymous", ip_address))
    try:
        services.password_reset_send(identifier=identifier)
    finally:
        context.reset(token)


@shared_task(ignore_result=True)
def clear_expired_sessions() -> int:
    """Deletes the sessions that have ended (services.sessions_clear_expired)."""
    return services.sessions_clear_expired()
