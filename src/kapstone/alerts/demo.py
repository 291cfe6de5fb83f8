"""Demo on-call rota and safety plan (synthetic): Dr. Okafor on call on weekday days and medical director, Dr.
Baptiste on weekday nights and the default for the weekend, and a safety plan for the first portal patient."""

import datetime

from kapstone.alerts import services
from kapstone.alerts.models import OnCallSlot

WEEKDAYS = range(5)
DAY = (datetime.time(8), datetime.time(18))
NIGHT = (datetime.time(18), datetime.time(8))  # runs past midnight into the next morning

SAFETY_PLAN = {
    "warning_signs": "Lying awake after 3 am; cancelling plans; thinking 'nothing will change'.",
    "coping_strategies": "A walk round the block; a cold shower; the breathing exercise from group.",
    "distraction_people_places": "The reading room at the library; coffee with my neighbour.",
    "help_people": "My sister (555-0142); my friend from the choir (555-0177).",
    "professionals_agencies": "The practice on weekdays (555-0100); 988 Suicide & Crisis Lifeline, call or text.",
    "environment_safety": "My sister keeps the spare medication; no alcohol in the house during the course.",
}


def seed(*, practice, rng, progress) -> None:
    okafor, baptiste = practice.staff["dr.okafor"], practice.staff["dr.baptiste"]
    if not okafor.is_medical_director:
        okafor.is_medical_director = True
        okafor.save(update_fields=["is_medical_director"])
    if not OnCallSlot.objects.exists():
        for weekday in WEEKDAYS:
            services.rota_slot_add(actor=okafor, prescriber=okafor, weekday=weekday, starts=DAY[0], ends=DAY[1])
            services.rota_slot_add(actor=okafor, prescriber=baptiste, weekday=weekday, starts=NIGHT[0], ends=NIGHT[1])
        services.rota_default_set(actor=okafor, prescriber=baptiste)
    patient = practice.patients[0]
    lead = patient.care_team_memberships.filter(is_lead=True).select_related("staff").first()
    services.safety_plan_save(actor=lead.staff if lead else okafor, patient=patient, sections=SAFETY_PLAN)
    progress("on-call rota and a safety plan")
