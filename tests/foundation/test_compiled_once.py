"""Reads compiled once (kapstone.compiled_once) answer as their queryset would, from the database on every call, with
each call's own values; a read whose SQL depends on anything but its placeholders is refused."""

import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Prefetch
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapstone.compiled_once import KEYS, as_prefetched, compiled_once
from kapstone.patients.models import CareTeamMembership, Diagnosis, Patient
from kapstone.patients.selectors import patients_visible_to
from tests.conftest import make_patient


@compiled_once(born_after=datetime.date, family=str)
def _team_patients(user, *, born_after, family):
    return (
        patients_visible_to(user)
        .filter(date_of_birth__gt=born_after, family_name=family)
        .select_related("user")
        .prefetch_related(Prefetch("diagnoses", queryset=Diagnosis.objects.order_by("pk")))
        .order_by("pk")
    )


@compiled_once(added_since=datetime.datetime, staff_id=int)
def _memberships(*, added_since, staff_id):
    return (
        CareTeamMembership.objects.filter(added_at__gte=added_since, staff_id=staff_id)
        .order_by("pk")
        .values_list("patient_id", "is_lead")
    )


def _by_the_orm(user, *, born_after, family):
    return list(_team_patients.build(user, born_after=born_after, family=family))


@pytest.mark.django_db
def test_a_compiled_read_returns_the_querysets_rows_with_their_related_rows(cast):
    for family in ("Abernathy", "Nobody"):
        for born_after in (datetime.date(1970, 1, 1), datetime.date(1990, 1, 1)):
            compiled = _team_patients(cast.bob, born_after=born_after, family=family)
            assert compiled == _by_the_orm(cast.bob, born_after=born_after, family=family)
    alice = _team_patients(cast.bob, born_after=datetime.date(1970, 1, 1), family="Abernathy")[0]
    with CaptureQueriesContext(connection) as reads:
        assert alice.user.username == "alice"
        assert [d.icd10_code for d in alice.diagnoses.all()] == ["F33.2"]
    assert len(reads) == 0  # the select_related user and the prefetched diagnoses came with the rows


@pytest.mark.django_db
def test_a_compiled_read_reads_afresh_and_keeps_each_users_own_rows(cast):
    born_after = datetime.date(1970, 1, 1)
    joined = make_patient("Newly", "Abernathy", team=[cast.bob])
    assert joined in _team_patients(cast.bob, born_after=born_after, family="Abernathy")
    assert joined not in _team_patients(cast.charlie, born_after=born_after, family="Abernathy")
    joined.care_team_memberships.all().delete()
    assert joined not in _team_patients(cast.bob, born_after=born_after, family="Abernathy")
    # A changed role compiles its own read: a researcher sees no patient.
    cast.bob.role = cast.researcher.role
    assert _team_patients(cast.bob, born_after=born_after, family="Abernathy") == []


@pytest.mark.django_db
def test_a_compiled_read_binds_datetimes_and_numbers_and_runs_one_query(cast):
    since = timezone.now() - datetime.timedelta(hours=1)
    expected = list(
        CareTeamMembership.objects.filter(added_at__gte=since, staff=cast.bob)
        .order_by("pk")
        .values_list("patient_id", "is_lead")
    )
    assert expected
    with CaptureQueriesContext(connection) as reads:
        assert _memberships(added_since=since, staff_id=cast.bob.pk) == expected
    assert len(reads) == 1
    assert _memberships(added_since=timezone.now() + datetime.timedelta(hours=1), staff_id=cast.bob.pk) == []
    assert _memberships(added_since=since, staff_id=cast.admin.pk) == []
    # A key past any column's range (from a URL, say) matches nothing, as the ORM's exact lookup does.
    assert _memberships(added_since=since, staff_id=2**64) == []


@pytest.mark.django_db
def test_a_compiled_read_refuses_values_it_cannot_bind(cast):
    with pytest.raises(TypeError):
        _memberships(added_since=datetime.datetime(2026, 1, 1), staff_id=None)
    with pytest.raises(TypeError):
        _memberships(added_since=datetime.date(2026, 1, 1), staff_id=cast.bob.pk)  # a date is not a datetime
    with pytest.raises(TypeError):
        _memberships(added_since=timezone.now(), staff_id=True)
    with pytest.raises(ValueError):
        _memberships(added_since=datetime.datetime(2026, 1, 1), staff_id=cast.bob.pk)  # naive
    with pytest.raises(TypeError):
        _memberships(added_since=timezone.now())


@pytest.mark.django_db
def test_a_read_that_takes_a_value_from_elsewhere_is_refused(cast):
    @compiled_once(staff_id=int)
    def reads_the_clock(*, staff_id):
        return CareTeamMembership.objects.filter(staff_id=staff_id, added_at__lte=timezone.now())

    @compiled_once(family=str)
    def rewrites_its_value(*, family):
        return Patient.objects.filter(family_name__icontains=family)

    @compiled_once(family=str, given=str)
    def leaves_one_out(*, family, given):
        return Patient.objects.filter(family_name=family)

    with pytest.raises(ImproperlyConfigured, match="changes"):
        reads_the_clock(staff_id=cast.bob.pk)
    with pytest.raises(ImproperlyConfigured, match="changes"):
        rewrites_its_value(family="Abernathy")
    with pytest.raises(ImproperlyConfigured, match="not in its SQL"):
        leaves_one_out(family="Abernathy", given="Alice")


