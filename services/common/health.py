"""`/healthz` and `/metrics` for services that are not themselves HTTP apps.

Each check is a callable returning None when healthy or a short reason when
not; results are cached briefly so a scrape storm does not hammer the parts.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Check = Callable[[], "str | None"]


class HealthChecks:
    def __init__(self, checks: dict[str, Check], ttl: float = 1.0):
        self.checks = checks
        self.ttl = ttl
        self._cached: tuple[float, dict] | None = None
        self._lock = threading.Lock()

    def report(self) -> dict:
        with self._lock:
            now = time.monotonic()
            if self._cached and now - self._cached[0] < self.ttl:
                return self._cached[1]
            results = {}
            for name, check in self.checks.items():
                try:
                    problem = check()
                except Exception as exc:  # a check that raises is a failing check
                    problem = f"{type(exc).__name__}: {exc}"
                results[name] = "ok" if problem is None else problem
            healthy = all(v == "ok" for v in results.values())
            report = {"status": "ok" if healthy else "unhealthy", "checks": results}
            self._cached = (now, report)
            return report


def serve_health(host: str, port: int, checks: HealthChecks) -> ThreadingHTTPServer:
    """Starts the endpoint in a daemon thread and returns the server (call shutdown() to stop)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            if self.path.startswith("/healthz"):
                report = checks.report()
                self._reply(200 if report["status"] == "ok" else 503, "application/json", json.dumps(report).encode())
            elif self.path.startswith("/metrics"):
                self._reply(200, CONTENT_TYPE_LATEST, generate_latest())
            else:
                self._reply(404, "application/json", b'{"detail":"not found"}')

        def _reply(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # scrapes are not worth a log line
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def kafka_check(bootstrap: str) -> Check:
    from confluent_kafka.admin import AdminClient

    from .kafka import client_config

    admin: list[AdminClient] = []  # made on first use: an app that is never checked holds no client

    def check() -> str | None:
        if not admin:
            admin.append(AdminClient(client_config(bootstrap, **{"socket.timeout.ms": 2000})))
        try:
            admin[0].list_topics(timeout=2)
        except Exception as exc:
            return f"kafka unreachable at {bootstrap}: {exc}"
        return None

    return check


def postgres_check(url: str) -> Check:
    import psycopg

    def check() -> str | None:
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                conn.execute("select 1")
        except Exception as exc:
            return f"postgres unreachable: {type(exc).__name__}"
        return None

    return check
