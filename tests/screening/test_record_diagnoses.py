"""record_diagnoses.yaml: which diagnoses coded on the record the screening reviews, matched by ICD-10-CM prefix, and
the loader's refusal of an entry that names no intake field or rule, a code of the wrong shape or overlapping
prefixes."""

import shutil

import pytest
import yaml

from kapstone import bibliography
from kapstone.screening.engine import RULES_DIR, RuleSetError, load_rule_set


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("I71.2", "aneurysmal vascular disease or an arteriovenous malformation"),
        ("Q28.2", "aneurysmal vascular disease or an arteriovenous malformation"),
        ("I61.9", "an intracranial haemorrhage"),
        ("F20.9", "a primary psychotic disorder (schizophrenia or schizoaffective disorder)"),
        ("F25.0", "a primary psychotic disorder (schizophrenia or schizoaffective disorder)"),
        ("F23", "a psychotic disorder"),
        ("F33.3", "depression with psychotic features"),
        ("f31.81", "bipolar disorder"),
        ("F30.10", "a manic episode"),
        ("O09.91", "pregnancy"),
        ("O26.851", "pregnancy"),
        ("Z33.1", "pregnancy"),
        ("Z3A.20", "pregnancy"),
        ("I49.01", "an arrhythmia"),
        ("I16.9", "a hypertensive crisis, which the intake's cardiovascular disease answer reviews"),
        ("H40.11X1", "glaucoma or raised intraocular pressure"),
        ("K74.60", "cirrhosis or liver failure"),
        ("F10.21", "an alcohol use disorder"),  # in remission: the screening reviews a disorder in remission too
        ("F11.20", "an opioid use disorder"),
        ("F12.90", "a cannabis use disorder"),
        ("F13.21", "a sedative, hypnotic or anxiolytic use disorder"),
        ("F14.10", "a cocaine use disorder"),
        ("F15.20", "a stimulant use disorder"),
        ("F16.20", "a hallucinogen use disorder (which may involve a dissociative)"),
        ("F18.10", "an inhalant use disorder"),
        (
            "F19.20",
            "a substance use disorder that may involve a dissociative (other or several psychoactive substances)",
        ),
    ],
)
def test_a_code_matches_the_entry_whose_prefix_it_begins_with(code, label):
    entry = load_rule_set().record_diagnosis(code)
    assert entry is not None and entry.label == label


@pytest.mark.parametrize(
    "code",
    [
        "F33.1",  # depression without psychotic features: the indication itself
        "F33.2",
        "F41.1",
        "F17.210",  # nicotine dependence: no screening rule weighs it
        "I10",  # a chronic hypertensive disease: the intake's history of hypertension is a caution, not a review
        "I15.0",
        "E05.00",  # the intake asks about untreated hyperthyroidism, which a code does not tell
        "K76.0",
        "Q28.0",  # a prefix with its subcategory matches only that subcategory
        "I49.1",
        "O80",  # a delivery: the pregnancy has ended
        "Z33.2",
    ],
)
def test_a_code_the_screening_does_not_review_matches_no_entry(code):
    assert load_rule_set().record_diagnosis(code) is None


def test_an_entry_is_reviewed_by_a_yes_a_date_a_listed_disorder_or_its_rule_and_never_by_a_no():
    rule_set = load_rule_set()
    aneurysm, heart_attack, substances, psychotic_depression = (
        rule_set.record_diagnosis(code) for code in ("I71.2", "I21.4", "F16.20", "F33.3")
    )
    assert aneurysm.reviewed_in({"medical": {"aneurysmal_vascular_disease_or_avm": True}}, set())
    assert not aneurysm.reviewed_in({"medical": {"aneurysmal_vascular_disease_or_avm": False}}, set())
    assert not aneurysm.reviewed_in({}, {"pregnancy"})
    assert heart_attack.reviewed_in({"medical": {"mi_or_unstable_angina_date": "2026-01-05"}}, set())
    assert not heart_attack.reviewed_in({"medical": {}}, set())
    assert substances.reviewed_in({"psychiatric": {"substance_use_disorders": [{"substance": "ketamine"}]}}, set())
    assert not substances.reviewed_in({"psychiatric": {"substance_use_disorders": []}}, set())
    assert psychotic_depression.reviewed_in({}, {"current_psychosis"})
    assert not psychotic_depression.reviewed_in({"psychiatric": {"current_psychosis": False}}, {"bipolar_disorder"})


def declaring(*substances: str) -> dict:
    return {
        "psychiatric": {
            "substance_use_disorders": [
                {"substance": substance, "last_use": "2019-01-01", "involves_dissociatives": False}
                for substance in substances
            ]
        }
    }


