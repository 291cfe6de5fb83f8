"""The Celery application. Production runs `celery -A kapstone worker` against REDIS_URL; without
REDIS_URL tasks run eagerly in-process (settings.CELERY_TASK_ALWAYS_EAGER).

Publishing must never hold a request: every task is published after its transaction commits, and a broker that
cannot be reached fails the publish within about a second instead of being retried for some twenty (Celery's
defaults), so the caller logs it and a beat sweep does the work later (each task has one, see
settings.CELERY_BEAT_SCHEDULE). Workers still wait for the broker at start-up.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kapstone.settings")

# Operational: how long a request may wait on the broker before giving up on a publish.
PUBLISH_TIMEOUT_SECONDS = 1.0

app = Celery("kapstone")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    broker_connection_timeout=PUBLISH_TIMEOUT_SECONDS,
    broker_connection_retry_on_startup=True,
    task_publish_retry=False,
    broker_transport_options={
        "socket_connect_timeout": PUBLISH_TIMEOUT_SECONDS,
        "socket_timeout": PUBLISH_TIMEOUT_SECONDS * 5,
        "max_retries": 0,
    },
    redis_socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS,
    redis_socket_timeout=PUBLISH_TIMEOUT_SECONDS * 5,
    result_backend_transport_options={"retry_policy": {"max_retries": 0}},
)
app.autodiscover_tasks()
