import datetime

from django.utils import timezone

from kapstone.messaging import services


def alice_thread(cast, body="How should I prepare for Tuesday?"):
    return services.thread_start(actor=cast.alice_user, patient=cast.alice, subject="Preparing", body=body).thread


def upcoming_session(cast):
    """An integration session of alice's group tomorrow, facilitated by the therapist."""
    from kapstone.program.models import GroupSession

    dosing = cast.dosing_session()
    existing = GroupSession.objects.filter(group=dosing.group, kind=GroupSession.Kind.INTEGRATION).first()
    if existing:
        return existing
    start = timezone.now() + datetime.timedelta(days=1)
    session = GroupSession.objects.create(
        group=dosing.group,
        kind=GroupSession.Kind.INTEGRATION,
        number=1,
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=1),
        follows_dosing=dosing,
    )
    session.facilitators.set([cast.therapist])
    return session


def change_request(cast, kind="reschedule"):
    return services.session_change_request(
        actor=cast.alice_user, session=upcoming_session(cast), kind=kind, note="A work trip"
    )
