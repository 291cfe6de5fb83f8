"""A portal page a patient reaches from another has a way back to it, as the rest of the portal does: on a phone the
header's menu was the only way out of their account, their reminders and their health questions."""

import pytest
from django.urls import reverse

from tests.measures.factories import due_assessment


@pytest.mark.parametrize(
    "name, back_to, words",
    [
        ("billing:my_account", "portal:home", "← My care"),
        ("integration:preferences", "integration:journal", "← My journal"),
        ("screening:portal_pre_intake", "screening:portal", "← Before your course"),
        ("screening:portal", "portal:home", "← My care"),
        ("portal:history", "portal:home", "← My care"),
        ("alerts:my_safety_plan", "portal:home", "← My care"),
    ],
)
def test_a_portal_page_leads_back_to_where_it_is_reached_from(cast, client_for, name, back_to, words):
    page = client_for(cast.alice_user).get(reverse(name)).content.decode()
    assert f'<a href="{reverse(back_to)}">{words}</a>' in page


def test_a_questionnaire_in_the_portal_leads_back_to_my_care(cast, client_for):
    assessment = due_assessment(cast.alice)
    page = client_for(cast.alice_user).get(reverse("portal:questionnaire", args=[assessment.pk])).content.decode()
    assert f'<a href="{reverse("portal:home")}">← My care</a>' in page
    assert page.index("← My care") < page.index("<h1>")


def test_a_group_its_new_form_and_a_dosing_room_lead_back_to_their_lists(cast, client_for):
    session = cast.dosing_session()
    client = client_for(cast.bob)
    groups = f'<a href="{reverse("program:groups")}">← Groups</a>'
    assert groups in client.get(reverse("program:group", args=[session.group.pk])).content.decode()
    assert groups in client.get(reverse("program:group_create")).content.decode()
    room = client.get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert f'<a href="{reverse("dosing:sessions")}">← Dosing sessions</a>' in room
