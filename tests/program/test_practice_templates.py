"""A practice's own course templates, from the folder KAPSTONE_COURSE_TEMPLATES_DIR names: validated like the
shipped ones, added beside them, and replacing a shipped one only with a higher version."""

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.urls import reverse

from kapstone.program import course_templates, services
from kapstone.program.checks import course_templates_check
from kapstone.program.course_templates import TemplateError, load_templates
from kapstone.program.models import Group

from .conftest import template_data

SHIPPED = Path(course_templates.__file__).with_name("templates_data")


@pytest.fixture
def practice_dir(tmp_path, settings):
    settings.KAPSTONE_COURSE_TEMPLATES_DIR = str(tmp_path)
    return tmp_path


def shipped_journey_with(**changes) -> dict:
    data = yaml.safe_load((SHIPPED / "journey_clinical_style.yaml").read_text())
    data.update(changes)
    return data


def own_template(template_id: str, name: str = "Our course", **sections) -> dict:
    return {**template_data(**sections), "id": template_id, "name": name}


def write(folder: Path, name: str, data: dict) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_without_a_practice_folder_only_the_shipped_templates_load(settings):
    settings.KAPSTONE_COURSE_TEMPLATES_DIR = ""
    assert set(load_templates()) == {"journey-clinical-style", "group-kap-programme", "field-trip-style"}


def test_a_practice_template_with_its_own_id_is_offered_beside_the_shipped_ones(practice_dir):
    write(practice_dir, "ours.yaml", own_template("our-weekly-course", "Our weekly course"))
    templates = load_templates()
    assert templates["our-weekly-course"].name == "Our weekly course"
    assert "journey-clinical-style" in templates


def test_a_practice_template_replaces_a_shipped_one_with_a_higher_version(practice_dir):
    data = shipped_journey_with(version=2)
    data["dosing"]["count"] = 8
    write(practice_dir, "journey.yaml", data)
    journey = load_templates()["journey-clinical-style"]
    assert (journey.version, journey.dosing.count) == (2, 8)


@pytest.mark.parametrize("version", [1, 0])
def test_a_practice_template_cannot_replace_a_shipped_one_at_the_same_or_a_lower_version(practice_dir, version):
    path = write(practice_dir, "journey.yaml", shipped_journey_with(version=version))
    with pytest.raises(TemplateError) as error:
        load_templates()
    (problem,) = error.value.problems
    assert problem.startswith(f"{path}: ")
    if version == 1:
        assert "version: 1 does not override the shipped template 'journey-clinical-style' (version 1)" in problem
    else:
        assert "template.version: must be at least 1" in problem


def test_a_practice_template_is_held_to_the_same_bounds(practice_dir):
    path = write(practice_dir, "thrice.yaml", own_template("thrice-weekly", dosing={"max_per_week": 3}))
    with pytest.raises(TemplateError, match=f"^{path}: dosing.max_per_week: is 3, but must be at most 2"):
        load_templates()


def test_two_practice_templates_with_one_id_and_version_are_refused(practice_dir):
    write(practice_dir, "a.yaml", own_template("ours"))
    write(practice_dir, "b.yaml", own_template("ours"))
    with pytest.raises(TemplateError, match="b.yaml: id: 'ours' version 1 is already used"):
        load_templates()


def test_a_practice_folder_that_does_not_exist_is_refused(settings, tmp_path):
    settings.KAPSTONE_COURSE_TEMPLATES_DIR = str(tmp_path / "missing")
    with pytest.raises(TemplateError, match="KAPSTONE_COURSE_TEMPLATES_DIR: .*missing is not a folder"):
        load_templates()


def test_the_environment_variable_names_the_folder(tmp_path):
    write(tmp_path, "ours.yaml", own_template("from-the-environment"))
    env = {**os.environ, "KAPSTONE_DEMO": "1", "KAPSTONE_COURSE_TEMPLATES_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    listing = "from kapstone.program.course_templates import load_templates; print(sorted(load_templates()))"
    result = subprocess.run(
        [sys.executable, "-m", "kapstone", "shell", "-c", listing], env=env, capture_output=True, text=True, timeout=120
    )
    assert "from-the-environment" in result.stdout, result.stderr


def test_the_start_up_check_lists_every_problem_of_the_practice_templates(practice_dir):
    write(practice_dir, "ours.yaml", own_template("ours", group={"min_size": 1, "max_size": 12}))
    errors = course_templates_check()
    assert [e.id for e in errors] == ["program.E001", "program.E001"]
    assert "group.min_size" in errors[0].msg and "group.max_size" in errors[1].msg


def test_the_start_up_check_passes_with_the_shipped_templates(settings):
    settings.KAPSTONE_COURSE_TEMPLATES_DIR = ""
    assert course_templates_check() == []


def test_a_group_can_be_formed_on_a_practice_template(cast, practice_dir):
    write(practice_dir, "ours.yaml", own_template("ours", "Our course"))
    group = services.group_create(
        actor=cast.admin,
        name="Our group",
        template_id="ours",
        start_date=datetime.date(2030, 1, 7),
        facilitators=[cast.bob, cast.therapist],
    )
    assert (group.template_id, group.min_size, group.max_size) == ("ours", 3, 4)


class TestBrokenPracticeTemplates:
    @pytest.fixture
    def broken(self, practice_dir):
        write(practice_dir, "ours.yaml", own_template("ours", dosing={"facilitators": 1}))

    def test_forming_a_group_is_refused_with_the_problem_and_nothing_is_saved(self, cast, client_for, broken):
        form = {
            "name": "Autumn group",
            "template_id": "journey-clinical-style",
            "start_date": "2030-01-07",
            "facilitators": [cast.bob.pk, cast.therapist.pk],
        }
        response = client_for(cast.bob).post(reverse("program:group_create"), form)
        assert response.status_code == 400
        assert "course templates need fixing first" in response.text
        assert "dosing.facilitators: is 1, but must be exactly 2" in response.text
        assert not Group.objects.exists()

    def test_the_group_page_names_the_problem_instead_of_failing(self, cast, client_for, broken):
        group = cast.dosing_session().group
        response = client_for(cast.bob).get(reverse("program:group", args=[group.pk]))
        assert response.status_code == 200
        assert "dosing.facilitators: is 1, but must be exactly 2" in response.text
        assert "this group cannot be planned or adjusted here" in response.text

    def test_the_service_refuses_to_form_a_group(self, cast, broken):
        with pytest.raises(services.GroupRefused, match="need fixing first"):
            services.group_create(
                actor=cast.admin,
                name="X",
                template_id="journey-clinical-style",
                start_date=datetime.date(2030, 1, 7),
                facilitators=[cast.bob, cast.therapist],
            )
