"""The `kapstone` console script: Django's manage.py under the project's own name."""

import os
import sys

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import execute_from_command_line


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kapstone.settings")
    try:
        settings.SECRET_KEY  # noqa: B018 - reading one setting loads them all, so a missing one is reported here
    except ImproperlyConfigured as problem:
        # A missing secret is the operator's to fix: say which and how, without a traceback.
        sys.exit(f"kapstone: {problem}")
    execute_from_command_line([os.path.basename(sys.argv[0]) or "kapstone", *sys.argv[1:]])


if __name__ == "__main__":
    main()
