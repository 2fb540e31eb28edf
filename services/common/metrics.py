"""Prometheus metrics shared by every service (each service adds its own beside them)."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("cz_messages_processed_total", "Messages processed", ["service", "topic"])
POISON = Counter("cz_messages_dead_lettered_total", "Messages parked in a dead-letter topic", ["service", "topic"])
# `organisation`: the Xero organisation a call was for (each has its own rate limits); empty for ConnectWise.
API_CALLS = Counter("cz_api_calls_total", "HTTP calls to ConnectWise or Xero", ["api", "status", "organisation"])
API_LATENCY = Histogram("cz_api_call_seconds", "HTTP call latency", ["api"])
RESTARTS = Counter("cz_service_restarts_total", "Services restarted by the supervisor", ["service"])
UP = Gauge("cz_part_up", "1 when a backing part is reachable", ["part"])
