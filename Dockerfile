# Kapstone's production image: gunicorn serves the app (WhiteNoise serves the static files); the same image runs
# the Celery worker and beat (see compose.yaml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KAPSTONE_VAR_DIR=/var/lib/kapstone

# WeasyPrint (the outcome report's PDF) needs Pango and HarfBuzz; fonts so the PDF has text to draw with.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libffi8 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# The CPU build of torch, from the PyTorch CPU wheel index, before anything else can resolve the multi-gigabyte
# CUDA build; then Kapstone with the creativity model's extra.
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0" \
    && pip install ".[creativity]"

RUN useradd --system --home-dir /var/lib/kapstone --create-home kapstone
# collectstatic needs settings but no secrets worth keeping: build-time placeholders only, never used to serve.
RUN SECRET_KEY=build-only-placeholder-never-used-to-serve-build-only-0 KAPSTONE_RESEARCH_ID_KEY=build-only-build-only-build-only-0 \
    KAPSTONE_NOTES_KEY=build-only ALLOWED_HOSTS=build DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    KAPSTONE_WEBAUTHN_RP_ID=build KAPSTONE_WEBAUTHN_RP_NAME=build KAPSTONE_SITE_URL=https://build \
    kapstone collectstatic --noinput \
    && chown -R kapstone /var/lib/kapstone
USER kapstone
EXPOSE 8000
# Three sync workers (kapstone/gunicorn_config.py; WEB_CONCURRENCY and KAPSTONE_WEB_THREADS change them).
CMD ["gunicorn", "--config", "python:kapstone.gunicorn_config", "kapstone.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
