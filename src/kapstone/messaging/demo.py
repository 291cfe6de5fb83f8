"""Demo secure messages (synthetic): one conversation between the first portal patient and their prescriber,
started by the prescriber and answered by the patient through the services, so both the staff inbox and the
portal show a thread. The wording is invented and mentions no crisis.
"""

from kapstone.messaging import services

SEEDS_AFTER = ("kapstone.program",)
SUBJECT = "Before your next dosing session"
CONVERSATION = [
    ("dr.okafor", "Hello, a reminder to arrange a ride home after your next dosing session. Do you have one planned?"),
    (None, "Thank you, yes: my sister will collect me at noon. Should I eat breakfast that morning?"),
    (
        "dr.okafor",
        "Please follow the eating and drinking instructions on your preparation sheet; ask me if any of it is unclear.",
    ),
]


def seed(*, practice, rng, progress) -> None:
    if not practice.portal_patients:
        return
    patient = practice.portal_patients[0]
    thread = None
    for username, body in CONVERSATION:
        author = practice.staff[username] if username else patient.user
        if thread is None:
            thread = services.thread_start(actor=author, patient=patient, subject=SUBJECT, body=body).thread
        else:
            services.message_send(actor=author, thread=thread, body=body)
    progress("messages: one conversation with a portal patient")
