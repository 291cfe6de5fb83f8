from django.apps import AppConfig


def _refuse_enrolment_on_new_medicines(sender, *, patient, **kwargs) -> list[str]:
    """An enrolment waits for a new screening when a medicine in a class the screening reviews (an MAOI, a
    benzodiazepine, another CNS depressant, a psychostimulant: [spravato-pi] section 7, [andrade-2017]) or one it does
    not recognise was added to the record after the patient was screened."""
    # deferred: apps.py is read before the models are ready, and the selectors module imports them.
    from kapstone.dosing.selectors import medicines_new_since_screening

    found = medicines_new_since_screening(patient=patient)
    if not found:
        return []
    return [
        "new on the record or in the patient's own answers since screening, and reviewed by the screening rules: "
        + ", ".join(medicine.described for medicine in found)
        + "; re-screen with the current medicines so a prescriber reviews them before the patient joins a course"
    ]


def _refuse_enrolment_on_open_safety_review(sender, *, patient, **kwargs) -> list[str]:
    """A new course waits, as the next dose does, while a long-term safety answer, a urine drug screen positive for
    a substance not prescribed, a secure message the crisis screen flagged, or a severe adverse event, stop-level vitals
    or a positive suicide screen of a session is open in the alert queue (dosing/data/safety.yaml
    review_before_dosing)."""
    # deferred: apps.py is read before the models are ready, and the selectors module imports them.
    from kapstone.dosing.selectors import safety_reviews_open
    from kapstone.practice.templatetags.kapstone_tags import day_in_words

    return [
        f"{alert.reason.rstrip('.')} (raised {day_in_words(alert.raised_at)}) is open in the alert "
        "queue; a clinician reviews it and acknowledges it with a note before the patient joins a course"
        for alert in safety_reviews_open(patient=patient)
    ]


def _refuse_enrolment_on_confirmed_allergy(sender, *, patient, **kwargs) -> list[str]:
    """A new course is refused, as every dose is, after an allergic reaction to the drug a clinician confirmed
    (dosing/data/safety.yaml confirmed_hypersensitivity), until a prescriber corrects it with a reason."""
    # deferred: apps.py is read before the models are ready, and the selectors module imports them.
    from kapstone.dosing.selectors import allergies_confirmed, allergy_refusal

    confirmed = allergies_confirmed(patient=patient)
    return [allergy_refusal(patient, confirmed)] if confirmed else []


class DosingConfig(AppConfig):
    name = "kapstone.dosing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kapstone.screening.signals import enrolment_checks

        enrolment_checks.connect(_refuse_enrolment_on_new_medicines, dispatch_uid="dosing.new_medicines")
        enrolment_checks.connect(_refuse_enrolment_on_open_safety_review, dispatch_uid="dosing.safety_review")
        enrolment_checks.connect(_refuse_enrolment_on_confirmed_allergy, dispatch_uid="dosing.confirmed_allergy")
