"""Kapstone: runs a ketamine-assisted psychotherapy practice end to end."""
