"""Property-based fuzz of every form in Kapstone and of the views this suite's areas own: whatever a person (or a
script) types, a form says what is wrong and a view answers with a page, never a server error (issue 16, item 8)."""

import datetime
import importlib
import inspect
import pkgutil

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kapstone
from kapstone.accounts.roles import Role
from kapstone.billing.selectors import visit_label
from kapstone.dosing.selectors import ledger_balances
from kapstone.measures import services as measures_services
from kapstone.measures.scoring import get_instrument
from kapstone.patients.models import Patient
from kapstone.program.models import GroupSession
from tests.conftest import signed_in_client

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Long pasted text, made from a drawn length and a drawn line rather than drawn a character at a time: Hypothesis
# makes a choice for each character it draws, and 2,000 of them cost more than the request they were sent in (measured:
# 45 % of the view fuzz's time went to drawing them).
LONG_TEXT = st.builds(
    lambda length, line: (line * length)[:length],
    st.integers(min_value=2_000, max_value=3_000),
    st.sampled_from(["a", "ab\n", "a b", "\n", "é"]),
)

# What people type, and what they paste by mistake: the edges of dates and numbers, long and odd text.
VALUES = st.one_of(
    st.just(""),
    st.text(max_size=40),
    LONG_TEXT,
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(
        [
            "0001-01-01",
            "9999-12-31",
            "2024-02-30",
            "1899-12-31",
            "nan",
            "inf",
            "-0",
            "1e309",
            "25:61",
            "\x00",
            "on",
            "<script>",
            # The edges of a database key: beyond them a driver raises instead of finding nothing.
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "²",
        ]
    ),
    st.dates(min_value=datetime.date(1, 1, 1)).map(str),
)


def form_modules() -> list:
    """Every app's forms module and any other module of forms beside it (accounts.staff_forms)."""
    found = []
    for app in pkgutil.iter_modules(kapstone.__path__):
        if not app.ispkg:
            continue
        package = importlib.import_module(f"kapstone.{app.name}")
        found += [
            importlib.import_module(f"kapstone.{app.name}.{module.name}")
            for module in pkgutil.iter_modules(package.__path__)
            if module.name == "forms" or module.name.endswith("_forms")
        ]
    return found


def every_form() -> list[type[forms.BaseForm]]:
    found = []
    for module in form_modules():
        found += [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, forms.BaseForm) and obj.__module__ == module.__name__
        ]
    return sorted(found, key=lambda form: f"{form.__module__}.{form.__name__}")


def every_formset() -> list[tuple[str, type[forms.BaseFormSet]]]:
    """Each formset class a forms module makes, named where it is kept (a module's name or a dict's key)."""
    found = []
    for module in form_modules():
        for name, obj in vars(module).items():
            kept = obj.items() if isinstance(obj, dict) else [(None, obj)]
            found += [
                (f"{module.__name__}.{name}" + (f"[{key}]" if key else ""), formset)
                for key, formset in kept
                if inspect.isclass(formset) and issubclass(formset, forms.BaseFormSet)
            ]
    return sorted(found, key=lambda pair: pair[0])


def constructor_arguments(cast) -> dict:
    """What a form asks for beyond its data, as its view gives it. A form that asks for something not here fails
    the fuzz until it is added, so no form escapes it."""
    entered = measures_services.assessment_record_total(
        actor=cast.bob, patient=cast.alice, instrument_id="ham-a", total=10, completed_on=datetime.date.today()
    )
    staff = get_user_model().objects.exclude(role=Role.PATIENT)
    return {
        "request": RequestFactory().post("/"),
        "visit_choices": [(session.pk, visit_label(session)) for session in GroupSession.objects.all()],
        "clinicians": staff,
        "sessions": GroupSession.objects.all(),
        "instrument": get_instrument("phq9"),
        "assessment": entered,
        "patients": Patient.objects.all(),
        "staff": staff,
        "patient": cast.alice,
        "user": cast.bob,
        "balances": ledger_balances(),
    }


