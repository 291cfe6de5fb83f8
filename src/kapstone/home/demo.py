"""The demo practice: a fictional group-KAP clinic built from synthetic data only.

Other apps add their part by providing `kapstone.<app>.demo.seed(*, practice, rng, progress)`; seed_demo
calls them in INSTALLED_APPS order after the staff and patients exist, except that a demo whose data is dated
from another app's (questionnaires from the courses) names those apps in `SEEDS_AFTER` and runs after them.
"""

import datetime
import hashlib
import random
from dataclasses import dataclass, field
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapstone.accounts.models import User
from kapstone.accounts.roles import Role
from kapstone.audit import services as audit
from kapstone.patients.models import (
    CareTeamMembership,
    Diagnosis,
    ExternalClinician,
    Medication,
    Patient,
    Sex,
)

DEMO_PASSWORD = "kapstone-demo-2026"  # noqa: S105 - printed for the demo on purpose

STAFF = [
    # username, first, last, credentials, role
    ("admin.price", "Jordan", "Price", "", Role.ADMIN),
    ("dr.okafor", "Amara", "Okafor", "MD", Role.PRESCRIBER),
    ("dr.lindqvist", "Elin", "Lindqvist", "PhD", Role.THERAPIST),
    ("nurse.haddad", "Sami", "Haddad", "RN", Role.NURSE),
    ("researcher.cho", "Min", "Cho", "PhD", Role.RESEARCHER),
    # A second prescriber with a care team of their own, so the demo shows who sees what.
    ("dr.baptiste", "Louis", "Baptiste", "DO", Role.PRESCRIBER),
]
# The prescriber who answers for the practice's clinical settings (and approves the admin's proposed changes).
MEDICAL_DIRECTOR = "dr.okafor"
PORTAL_PATIENTS = 4

GIVEN_NAMES = [
    "Avery",
    "Blake",
    "Casey",
    "Dana",
    "Eden",
    "Finley",
    "Gray",
    "Harper",
    "Indigo",
    "Jules",
    "Kai",
    "Logan",
    "Morgan",
    "Noor",
    "Oakley",
    "Parker",
    "Quinn",
    "Reese",
    "Sage",
    "Taylor",
    "Uma",
    "Vale",
    "Wren",
    "Xan",
    "Yael",
    "Zion",
    "Ana",
    "Bruno",
    "Chiara",
    "Dmitri",
    "Esme",
    "Farid",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kira",
    "Lior",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Rafael",
    "Saoirse",
    "Tomas",
    "Ulla",
    "Vikram",
    "Wanjiru",
    "Ximena",
    "Yusuf",
    "Zofia",
]
FAMILY_NAMES = [
    "Abernathy",
    "Bellweather",
    "Castellano",
    "Delacroix",
    "Eriksen",
    "Fairbanks",
    "Galloway",
    "Hollis",
    "Ivers",
    "Jaramillo",
    "Kowalczyk",
    "Lindgren",
    "Marchetti",
    "Nakamura",
    "Oyelaran",
    "Pemberton",
    "Quiroga",
    "Rosenthal",
    "Szabo",
    "Thackeray",
    "Umberto",
    "Valdivia",
    "Whitcombe",
    "Xiong",
    "Yamamoto",
    "Zielinski",
    "Achebe",
    "Brannigan",
    "Corvalan",
    "Draper",
    "Esposito",
    "Fenwick",
    "Gutierrez",
    "Halvorsen",
    "Iwasaki",
    "Jovanovic",
    "Kaminski",
    "Lachance",
    "Moreau",
    "Nwosu",
    "Ostrowski",
    "Pacheco",
    "Rahimi",
    "Sorensen",
    "Tanaka",
    "Underwood",
]
GENDERS = [
    (Sex.FEMALE, "woman", "she/her"),
    (Sex.MALE, "man", "he/him"),
    (Sex.FEMALE, "non-binary", "they/them"),
    (Sex.MALE, "non-binary", "they/them"),
    (Sex.FEMALE, "trans man", "he/him"),
    (Sex.MALE, "trans woman", "she/her"),
]
GENDER_WEIGHTS = [46, 40, 5, 3, 3, 3]
INDICATIONS = [
    ("F33.2", "Major depressive disorder, recurrent severe without psychotic features", 40),
    ("F33.1", "Major depressive disorder, recurrent, moderate", 20),
    ("F43.12", "Post-traumatic stress disorder, chronic", 14),
    ("F41.1", "Generalized anxiety disorder", 12),
    ("F42.2", "Mixed obsessional thoughts and acts", 7),
    ("F50.81", "Binge eating disorder", 4),
    ("F50.2", "Bulimia nervosa", 3),
]
COMORBID = [
    ("F41.1", "Generalized anxiety disorder"),
    ("I10", "Essential (primary) hypertension"),
    ("F10.21", "Alcohol dependence, in remission"),
    ("F41.0", "Panic disorder [episodic paroxysmal anxiety]"),
]
MEDICATIONS = [
    ("sertraline", "100 mg", "once daily"),
    ("escitalopram", "20 mg", "once daily"),
    ("bupropion XL", "300 mg", "once daily"),
    ("venlafaxine XR", "150 mg", "once daily"),
    ("mirtazapine", "30 mg", "at night"),
    ("aripiprazole", "5 mg", "once daily"),
    ("lamotrigine", "100 mg", "twice daily"),
    ("clonazepam", "0.5 mg", "twice daily"),
    ("lorazepam", "1 mg", "as needed"),
    ("lisinopril", "10 mg", "once daily"),
    ("levothyroxine", "75 mcg", "once daily"),
    ("trazodone", "50 mg", "at night"),
]
OUTSIDE_CLINICS = [
    "Riverside Community Mental Health",
    "Harbor Family Medicine",
    "Northside Psychiatry Group",
    "Elm Street Counseling",
    "Lakeview Primary Care",
]


