"""A setting given as JSON is refused with a message, never a server error, whatever the JSON spells: a NUL or half
a surrogate pair as a \\u escape (PostgreSQL refuses the first; no page can be written out with the second, so the
settings page and every page showing the setting failed), nesting deep enough to exhaust Python's stack, or a number
with more digits than Python reads. Nothing is stored, and the page still shows."""

import json

import pytest
from django.urls import reverse

from kapstone.practice.models import PracticeSetting
from kapstone.practice.registry import MAX_JSON_DEPTH, Json, SettingRefused, all_specs
from kapstone.program.sites import SITES_KEY
from tests.conftest import signed_in_client

JSON_KEYS = sorted(key for key, spec in all_specs().items() if isinstance(spec.kind, Json))
UNKEEPABLE = [
    ('["Main office\\u0000"]', "cannot be stored"),
    ('["North \\ud800"]', "cannot be stored"),
    ('{"\\udfff": ["99213"]}', "cannot be stored"),
    ("[" * 3_000 + "]" * 3_000, "nested too deeply"),
    ('{"a": ' * 2_000 + "1" + "}" * 2_000, "nested too deeply"),
    ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), f"more than {MAX_JSON_DEPTH} levels deep"),
    ("[-" + "9" * 5_000 + "]", "does not read"),
]


def post(cast, key, value):
    who = cast.bob if all_specs()[key].clinical else cast.admin
    client = signed_in_client(who)
    data = {"key": key, "action": "change", "value": value, "reason": "Checking what the page refuses"}
    return client, client.post(reverse("practice:settings"), data)


@pytest.mark.parametrize("key", JSON_KEYS)
@pytest.mark.parametrize("value, message", UNKEEPABLE, ids=lambda v: v[:20] if isinstance(v, str) else v)
def test_json_no_page_can_keep_is_refused_with_a_message_and_nothing_is_stored(cast, key, value, message):
    client, response = post(cast, key, value)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not PracticeSetting.objects.filter(key=key).exists()
    assert client.get(reverse("practice:settings")).status_code == 200


def test_a_site_named_with_an_emoji_escape_pair_is_kept(cast):
    _, response = post(cast, SITES_KEY, json.dumps(["Main office", "North \U0001f33f"]))
    assert response.status_code == 302
    assert PracticeSetting.objects.get(key=SITES_KEY).value == ["Main office", "North \U0001f33f"]


def test_the_check_refuses_a_value_built_in_code_as_well():
    kind = all_specs()[SITES_KEY].kind
    with pytest.raises(SettingRefused, match="cannot be stored"):
        kind.check(["Main\x00"])
    deep: list = []
    for _ in range(10_000):  # deeper than Python's stack: the walk does not recurse
        deep = [deep]
    with pytest.raises(SettingRefused, match="levels deep"):
        kind.check(deep)
