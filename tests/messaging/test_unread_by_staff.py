"""The admin's unread threads per clinician (issue 19): counted by the database in one grouped read, by the rule the
inbox has always used, and in as many queries however many threads the practice holds."""

import datetime
import random

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts.roles import Role
from kapstone.messaging import selectors
from kapstone.messaging.models import Message, Thread, ThreadRead
from kapstone.patients.models import CareTeamMembership
from tests.conftest import make_patient, make_user

START = timezone.now() - datetime.timedelta(days=30)


def at(minutes: int) -> datetime.datetime:
    return START + datetime.timedelta(minutes=minutes)


def thread_with(patient, messages: list[tuple[bool, int]]) -> Thread:
    """A thread of the patient with the given messages: (from the patient?, minutes after START)."""
    thread = Thread.objects.create(
        patient=patient, subject="Hello", started_by=patient.user, created_at=at(0), last_message_at=at(0)
    )
    for from_patient, minutes in messages:
        author = patient.user if from_patient else thread.started_by
        Message.objects.create(
            thread=thread, author=author, from_patient=from_patient, body="x", created_at=at(minutes)
        )
    return thread


def read(thread: Thread, user, minutes: int) -> None:
    ThreadRead.objects.create(thread=thread, user=user, read_at=at(minutes))


def unread_by_the_rule() -> list[tuple[str, int]]:
    """The rule, written out as the inbox first counted it in Python: for each active clinician, the threads of their
    care-team patients whose latest patient message came after their read mark, or that they never read; most unread
    first, ties by name (last, first) and then key."""
    latest: dict[int, datetime.datetime] = {}
    for message in Message.objects.filter(from_patient=True):
        latest[message.thread_id] = max(message.created_at, latest.get(message.thread_id, message.created_at))
    threads_of_patient: dict[int, list[int]] = {}
    for thread in Thread.objects.filter(pk__in=latest):
        threads_of_patient.setdefault(thread.patient_id, []).append(thread.pk)
    reads = {(mark.thread_id, mark.user_id): mark.read_at for mark in ThreadRead.objects.all()}
    counts = {}
    for membership in CareTeamMembership.objects.select_related("staff"):
        staff = membership.staff
        if not (staff.is_active and staff.is_clinician):
            continue
        for thread_id in threads_of_patient.get(membership.patient_id, []):
            read_at = reads.get((thread_id, staff.pk))
            if read_at is None or read_at < latest[thread_id]:
                counts[staff] = counts.get(staff, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0].last_name, item[0].first_name, item[0].pk))
    return [(staff.display_name, count) for staff, count in ordered]


def unread_on_the_inbox(admin) -> list[tuple[str, int]]:
    return [(row.label, row.count) for row in selectors.unread_overview(user=admin)["by_staff"]]


def test_each_case_of_the_rule(db):
    admin = make_user("admin", Role.ADMIN)
    bob = make_user("bob", Role.PRESCRIBER, last_name="Baker", credentials="MD")
    theo = make_user("theo", Role.THERAPIST, last_name="Tran")
    nina = make_user("nina", Role.NURSE, last_name="Ng")
    gone = make_user("gone", Role.PRESCRIBER, last_name="Gray", is_active=False)
    rhea = make_user("rhea", Role.RESEARCHER, last_name="Reyes")
    patient = make_patient("Alice", "Abernathy", user=make_user("alice", Role.PATIENT), team=[bob, theo, nina, gone])
    CareTeamMembership.objects.create(patient=patient, staff=admin)
    CareTeamMembership.objects.create(patient=patient, staff=rhea)
    outside = make_patient("Olga", "Outside", user=make_user("olga", Role.PATIENT))

    latest_after_read = thread_with(patient, [(True, 10), (False, 20), (True, 30)])
    read(latest_after_read, bob, 20)  # read between the patient's messages: unread for bob
    read(latest_after_read, theo, 30)  # read at the latest patient message: read
    read(latest_after_read, nina, 40)  # read after it: read
    staff_only = thread_with(patient, [(False, 10), (False, 20)])  # no patient message: never counted
    read(staff_only, bob, 5)
    never_read = thread_with(patient, [(True, 50)])
    read(never_read, nina, 49)  # a minute too early: unread for nina as for those who never read it
    thread_with(outside, [(True, 10)])  # nobody's care-team patient: nobody's count

    assert unread_on_the_inbox(admin) == [("Bob Baker, MD", 2), ("Nina Ng", 1), ("Theo Tran", 1)]
    assert unread_on_the_inbox(admin) == unread_by_the_rule()