@dataclass
class DemoPractice:
    staff: dict[str, User] = field(default_factory=dict)
    patients: list[Patient] = field(default_factory=list)
    portal_logins: list[tuple[str, str]] = field(default_factory=list)
    totp_secrets: dict[str, str] = field(default_factory=dict)
    # The first day of each finished course, by patient id: the program demo fills it so the screening demo, which
    # runs after it but sits below program, can date each intake before that patient's course began.
    course_starts: dict[int, datetime.date] = field(default_factory=dict)

    @property
    def portal_patients(self) -> list[Patient]:
        """The patients who sign in to the demo portal, so the other apps' demos can give them something to see."""
        return self.patients[:PORTAL_PATIENTS]


def demo_totp_key(username: str) -> str:
    # Deterministic so that a second `make run` prints the same secrets the user already enrolled.
    return hashlib.sha256(f"kapstone-demo-totp:{username}".encode()).hexdigest()[:40]


def _staff(practice: DemoPractice) -> None:
    User = get_user_model()
    for username, first, last, credentials, role in STAFF:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "credentials": credentials,
                "role": role,
                "email": f"{username}@practice.example",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        if username == MEDICAL_DIRECTOR and not user.is_medical_director:
            user.is_medical_director = True
            user.save(update_fields=["is_medical_director"])
        device, _ = TOTPDevice.objects.get_or_create(
            user=user, name="Demo authenticator", defaults={"key": demo_totp_key(username), "confirmed": True}
        )
        practice.staff[username] = user
        practice.totp_secrets[username] = device.config_url


