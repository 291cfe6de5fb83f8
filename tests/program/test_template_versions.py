"""A group follows the course template version it was formed on: a practice's newer version applies to new
groups only, and a group whose version is no longer installed is told so and refused planning, never a 500."""

import datetime

import pytest
import yaml
from django.urls import reverse
from django.utils import timezone

from kapstone.program import planning, services
from kapstone.program.course_templates import load_template_versions, load_templates
from kapstone.program.models import Group, Room

from .test_practice_templates import SHIPPED, own_template, write

KAP_PROGRAMME = "group-kap-programme"


@pytest.fixture
def practice_dir(tmp_path, settings):
    settings.KAPSTONE_COURSE_TEMPLATES_DIR = str(tmp_path)
    return tmp_path


def programme_version_2(folder):
    """The shipped group programme republished by the practice as version 2, with two dosing sessions."""
    data = yaml.safe_load((SHIPPED / "group_kap_programme.yaml").read_text())
    data["version"] = 2
    data["dosing"]["count"] = 2
    data["integration"]["after_dosing"] = [1, 2]
    write(folder, "programme_v2.yaml", data)


def form_group(cast, template_id: str, name: str = "Spring group") -> Group:
    return services.group_create(
        actor=cast.admin,
        name=name,
        template_id=template_id,
        start_date=timezone.localdate() + datetime.timedelta(days=7),
        facilitators=[cast.bob, cast.therapist],
    )


def test_a_practice_override_keeps_the_shipped_version_loaded_beside_it(practice_dir):
    programme_version_2(practice_dir)
    versions = load_template_versions()
    assert versions[(KAP_PROGRAMME, 1)].dosing.count == 3
    assert versions[(KAP_PROGRAMME, 2)].dosing.count == 2
    assert load_templates()[KAP_PROGRAMME].version == 2


def test_a_practice_folder_may_keep_several_versions_of_its_own_template(practice_dir):
    write(practice_dir, "ours_v1.yaml", own_template("ours"))
    write(practice_dir, "ours_v2.yaml", {**own_template("ours"), "version": 2})
    assert {("ours", 1), ("ours", 2)} <= set(load_template_versions())
    assert load_templates()["ours"].version == 2


def test_an_existing_group_keeps_its_version_when_the_practice_publishes_a_newer_one(cast, practice_dir):
    Room.objects.create(name="Cedar room", capacity=4)
    formed_before = form_group(cast, KAP_PROGRAMME)
    programme_version_2(practice_dir)
    formed_after = form_group(cast, KAP_PROGRAMME, name="Summer group")

    assert (formed_before.template_version, formed_after.template_version) == (1, 2)
    assert planning.group_template(formed_before).dosing.count == 3
    assert planning.group_template(formed_after).dosing.count == 2
    assert planning.planning_context(group=formed_before).request.template.version == 1


@pytest.fixture
def orphaned_group(cast, practice_dir):
    """A group formed on the practice's version 1, whose file was then edited into version 2."""
    write(practice_dir, "ours.yaml", own_template("ours"))
    group = form_group(cast, "ours", name="Orphaned group")
    write(practice_dir, "ours.yaml", {**own_template("ours"), "version": 2})
    return group


MISSING_VERSION = (
    "Orphaned group follows version 1 of the course template 'ours', which is no longer installed "
    "(installed: version 2); put that version's file back in the practice's template folder"
)


def test_planning_a_group_whose_version_is_gone_is_refused_with_what_to_do(orphaned_group):
    with pytest.raises(services.PlanRefused) as refusal:
        planning.plan_course(group=orphaned_group)
    assert refusal.value.problems == (MISSING_VERSION,)


def test_the_group_page_says_the_version_is_gone_and_offers_no_planning(cast, client_for, orphaned_group):
    response = client_for(cast.bob).get(reverse("program:group", args=[orphaned_group.pk]))
    assert response.status_code == 200
    assert "template ours (version 1)" in response.text
    assert "this group cannot be planned or adjusted here" in response.text
    assert MISSING_VERSION.replace("'", "&#x27;") in response.text
    assert reverse("program:plan", args=[orphaned_group.pk]) not in response.text


def test_posting_a_plan_for_a_group_whose_version_is_gone_redirects_with_the_reason(cast, client_for, orphaned_group):
    response = client_for(cast.bob).post(reverse("program:plan", args=[orphaned_group.pk]), follow=True)
    assert response.status_code == 200
    assert f"Cannot plan Orphaned group: {MISSING_VERSION}".replace("'", "&#x27;") in response.text
    assert not orphaned_group.sessions.exists()


def test_moving_a_session_of_a_group_whose_version_is_gone_is_refused_and_nothing_moves(cast, client_for):
    session = cast.dosing_session()
    Group.objects.filter(pk=session.group_id).update(template_version=9)
    moved_to = timezone.localtime(session.starts_at) + datetime.timedelta(days=2)
    response = client_for(cast.bob).post(
        reverse("program:session_edit", args=[session.pk]),
        {
            "starts_at": moved_to.strftime("%Y-%m-%dT%H:%M"),
            "room": session.room.pk,
            "facilitators": [cast.bob.pk, cast.therapist.pk],
        },
    )
    assert response.status_code == 400
    assert "follows version 9 of the course template" in response.text
    assert "(installed: version 1)" in response.text
    before = session.starts_at
    session.refresh_from_db()
    assert session.starts_at == before