def test_the_counts_match_the_rule_on_a_varied_practice(db):
    admin = make_user("admin", Role.ADMIN)
    draw = random.Random(19)
    roles = [Role.PRESCRIBER, Role.THERAPIST, Role.NURSE, Role.ADMIN, Role.RESEARCHER]
    # Some share a last name and a first name, so that ties in the count fall back to the key.
    staff = [make_user(f"staff{n}", roles[n % 5], last_name=f"Surname{n % 3}", is_active=n % 7 != 6) for n in range(14)]
    for user in staff[:4]:
        user.first_name = "Sam"
        user.save(update_fields=["first_name"])
    for n in range(12):
        team = draw.sample(staff, draw.randint(0, 5))
        patient = make_patient(f"Patient{n}", "Synthetic", user=make_user(f"patient{n}", Role.PATIENT), team=team)
        for _ in range(draw.randint(0, 3)):
            times = sorted(draw.sample(range(1, 200), draw.randint(0, 4)))
            thread = thread_with(patient, [(draw.random() < 0.6, minutes) for minutes in times])
            for user in draw.sample([*staff, admin], draw.randint(0, 6)):
                mark = draw.choice([*times, 0, 250]) + draw.choice([-1, 0, 0, 1])
                read(thread, user, mark)
    expected = unread_by_the_rule()
    assert len(expected) >= 5 and len({count for _, count in expected}) < len(expected)  # some ties to order
    assert unread_on_the_inbox(admin) == expected


def named(username: str, role: str, first_name: str, last_name: str):
    user = make_user(username, role, last_name=last_name)
    user.first_name = first_name
    user.save(update_fields=["first_name"])
    return user


def test_ties_are_ordered_by_last_name_first_name_then_key(db):
    admin = make_user("admin", Role.ADMIN)
    young = named("young", Role.NURSE, "Amy", "Young")
    zoe = named("zoe", Role.NURSE, "Zoe", "Adams")
    amy = named("amy", Role.THERAPIST, "Amy", "Adams")
    # The same name, a later key: shown after the first Amy Adams (and told apart on the page by her credentials).
    amy_md = named("amy.md", Role.PRESCRIBER, "Amy", "Adams")
    amy_md.credentials = "MD"
    amy_md.save(update_fields=["credentials"])
    for n in range(2):
        patient = make_patient(
            f"Patient{n}", "Synthetic", user=make_user(f"p{n}", Role.PATIENT), team=[young, zoe, amy_md, amy]
        )
        thread_with(patient, [(True, 10)])
    assert unread_on_the_inbox(admin) == [("Amy Adams", 2), ("Amy Adams, MD", 2), ("Zoe Adams", 2), ("Amy Young", 2)]


def _admin_inbox_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("messaging:inbox")).status_code == 200
    return [query["sql"] for query in queries]


def test_the_admin_inbox_reads_as_much_however_many_threads(cast, client_for):
    """Issue 19: the unread count per clinician is one grouped read, whatever the number of threads, patients and
    read marks."""
    alice_thread = thread_with(cast.alice, [(True, 10)])
    admin = client_for(cast.admin)
    _admin_inbox_queries(admin)
    before = _admin_inbox_queries(admin)
    read(alice_thread, cast.bob, 20)
    for n in range(6):
        patient = make_patient(
            f"More{n}", "Patients", user=make_user(f"more{n}", Role.PATIENT), team=[cast.bob, cast.nurse, cast.charlie]
        )
        for _ in range(3):
            thread = thread_with(patient, [(True, 10), (False, 20), (True, 30)])
            read(thread, cast.nurse, 40)
    after = _admin_inbox_queries(admin)
    assert len(after) == len(before)
    page = admin.get(reverse("messaging:inbox"))
    assert [(row.label, row.count) for row in page.context["by_staff"]] == [
        (cast.bob.display_name, 18),
        (cast.charlie.display_name, 18),
        (cast.nurse.display_name, 1),
        (cast.therapist.display_name, 1),
    ]
