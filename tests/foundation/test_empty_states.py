"""A page with nothing to list yet says what comes next, not only that there is nothing."""

from django.urls import reverse


def test_a_missing_safety_plan_says_who_writes_it(cast, client_for):
    url = reverse("alerts:safety_plan", args=[cast.alice.pk])
    page = client_for(cast.bob).get(url).content.decode()
    assert "No safety plan yet: write it with the patient below" in page
    assert client_for(cast.charlie).get(url).status_code == 404


def test_an_empty_group_list_says_how_a_group_starts(cast, client_for):
    page = client_for(cast.nurse).get(reverse("program:groups")).content.decode()
    assert "No groups yet: start one with “New group”" in page


def test_an_empty_dosing_session_list_says_where_sessions_come_from(cast, client_for):
    page = client_for(cast.nurse).get(reverse("dosing:sessions")).content.decode()
    assert "they are listed here once a group's course is planned" in page
    assert f'<a href="{reverse("program:groups")}">Groups</a>' in page


def test_a_patient_with_no_session_booked_is_told_who_books_them(cast, client_for):
    from kapstone.program.models import GroupSession

    session = cast.dosing_session()  # alice enrolled in its group
    GroupSession.objects.filter(group=session.group).delete()
    page = client_for(cast.alice_user).get(reverse("portal:home")).content.decode()
    assert "No sessions are booked yet. Your care team books them" in page