def required_arguments(form_class) -> list[str]:
    """Named arguments without a default (a password form's `user`, passed by keyword here), and `request` for a
    sign-in form (it is checked against lockouts)."""
    parameters = list(inspect.signature(form_class.__init__).parameters.values())[1:]  # after self
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = [p.name for p in parameters if p.kind in named and p.default is p.empty]
    return [*names, "request"] if issubclass(form_class, AuthenticationForm) else names


@pytest.mark.parametrize("form_class", every_form(), ids=lambda form: f"{form.__module__}.{form.__name__}")
def test_no_input_makes_a_form_fail_with_an_error(cast, form_class):
    arguments = constructor_arguments(cast)
    missing = set(required_arguments(form_class)) - arguments.keys()
    assert not missing, f"add {sorted(missing)} to constructor_arguments so {form_class.__name__} is fuzzed too"
    kwargs = {name: arguments[name] for name in required_arguments(form_class)}
    names = list(form_class(**kwargs).fields)

    @FUZZ
    @given(st.fixed_dictionaries({}, optional={name: VALUES for name in names}))
    def validates(data):
        form = form_class(data=data, **kwargs)
        if form.is_valid():
            assert isinstance(form.cleaned_data, dict)
        else:
            assert form.errors

    validates()


def test_the_fuzz_finds_the_forms_outside_a_forms_module_and_the_formsets():
    names = {f"{form.__module__}.{form.__name__}" for form in every_form()}
    assert "kapstone.accounts.staff_forms.StaffForm" in names
    kept = {name for name, _ in every_formset()}
    assert "kapstone.screening.forms.PriorMedicineFormSet" in kept
    assert "kapstone.screening.forms.FORMSETS[trials]" in kept


# The management form's counts as a browser sends them, and as a script may: missing, negative, huge, not numbers.
COUNTS = st.one_of(st.integers(min_value=-2, max_value=5).map(str), VALUES)


@pytest.mark.parametrize(
    "formset_class", [formset for _, formset in every_formset()], ids=[n for n, _ in every_formset()]
)
def test_no_input_makes_a_formset_fail_with_an_error(formset_class):
    prefix = "rows"
    names = list(formset_class(prefix=prefix).empty_form.fields)

    @FUZZ
    @given(
        st.fixed_dictionaries(
            {},
            optional={"rows-TOTAL_FORMS": COUNTS, "rows-INITIAL_FORMS": COUNTS, "rows-MAX_NUM_FORMS": COUNTS},
        ),
        st.dictionaries(
            st.tuples(st.integers(min_value=0, max_value=4), st.sampled_from(names)).map(
                lambda row_field: f"rows-{row_field[0]}-{row_field[1]}"
            ),
            VALUES,
            max_size=8,
        ),
    )
    def validates(management, rows):
        formset = formset_class(data={**management, **rows}, prefix=prefix)
        if formset.is_valid():
            assert all(isinstance(form.cleaned_data, dict) for form in formset.forms)
            [form.entry() for form in formset.forms if hasattr(form, "entry")]
        else:
            assert any(formset.errors) or formset.non_form_errors()

    validates()


def test_no_input_makes_the_staff_intake_fail_with_an_error(cast):
    """The staff intake is one main form and six formsets read together into an intake: whatever is posted, it is
    either refused with errors or builds an intake."""
    from kapstone.screening.forms import FORMSETS, IntakeEditor, IntakeMainForm

    main = list(IntakeMainForm().fields)
    rows = [
        f"{prefix}-{index}-{field}"
        for prefix, formset in FORMSETS.items()
        for index in range(2)
        for field in formset(prefix=prefix).empty_form.fields
    ]
    management = [f"{prefix}-{count}" for prefix in FORMSETS for count in ("TOTAL_FORMS", "INITIAL_FORMS")]

    @FUZZ
    @given(
        st.dictionaries(st.sampled_from(management), COUNTS, max_size=len(management)),
        st.dictionaries(st.sampled_from(main + rows), VALUES, max_size=12),
    )
    def validates(counts, fields):
        editor = IntakeEditor(patient=cast.alice, initial={}, data={**counts, **fields})
        if editor.is_valid():
            assert isinstance(editor.build(), dict)
        else:
            assert editor.main.errors or any(
                any(formset.errors) or formset.non_form_errors() for formset in editor.formsets.values()
            )

    validates()


