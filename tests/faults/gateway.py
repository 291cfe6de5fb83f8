"""A stand-in SMS gateway for the kill tests, in a module a child process can name (KAPSTONE_SMS_PROVIDER).

It records every call in GATEWAY_LOG (one idempotency key a line) and, like a real gateway, delivers a key it has
seen once only: `delivered` counts distinct keys. GATEWAY_HANG=before|after makes it hang before or after it
delivers, after touching GATEWAY_READY, so the test can kill the worker at that point."""

import os
import time
from pathlib import Path


class FileGateway:
    def send_sms(self, *, to: str, body: str, idempotency_key: str) -> None:
        hang = os.environ.get("GATEWAY_HANG", "")
        if hang == "before":
            self._hang()
        with Path(os.environ["GATEWAY_LOG"]).open("a") as log:
            log.write(idempotency_key + "\n")
        if hang == "after":
            self._hang()

    def _hang(self) -> None:
        Path(os.environ["GATEWAY_READY"]).touch()
        time.sleep(600)


def delivered(log: Path) -> set[str]:
    return set(log.read_text().split()) if log.exists() else set()
