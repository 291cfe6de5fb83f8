"""A dosing session records its site (one of the practice's sites) and whether it was in the office or supervised at
home."""

import pytest
from django.urls import reverse

from kapstone.audit.models import AuditEvent
from kapstone.practice.settings_store import practice_value_set
from kapstone.program import services
from kapstone.program.models import GroupSession
from kapstone.program.practice_settings import SETTINGS
from kapstone.program.sites import SITES_KEY, check_sites
from tests.conftest import signed_in_client


def post_site(cast, user, **fields):
    session = cast.dosing_session()
    data = {f"site-{key}": value for key, value in fields.items()}
    return signed_in_client(user).post(reverse("program:session_site", args=[session.pk]), data), session


def test_staff_record_the_site_and_setting_and_it_is_audited(cast):
    practice_value_set(actor=None, key=SITES_KEY, value=["Main office", "North clinic"], reason="two sites")
    response, session = post_site(cast, cast.nurse, site="North clinic", dosing_setting="supervised_home")
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.site, session.dosing_setting) == ("North clinic", GroupSession.DosingSetting.SUPERVISED_HOME)
    assert AuditEvent.objects.filter(object_type="group_session.site", object_id=str(session.pk)).exists()


def test_the_session_page_offers_the_practice_sites(cast):
    session = cast.dosing_session()
    page = signed_in_client(cast.bob).get(reverse("program:session_edit", args=[session.pk])).content.decode()
    assert "Where the doses are taken" in page and "Main office" in page and "Supervised at home" in page


@pytest.mark.parametrize(
    "fields", [{"site": "Moon base", "dosing_setting": "office"}, {"site": "Main office", "dosing_setting": "car"}]
)
def test_an_unknown_site_or_setting_is_refused_with_nothing_saved(cast, fields):
    response, session = post_site(cast, cast.bob, **fields)
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    session.refresh_from_db()
    assert session.site == ""


def test_a_clinician_who_cannot_see_the_group_gets_404(cast):
    response, session = post_site(cast, cast.charlie, site="Main office", dosing_setting="office")
    assert response.status_code == 404
    session.refresh_from_db()
    assert session.site == ""


def test_the_service_refuses_a_site_off_the_list_and_a_session_that_is_not_dosing(cast):
    session = cast.dosing_session()
    with pytest.raises(services.PlanRefused, match="not one of the practice's sites"):
        services.session_site_set(actor=cast.bob, session=session, site="Moon base", dosing_setting="office")
    session.kind = GroupSession.Kind.INTEGRATION
    with pytest.raises(services.PlanRefused, match="Only a dosing session"):
        services.session_site_set(actor=cast.bob, session=session, site="Main office", dosing_setting="office")


@pytest.mark.parametrize("value", [[], "Main office", ["A", "a"], [""], ["x" * 81]])
def test_the_sites_setting_refuses_bad_lists(value):
    with pytest.raises(ValueError):
        check_sites(value)


def test_the_sites_setting_is_declared_with_its_default():
    spec = next(spec for spec in SETTINGS if spec.key == SITES_KEY)
    assert spec.default == ["Main office"] and not spec.clinical
