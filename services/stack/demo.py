"""The demo's operator at the keyboard: for the demo's first half hour, a payment cycle
every minute, as an operator pressing "run now" would (the sandbox pays planned invoices
in Xero once the product has written them, and the xero_payment cadence is hours).
Configuring the demo is the sandbox's own job (`services/sandbox/operator.py`)."""

from __future__ import annotations

import logging
import threading
import time

import httpx

log = logging.getLogger("connectzero.demo")


def drive_payment_cycles(info: dict, every: float = 60.0, minutes: float = 30.0) -> threading.Thread:
    """So the planned payments end matched or raised while you watch; then the cadence applies."""

    def drive() -> None:
        deadline = time.monotonic() + minutes * 60
        with httpx.Client(
            base_url=info["admin"]["url"], timeout=30, headers={"Authorization": f"Bearer {info['admin']['token']}"}
        ) as admin:
            while time.monotonic() < deadline:
                time.sleep(every)
                try:
                    admin.post("/api/sync/xero_payment/run")
                except httpx.HTTPError as exc:  # the stack is stopping, or busy: the next minute tries again
                    log.debug("demo payment cycle not requested: %s", exc)

    thread = threading.Thread(target=drive, name="demo-payment-cycles", daemon=True)
    thread.start()
    return thread