OWN_FORMS = ("kapstone.integration.forms", "kapstone.measures.forms", "kapstone.outcomes.forms")


def test_every_text_field_in_these_areas_has_a_length_limit(cast):
    arguments = constructor_arguments(cast)
    unlimited = []
    for form_class in every_form():
        if form_class.__module__ not in OWN_FORMS:
            continue
        form = form_class(**{name: arguments[name] for name in required_arguments(form_class)})
        unlimited += [
            f"{form_class.__name__}.{name}"
            for name, field in form.fields.items()
            if type(field) is forms.CharField and field.max_length is None
        ]
    assert unlimited == []


POSTS = [
    ("integration:journal_new", "alice_user", lambda cast: []),
    ("integration:preferences", "alice_user", lambda cast: []),
    ("integration:psychotherapy_notes", "therapist", lambda cast: [cast.alice.pk]),
    ("measures:enter_total", "bob", lambda cast: [cast.alice.pk]),
]
FIELD_NAMES = st.sampled_from(
    [
        "prompt",
        "text",
        "mood",
        "activity",
        "activity_minutes",
        "share",
        "by_email",
        "by_sms",
        "time_zone",
        "quiet_start",
        "quiet_end",
        "total-instrument",
        "total-total",
        "total-completed_on",
    ]
)


@pytest.mark.parametrize("url, who, args", POSTS, ids=[url for url, _, _ in POSTS])
def test_no_post_makes_a_view_answer_with_a_server_error(cast, url, who, args):
    client = signed_in_client(cast.user(who))
    path = reverse(url, args=args(cast))

    @FUZZ
    @given(st.dictionaries(FIELD_NAMES, VALUES, max_size=8))
    def answers(data):
        assert client.post(path, data).status_code < 500

    answers()


def test_no_filter_makes_the_outcomes_report_answer_with_a_server_error(cast):
    clients = [signed_in_client(cast.admin), signed_in_client(cast.researcher)]
    names = st.sampled_from(
        ["date_from", "date_to", "template_id", "facilitator_id", "indication", "months_since_first_dose"]
    )

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.dictionaries(names, VALUES, max_size=4), st.sampled_from([0, 1]))
    def answers(query, which):
        assert clients[which].get(reverse("outcomes:report"), query).status_code < 500

    answers()


# Every page that reads its query string, with the names it reads: a filter, a search, a page number or a position
# in a list is typed into the address bar as readily as into a form.
QUERIES = [
    ("patients:list", "bob", lambda cast: [], ["q", "page"]),
    ("patients:audit", "bob", lambda cast: [cast.alice.pk], ["page"]),
    ("screening:list", "bob", lambda cast: [], ["decision", "page"]),
    ("integration:journal", "alice_user", lambda cast: [], ["q", "page", "format"]),
    ("integration:journal_new", "alice_user", lambda cast: [], ["prompt"]),
    ("integration:adherence", "bob", lambda cast: [], ["page"]),
    ("program:groups", "bob", lambda cast: [], ["page"]),
    ("billing:estimate", "admin", lambda cast: [cast.alice.pk], ["template"]),
    ("billing:period_superbill_pdf", "admin", lambda cast: [cast.alice.pk], ["start", "end"]),
    ("dosing:ledger", "bob", lambda cast: [], ["location", "lot", "since", "until", "older_than", "newer_than"]),
    ("alerts:safety_plan", "bob", lambda cast: [cast.alice.pk], ["version"]),
    ("measures:alerts", "bob", lambda cast: [], ["level", "staff", "kind", "show"]),
]


@pytest.mark.parametrize("url, who, args, names", QUERIES, ids=[url for url, _, _, _ in QUERIES])
def test_no_query_makes_a_page_answer_with_a_server_error(cast, url, who, args, names):
    client = signed_in_client(cast.user(who))
    path = reverse(url, args=args(cast))

    @FUZZ
    @given(st.dictionaries(st.sampled_from(names), VALUES, max_size=len(names)))
    def answers(query):
        assert client.get(path, query).status_code < 500

    answers()