@pytest.mark.parametrize(
    ("code", "declared", "reviewed"),
    [
        ("F10.21", ["Alcohol (in remission since 2019)"], True),  # a whole word, ignoring case
        ("F10.21", ["EtOH"], True),
        ("F10.21", [], False),  # the intake said no substance use
        ("F10.21", ["cannabis"], False),  # another class: the screening never weighed the alcohol
        ("F10.20", ["cannabis", "alcohol"], True),
        ("F11.20", ["heroin"], True),
        ("F11.20", ["alcohol"], False),
        ("F12.20", ["marijuana"], True),
        ("F13.20", ["lorazepam"], True),
        ("F13.20", ["opioids"], False),
        ("F14.20", ["crack cocaine"], True),
        ("F15.20", ["methamphetamine"], True),
        ("F15.20", ["cocaine"], False),
        ("F16.20", ["LSD"], True),
        ("F16.20", ["ketamine"], True),  # coded with phencyclidine under F16; the exclusion rule weighs it
        ("F16.20", ["alcohol"], False),
        ("F18.10", ["solvents"], True),
        ("F19.20", ["kratom"], True),  # other or several substances: any listed disorder shows the review
        ("F19.20", [], False),
    ],
)
def test_a_substance_use_disorder_is_reviewed_only_by_a_listed_disorder_of_its_class(code, declared, reviewed):
    entry = load_rule_set().record_diagnosis(code)
    assert entry.reviewed_in(declaring(*declared), set()) is reviewed
    # No rule's firing stands for a class: the remission rule fires for whatever substance the intake lists.
    assert entry.reviewed_in(declaring(), {"substance_use_disorder_in_remission"}) is False


def test_every_entry_cites_the_icd10cm_and_a_source_of_the_rule_that_reviews_it():
    known = bibliography.sources()
    for entry in load_rule_set().record_diagnoses:
        ids = bibliography.cited_ids(entry.source)
        assert "icd10cm" in ids and len(ids) > 1 and set(ids) <= set(known), entry


@pytest.fixture
def edited_rules(tmp_path):
    """A copy of the shipped rules with record_diagnoses.yaml changed by `change`."""
    directory = tmp_path / "rules"
    shutil.copytree(RULES_DIR, directory)
    path = directory / "record_diagnoses.yaml"

    def edit(change):
        content = yaml.safe_load(path.read_text())
        change(content)
        path.write_text(yaml.safe_dump(content, sort_keys=False))
        return directory

    return edit


def first_entry(content):
    return content["entries"][0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: first_entry(c).update(reviewed_by=[{"field": "psychiatric.schizophrenia"}]),
            "names no intake field",
        ),
        (lambda c: first_entry(c).update(reviewed_by=[{"rule": "schizophrenia"}]), "names no intake field or rule"),
        (lambda c: first_entry(c).update(reviewed_by=[{"field": "age", "rule": "pregnancy"}]), "names no intake"),
        (lambda c: first_entry(c).update(reviewed_by=[]), "reviewed_by needs a non-empty list"),
        (lambda c: first_entry(c).update(reviewed_by=[{"substances": []}]), "substances needs a non-empty list"),
        (lambda c: first_entry(c).update(reviewed_by=[{"substances": "alcohol"}]), "substances needs a non-empty"),
        (lambda c: first_entry(c).update(reviewed_by=[{"substances": ["alcohol", " "]}]), "substances needs a non"),
        (lambda c: first_entry(c).update(codes=["F20.9.1"]), "ICD-10-CM prefixes"),
        (lambda c: first_entry(c).update(codes=["U07"]), "ICD-10-CM prefixes"),
        (lambda c: first_entry(c).update(codes="F20"), "ICD-10-CM prefixes"),
        (lambda c: first_entry(c).pop("source"), "needs exactly a label, codes, reviewed_by and a source"),
        (lambda c: first_entry(c).update(label=" "), "needs a label and a source"),
        (lambda c: first_entry(c).update(codes=["F20", "F2"]), "prefixes F2 and F20 overlap"),
        (lambda c: first_entry(c).update(codes=["F20", "F31.0"]), "prefixes F31 and F310 overlap"),
        (lambda c: c.update(entries=[]), "non-empty list of entries"),
        (lambda c: c.update(version="9.9.9"), "pins '1.5.0'"),
        (lambda c: c.pop("noted_after_screening"), "noted_after_screening needs a source"),
        (lambda c: c.update(noted_after_screening={"source": " "}), "noted_after_screening needs a source"),
        (lambda c: c.pop("use_disorder_in_remission"), "use_disorder_in_remission needs endings"),
        (lambda c: c["use_disorder_in_remission"].update(endings=["1"]), "use_disorder_in_remission needs endings"),
        (lambda c: c["use_disorder_in_remission"].update(source=""), "use_disorder_in_remission needs endings"),
    ],
)
def test_a_malformed_record_diagnoses_file_is_refused_at_load(edited_rules, change, message):
    with pytest.raises(RuleSetError, match=message):
        load_rule_set(edited_rules(change))


def test_the_rule_set_pins_the_record_diagnoses_file(tmp_path):
    directory = tmp_path / "rules"
    shutil.copytree(RULES_DIR, directory)
    main = directory / "kap_screening.yaml"
    content = yaml.safe_load(main.read_text())
    del content["data_files"]["record_diagnoses.yaml"]
    main.write_text(yaml.safe_dump(content, sort_keys=False))
    with pytest.raises(RuleSetError, match="data_files must pin maudsley.yaml, medications.yaml, record_diagnoses"):
        load_rule_set(directory)


@pytest.mark.parametrize(
    ("code", "in_remission"),
    [
        ("F16.21", True),
        ("F10.11", True),
        ("F11.91", True),
        ("f1221", True),
        ("F16.20", False),
        ("F10.10", False),
        ("F10.229", False),  # with intoxication: not in remission
        ("F10.2", False),
    ],
)
def test_a_use_disorder_code_is_in_remission_by_its_fifth_character(code, in_remission):
    """[icd10cm]: F10-F19 write a disorder in remission with a fifth character 1 after abuse, dependence or use."""
    assert load_rule_set().codes_in_remission(code) is in_remission
