from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kapstone import bibliography
from kapstone.program import course_templates
from kapstone.program.course_templates import (
    SessionKind,
    SessionTime,
    Severity,
    TemplateError,
    check_session_times,
    load_templates,
    parse_template,
)

from .conftest import NEW_YORK, template_data


def codes(findings, severity=None):
    return [f.code for f in findings if severity is None or f.severity is severity]


def at(year, month, day, hour, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def session(kind, index, start, minutes):
    return SessionTime(kind, index, start, start + timedelta(minutes=minutes))


def test_it_ships_three_cited_default_templates(templates):
    assert set(templates) == {"journey-clinical-style", "group-kap-programme", "field-trip-style"}
    for template in templates.values():
        cited = set(template.field_sources) | set(template.unverified)
        assert "dosing.max_per_week" in template.field_sources
        assert "integration.outer_bound_hours" in template.field_sources
        assert "dosing.count" in cited and "group.max_size" in cited
        assert all(note.strip() for note in template.unverified.values())
        assert template.dosing.max_per_week == 2
        assert template.dosing.staffing.facilitators == 2
        assert template.dosing.staffing.min_prescribers == 1
        assert (template.group.min_size, template.group.max_size) == (3, 4)
        assert template.integration.preferred_window_hours == (24, 48)
        assert template.integration.outer_bound_hours == 72


def test_it_reads_the_group_programme_as_three_preparation_three_dosing_four_integration(templates):
    group = templates["group-kap-programme"]
    assert (group.preparation.count, group.preparation.duration_minutes) == (3, 90)
    assert (group.dosing.count, group.dosing.duration_minutes) == (3, 210)
    assert group.integration.count == 4
    assert group.integration.anchor_dosing(4) is None


def test_it_places_field_trip_integration_after_doses_one_two_and_every_second_one(templates):
    assert templates["field-trip-style"].integration.after_dosing == (1, 2, 4, 6)


def test_it_rejects_a_maximum_spacing_below_the_minimum():
    data = template_data()
    data["dosing"].update(min_days_between=14, max_days_between=7)
    with pytest.raises(TemplateError) as error:
        parse_template(data, origin="mine.yaml")
    assert "mine.yaml: dosing.max_days_between: (7) is less than dosing.min_days_between (14)" in str(error.value)


def test_it_lists_every_problem_at_once():
    data = template_data()
    data["dosing"]["max_per_week"] = 0
    data["group"].update(min_size=5, max_size=4)
    data["integration"]["preferred_window_hours"] = [48, 24]
    with pytest.raises(TemplateError) as error:
        parse_template(data)
    fields = " ".join(error.value.problems)
    assert "dosing.max_per_week" in fields
    assert "group.max_size" in fields
    assert "integration.preferred_window_hours" in fields


def test_it_rejects_a_number_without_a_source_or_a_note():
    data = template_data()
    del data["dosing"]["source"]["max_per_week"]
    with pytest.raises(TemplateError, match="dosing.max_per_week: has no source and is not listed under unverified"):
        parse_template(data)


def test_it_rejects_a_source_id_that_is_not_declared():
    data = template_data()
    data["dosing"]["source"]["count"] = "nowhere"
    with pytest.raises(TemplateError, match="names unknown source 'nowhere'"):
        parse_template(data)


def test_a_field_cites_the_bibliography_and_the_template_shows_the_full_reference():
    data = template_data()
    data["dosing"]["source"]["max_per_week"] = "journey-clinical"
    sources = {source.id: source for source in parse_template(data).sources}
    assert sources["journey-clinical"].citation == bibliography.sources()["journey-clinical"].citation
    assert sources["src"].citation == "Synthetic source for tests"


def test_a_template_table_may_not_redefine_a_bibliography_id():
    data = template_data()
    data["sources"]["seed-practice"] = {"citation": "Something else"}
    with pytest.raises(TemplateError, match="sources.seed-practice: is already in Kapstone's bibliography"):
        parse_template(data)


def test_the_shipped_templates_cite_only_the_bibliography(templates):
    for template in templates.values():
        assert {source.id for source in template.sources} <= set(bibliography.sources()), template.id


def test_it_rejects_an_unverified_default_without_a_note():
    data = template_data()
    del data["dosing"]["source"]["count"]
    data["dosing"]["unverified"] = {"count": " "}
    with pytest.raises(TemplateError, match="needs a note"):
        parse_template(data)


def test_it_flags_unknown_keys_as_likely_typos():
    data = template_data()
    data["dosing"]["max_per_wek"] = 2
    with pytest.raises(TemplateError, match="unknown key"):
        parse_template(data)


def test_it_rejects_integration_after_a_dosing_session_that_does_not_exist():
    data = template_data()
    data["integration"]["after_dosing"] = [1, 2]
    with pytest.raises(TemplateError, match="beyond dosing.count"):
        parse_template(data)


def test_it_rejects_follow_up_windows_that_overlap():
    data = template_data()
    data["follow_ups"].update(offsets_days=[30, 40], window_days=7)
    with pytest.raises(TemplateError, match="overlap"):
        parse_template(data)


def test_it_rejects_two_templates_with_one_id_and_version(tmp_path):
    text = (Path(course_templates.__file__).with_name("templates_data") / "group_kap_programme.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text)
    with pytest.raises(TemplateError, match="already used"):
        load_templates(tmp_path)


def test_it_reports_a_file_that_is_not_yaml(tmp_path):
    (tmp_path / "broken.yaml").write_text("id: [unclosed")
    with pytest.raises(TemplateError, match="broken.yaml: not valid YAML"):
        load_templates(tmp_path)


class TestSessionTimes:
    def test_it_accepts_integration_inside_the_preferred_window(self):
        template = _one_dose_one_integration()
        sessions = [
            session(SessionKind.DOSING, 1, at(2026, 1, 6, 9), 210),
            session(SessionKind.INTEGRATION, 1, at(2026, 1, 7, 14), 60),
        ]
        assert check_session_times(template, sessions, NEW_YORK) == []

    def test_it_warns_when_integration_falls_outside_the_preferred_window(self):
        template = _one_dose_one_integration()
        sessions = [
            session(SessionKind.DOSING, 1, at(2026, 1, 6, 9), 210),
            session(SessionKind.INTEGRATION, 1, at(2026, 1, 6, 16), 60),
        ]
        findings = check_session_times(template, sessions, NEW_YORK)
        assert codes(findings, Severity.WARNING) == ["integration_outside_preferred_window"]
        assert "outside the preferred window of 24-48 h" in findings[0].message

    def test_it_warns_but_does_not_forbid_integration_beyond_the_outer_bound(self):
        template = _one_dose_one_integration()
        sessions = [
            session(SessionKind.DOSING, 1, at(2026, 1, 6, 9), 210),
            session(SessionKind.INTEGRATION, 1, at(2026, 1, 10, 9), 60),
        ]
        findings = check_session_times(template, sessions, NEW_YORK)
        assert codes(findings) == ["integration_outside_outer_bound"]
        assert findings[0].severity is Severity.WARNING

    def test_it_measures_the_integration_window_in_absolute_time_across_spring_forward(self):
        # Dosing ends Sat 2026-03-07 13:30 EST (18:30 UTC); clocks spring forward on Sunday. Monday 14:00 EDT
        # is 18:00 UTC: 47.5 h later, inside the window, though the wall clock suggests 48.5 h.
        template = _one_dose_one_integration()
        dosing = session(SessionKind.DOSING, 1, at(2026, 3, 7, 10), 210)
        inside = [dosing, session(SessionKind.INTEGRATION, 1, at(2026, 3, 9, 14), 60)]
        assert check_session_times(template, inside, NEW_YORK) == []
        outside = [dosing, session(SessionKind.INTEGRATION, 1, at(2026, 3, 9, 14, 45), 60)]
        assert codes(check_session_times(template, outside, NEW_YORK)) == ["integration_outside_preferred_window"]

    def test_it_measures_the_integration_window_in_absolute_time_across_fall_back(self):
        # Dosing ends Sat 2025-11-01 13:30 EDT (17:30 UTC); clocks fall back on Sunday. Monday 13:00 EST is
        # 18:00 UTC: 48.5 h later, outside the window, though the wall clock suggests 47.5 h.
        template = _one_dose_one_integration()
        sessions = [
            session(SessionKind.DOSING, 1, at(2025, 11, 1, 10), 210),
            session(SessionKind.INTEGRATION, 1, at(2025, 11, 3, 13), 60),
        ]
        findings = check_session_times(template, sessions, NEW_YORK)
        assert codes(findings) == ["integration_outside_preferred_window"]
        assert "48.5 h" in findings[0].message

    def test_it_forbids_more_than_two_dosing_sessions_in_a_week(self):
        template = _three_doses()
        monday = at(2026, 1, 5, 9)
        sessions = [session(SessionKind.DOSING, n + 1, monday + timedelta(days=2 * n), 210) for n in range(3)]
        findings = check_session_times(template, sessions, NEW_YORK)
        assert codes(findings, Severity.VIOLATION) == ["dosing_weekly_cap"]
        assert "dosing sessions 1-3 fall within 7 days" in findings[0].message

    def test_it_allows_two_dosing_sessions_a_week_every_week(self):
        template = _three_doses()
        sessions = [
            session(SessionKind.DOSING, 1, at(2026, 1, 5, 9), 210),  # Monday
            session(SessionKind.DOSING, 2, at(2026, 1, 8, 9), 210),  # Thursday
            session(SessionKind.DOSING, 3, at(2026, 1, 12, 9), 210),  # next Monday, 7 days after the first
        ]
        assert check_session_times(template, sessions, NEW_YORK) == []

    def test_it_flags_dosing_sessions_too_close_or_too_far_apart(self):
        template = _three_doses(min_days_between=3, max_days_between=14)
        sessions = [
            session(SessionKind.DOSING, 1, at(2026, 1, 5, 9), 210),
            session(SessionKind.DOSING, 2, at(2026, 1, 6, 9), 210),
            session(SessionKind.DOSING, 3, at(2026, 1, 26, 9), 210),
        ]
        findings = check_session_times(template, sessions, NEW_YORK)
        assert codes(findings, Severity.VIOLATION) == ["dosing_spacing_too_short", "dosing_spacing_too_long"]

    def test_it_flags_integration_before_its_dosing_and_missing_sessions(self):
        template = _one_dose_one_integration()
        sessions = [
            session(SessionKind.INTEGRATION, 1, at(2026, 1, 5, 9), 60),
            session(SessionKind.DOSING, 1, at(2026, 1, 6, 9), 210),
            session(SessionKind.PREPARATION, 1, at(2026, 1, 2, 9), 60),
        ]
        assert set(codes(check_session_times(template, sessions, NEW_YORK), Severity.VIOLATION)) == {
            "session_order",
            "session_not_in_template",
        }

    def test_it_refuses_naive_datetimes(self):
        template = _one_dose_one_integration()
        naive = SessionTime(SessionKind.DOSING, 1, datetime(2026, 1, 5, 9), datetime(2026, 1, 5, 12))
        with pytest.raises(ValueError, match="timezone-aware"):
            check_session_times(template, [naive], NEW_YORK)


def _one_dose_one_integration():
    return parse_template(template_data())


def _three_doses(min_days_between=1, max_days_between=28):
    data = template_data()
    data["dosing"].update(count=3, min_days_between=min_days_between, max_days_between=max_days_between)
    data["integration"]["after_dosing"] = []
    return parse_template(data)