def _patients(practice: DemoPractice, count: int, rng: random.Random, progress) -> None:
    today = datetime.date.today()
    prescribers = [practice.staff["dr.okafor"], practice.staff["dr.baptiste"]]
    therapist, nurse = practice.staff["dr.lindqvist"], practice.staff["nurse.haddad"]
    batch = 1000
    created = 0
    while created < count:
        size = min(batch, count - created)
        people = []
        for _ in range(size):
            sex, gender, pronouns = rng.choices(GENDERS, GENDER_WEIGHTS)[0]
            given, family = rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)
            born = today - datetime.timedelta(days=rng.randint(21 * 365, 76 * 365))
            people.append(
                Patient(
                    given_name=given,
                    family_name=family,
                    date_of_birth=born,
                    sex=sex,
                    gender_identity=gender,
                    pronouns=pronouns,
                    email=f"{given}.{family}.{rng.randint(100, 999)}@mail.example".lower(),
                    phone=f"555-01{rng.randint(0, 99):02d}",
                    address=f"{rng.randint(1, 999)} Synthetic Lane\nSpringfield",
                    postal_code=f"0{rng.randint(1000, 9999)}",
                    emergency_contact_name=f"{rng.choice(GIVEN_NAMES)} {family}",
                    emergency_contact_relationship=rng.choice(["partner", "parent", "sibling", "friend"]),
                    emergency_contact_phone=f"555-02{rng.randint(0, 99):02d}",
                )
            )
        people = Patient.objects.bulk_create(people)
        memberships, diagnoses, medications, outside = [], [], [], []
        for patient in people:
            prescriber = prescribers[0] if rng.random() < 0.75 else prescribers[1]
            memberships += [
                CareTeamMembership(patient=patient, staff=prescriber, is_lead=True),
                CareTeamMembership(patient=patient, staff=therapist),
                CareTeamMembership(patient=patient, staff=nurse),
            ]
            code, title, _ = rng.choices(INDICATIONS, [w for *_, w in INDICATIONS])[0]
            diagnoses.append(Diagnosis(patient=patient, icd10_code=code, description=title, is_primary=True))
            if rng.random() < 0.35:
                extra_code, extra_title = rng.choice(COMORBID)
                if extra_code != code:
                    diagnoses.append(Diagnosis(patient=patient, icd10_code=extra_code, description=extra_title))
            for name, dose, frequency in rng.sample(MEDICATIONS, rng.randint(1, 3)):
                medications.append(Medication(patient=patient, name=name, dose=dose, frequency=frequency))
            outside.append(
                ExternalClinician(
                    patient=patient,
                    kind=ExternalClinician.Kind.PSYCHIATRIST,
                    name=f"Dr. {rng.choice(FAMILY_NAMES)}",
                    organisation=rng.choice(OUTSIDE_CLINICS),
                    phone=f"555-03{rng.randint(0, 99):02d}",
                )
            )
            outside.append(
                ExternalClinician(
                    patient=patient,
                    kind=ExternalClinician.Kind.PRIMARY_CARE,
                    name=f"Dr. {rng.choice(FAMILY_NAMES)}",
                    organisation=rng.choice(OUTSIDE_CLINICS),
                    email="referrals@clinic.example",
                )
            )
        CareTeamMembership.objects.bulk_create(memberships)
        Diagnosis.objects.bulk_create(diagnoses)
        Medication.objects.bulk_create(medications)
        ExternalClinician.objects.bulk_create(outside)
        practice.patients += people
        created += size
        progress(f"patients {created}/{count}")


def _portal_logins(practice: DemoPractice) -> None:
    User = get_user_model()
    for index, patient in enumerate(practice.patients[:PORTAL_PATIENTS], start=1):
        username = f"patient{index}"
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": patient.given_name,
                "last_name": patient.family_name,
                "role": Role.PATIENT,
                "email": patient.email,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        if patient.user_id != user.pk:
            patient.user = user
            patient.save(update_fields=["user"])
        practice.portal_logins.append((username, patient.full_name))


@transaction.atomic
def build(*, patients: int, seed: int = 2026, progress=lambda message: None) -> DemoPractice:
    """Builds the demo practice. Running it again adds nothing: the staff and patients are already there."""
    rng = random.Random(seed)
    practice = DemoPractice()
    _staff(practice)
    if Patient.objects.exists():
        practice.patients = list(Patient.objects.order_by("id")[:PORTAL_PATIENTS])
        _portal_logins(practice)
        progress("the demo practice is already loaded; nothing added")
        return practice
    _patients(practice, patients, rng, progress)
    _portal_logins(practice)
    audit.record(action=audit.Action.CREATE, object_type="demo_practice", detail={"patients": patients, "seed": seed})
    demos = {
        app.name: import_module(f"{app.name}.demo")
        for app in apps.get_app_configs()
        if app.name.startswith("kapstone.") and app.name != "kapstone.home" and find_spec(f"{app.name}.demo")
    }
    for module in _seeding_order(demos):
        module.seed(practice=practice, rng=rng, progress=progress)
    return practice


def _seeding_order(demos: dict) -> list:
    """The demos in INSTALLED_APPS order, each moved after the apps its SEEDS_AFTER names."""
    done: list[str] = []
    while len(done) < len(demos):
        ready = [
            name
            for name, module in demos.items()
            if name not in done
            and all(after in done or after not in demos for after in getattr(module, "SEEDS_AFTER", ()))
        ]
        if not ready:
            raise RuntimeError(f"The demos' SEEDS_AFTER form a cycle among {sorted(set(demos) - set(done))}.")
        done.append(ready[0])
    return [demos[name] for name in done]
