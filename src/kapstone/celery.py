"""The Celery application. Production runs `celery -A kapstone worker` against REDIS_URL; without
REDIS_URL tasks run eagerly in-process (settings.CELERY_TASK_ALWAYS_EAGER)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kapstone.settings")

app = Celery("kapstone")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
