"""Kapstone starts without its heavy libraries, and without the creativity extra says what scoring needs."""

import subprocess
import sys

import pytest

from kapstone.creativity import embeddings

HEAVY = ["pandas", "statsmodels", "ortools", "torch", "sentence_transformers", "scipy", "weasyprint"]


def test_without_the_creativity_extra_scoring_says_it_needs_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    embeddings.load_encoder.cache_clear()
    try:
        with pytest.raises(embeddings.CreativityExtraMissing, match=r"kapstone\[creativity\]"):
            embeddings.encode_texts(["a chair"])
    finally:
        embeddings.load_encoder.cache_clear()


def test_a_started_web_worker_has_not_imported_the_heavy_libraries():
    """Loading the app and every URL (urls -> views -> services ...) must not pull in what only some pages use."""
    script = (
        "import os, sys; os.environ['DJANGO_SETTINGS_MODULE'] = 'kapstone.settings'; os.environ['KAPSTONE_DEMO'] = '1';"
        "import django; django.setup();"
        "from django.urls import get_resolver; get_resolver().url_patterns;"
        "import kapstone.wsgi;"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