@compiled_once(patient_ids=KEYS, family=str)
def _patients_among(*, patient_ids, family):
    return Patient.objects.filter(pk__in=patient_ids, family_name=family).order_by("pk").values_list("pk", flat=True)


@pytest.mark.django_db
def test_a_read_of_a_list_of_keys_is_compiled_for_each_length(cast):
    everyone = list(Patient.objects.order_by("pk").values_list("pk", flat=True))
    alice, dana = cast.alice.pk, cast.dana.pk
    assert _patients_among(patient_ids=[alice], family="Abernathy") == [alice]
    assert _patients_among(patient_ids=[dana, alice], family="Abernathy") == [alice]
    assert _patients_among(patient_ids=[dana, alice], family=cast.dana.family_name) == [dana]
    assert _patients_among(patient_ids=everyone, family="Abernathy") == [alice]
    assert _patients_among(patient_ids=[], family="Abernathy") == []
    assert _patients_among(patient_ids=[alice, 2**70], family="Abernathy") == [alice]
    with pytest.raises(TypeError):
        _patients_among(patient_ids=[str(alice)], family="Abernathy")


@pytest.mark.django_db
def test_a_read_the_orm_finds_empty_returns_no_rows_without_a_query(cast):
    @compiled_once(family=str)
    def nobody(*, family):
        return Patient.objects.filter(family_name=family, pk__in=[])

    with CaptureQueriesContext(connection) as reads:
        assert nobody(family="Abernathy") == []
    assert len(reads) == 0


@compiled_once(family=str)
def _patients_named(start=None, end=None, *, family):
    return Patient.objects.exclude(family_name=family).order_by("family_name", "pk")[start:end]


@pytest.mark.django_db
def test_a_compiled_read_counts_its_rows_up_to_a_bound_and_pages_as_the_orm_does(cast):
    for family in ("Young", "Xu", "Wolfe"):
        make_patient("Another", family)
    others = list(Patient.objects.exclude(family_name="Abernathy").order_by("family_name", "pk"))
    for at_most in (1, len(others), len(others) + 5):
        assert _patients_named.count(at_most=at_most, family="Abernathy") == min(at_most, len(others))
    assert _patients_named(0, 1, family="Abernathy") == others[:1]
    assert _patients_named(1, 3, family="Abernathy") == others[1:3]
    make_patient("Newly", "Zed")
    assert _patients_named.count(at_most=100, family="Abernathy") == len(others) + 1
    # An unbindable key counts nothing; an empty read counts through the ORM.
    assert _memberships.count(at_most=10, added_since=timezone.now(), staff_id=2**64) == 0
    assert _patients_among.count(at_most=10, patient_ids=[], family="Abernathy") == 0


@compiled_once(patient_ids=KEYS)
def _diagnoses_of(*, patient_ids):
    return Diagnosis.objects.filter(patient_id__in=patient_ids)


@pytest.mark.django_db
def test_related_rows_read_by_a_compiled_read_are_given_as_prefetch_related_gives_them(cast):
    Diagnosis.objects.create(patient=cast.alice, icd10_code="F41.1", description="Generalised anxiety")
    patients = list(Patient.objects.filter(pk__in=[cast.alice.pk, cast.dana.pk]).order_by("pk"))
    as_prefetched(patients, "diagnoses", _diagnoses_of(patient_ids=[patient.pk for patient in patients]))
    prefetched = list(
        Patient.objects.filter(pk__in=[cast.alice.pk, cast.dana.pk]).order_by("pk").prefetch_related("diagnoses")
    )
    with CaptureQueriesContext(connection) as reads:
        for given, by_the_orm in zip(patients, prefetched, strict=True):
            assert list(given.diagnoses.all()) == list(by_the_orm.diagnoses.all())
            assert given.diagnoses.count() == by_the_orm.diagnoses.count()
            assert all(diagnosis.patient is given for diagnosis in given.diagnoses.all())
    assert len(reads) == 0
    assert [d.icd10_code for d in patients[0].diagnoses.all()] == ["F33.2", "F41.1"]
    # A further filter is the instance's own read, from the database.
    assert [d.icd10_code for d in patients[0].diagnoses.filter(icd10_code="F41.1")] == ["F41.1"]


@pytest.mark.django_db
def test_only_a_reverse_foreign_key_is_given_as_prefetched(cast):
    diagnoses = list(Diagnosis.objects.filter(patient=cast.alice))
    with pytest.raises(ImproperlyConfigured):
        as_prefetched(diagnoses, "patient", [cast.alice])


@pytest.mark.django_db
def test_a_compiled_read_works_out_how_to_read_its_columns_once_and_reads_them_as_the_orm_does(cast, monkeypatch):
    born_after = datetime.date(1970, 1, 1)
    first = _team_patients(cast.bob, born_after=born_after, family="Abernathy")
    worked_out = []
    original = SQLCompiler.get_converters

    def counted(compiler, expressions):
        worked_out.append(compiler.query.model)
        return original(compiler, expressions)

    monkeypatch.setattr(SQLCompiler, "get_converters", counted)
    again = _team_patients(cast.bob, born_after=born_after, family="Abernathy")
    # The patients' read keeps its converters (the dates, the datetimes); only the prefetch, compiled on every call,
    # works out its own.
    assert Patient not in worked_out
    assert again == first == _by_the_orm(cast.bob, born_after=born_after, family="Abernathy")
    assert [(p.date_of_birth, p.user.date_joined) for p in again] == [
        (p.date_of_birth, p.user.date_joined) for p in first
    ]
