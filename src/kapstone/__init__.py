"""Kapstone: runs a ketamine-assisted psychotherapy practice end to end."""

# The Celery app must be configured before any shared_task is used, in the web process and the worker alike.
from kapstone.celery import app as celery_app

__all__ = ["celery_app"]
