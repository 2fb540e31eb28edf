"""What every service process does around its own work: read settings, set up
logs, serve /healthz and /metrics, and stop cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Callable

from .health import HealthChecks, kafka_check, postgres_check, serve_health
from .logs import configure_logging
from .settings import Settings, SettingsError, load_settings


def standard_checks(settings: Settings, kafka: bool = True, postgres: bool = True) -> dict:
    checks = {}
    if kafka:
        checks["kafka"] = kafka_check(settings.kafka_bootstrap)
    if postgres:
        checks["postgres"] = postgres_check(settings.postgres_url)
    return checks


def run_service(
    name: str, work: Callable[[Settings, threading.Event], None], checks: Callable[[Settings], dict] = standard_checks
) -> None:
    """Runs `work(settings, stop)` until it returns or a signal sets `stop`."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(name, settings.log_level, settings.log_json)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = serve_health(settings.host, settings.port_of(name), HealthChecks(checks(settings)))
    logging.getLogger(name).info("%s started", name)
    try:
        work(settings, stop)
    finally:
        server.shutdown()
        logging.getLogger(name).info("%s stopped", name)
