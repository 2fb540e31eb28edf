"""Metrics of what the product holds, exported by the admin service for Prometheus:
records by type, organisation and status; open exceptions by kind; Xero calls used
today and the day's budget left per organisation; the time from a change in
ConnectWise to its write in Xero; consumer lag per group and topic; and whether the
backing parts answer. Counters in each service say what happened; these say how
things stand, read from Postgres and the broker at scrape time (cached a few
seconds, so several scrapers cost one read)."""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka.admin import AdminClient
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily

from ..common.database import Database
from ..common.metrics import UP
from ..common.settings import Settings
from .kafka_lag import consumer_lag, make_admin

log = logging.getLogger(__name__)
CACHE_SECONDS = 5.0
LATENCY_WINDOW = "1 day"  # records written in this window make the latency figures
QUANTILES = (0.5, 0.95)


class ReadModelMetrics:
    def __init__(self, settings: Settings, db: Database):
        self.settings, self.db = settings, db
        self._admin: AdminClient | None = None
        self._lock = threading.Lock()
        self._cached: tuple[float, list] | None = None
        self._registered = False

    def register(self) -> None:
        if not self._registered:
            REGISTRY.register(self)
            self._registered = True

    def unregister(self) -> None:
        if self._registered:
            REGISTRY.unregister(self)
            self._registered = False

    def describe(self):
        return []  # names are known only after reading: the registry takes them from collect()

    def collect(self):
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > CACHE_SECONDS:
                self._cached = (now, self._read())
            return list(self._cached[1])

    def _read(self) -> list:
        # cz_part_up is the shared gauge: set here, it is exported from this scrape or the next.
        families: list = []
        try:
            with self.db.connection() as conn:
                families += self._from_postgres(conn)
            UP.labels(part="postgres").set(1)
        except Exception as exc:  # a scrape while Postgres is away says so, and nothing else
            log.warning("read-model metrics: postgres unreadable: %s", exc)
            UP.labels(part="postgres").set(0)
        if not self.settings.kafka_bootstrap:
            return families
        try:
            families.append(self._lag())
            UP.labels(part="kafka").set(1)
        except Exception as exc:
            log.warning("read-model metrics: consumer lag unreadable: %s", exc)
            UP.labels(part="kafka").set(0)
        return families

    def _from_postgres(self, conn) -> list:
        records = GaugeMetricFamily(
            "cz_records",
            "Records by type, organisation and sync status",
            labels=["record_type", "organisation", "status"],
        )
        for r in conn.execute(
            "select record_type, coalesce(organisation_id, '') as org, status, count(*) as n"
            " from sync_records group by 1, 2, 3"
        ):
            records.add_metric([r["record_type"], r["org"], r["status"]], r["n"])
        exceptions = GaugeMetricFamily(
            "cz_exceptions_open_by_kind", "Open exceptions by kind and organisation", labels=["kind", "organisation"]
        )
        # Every kind ever raised is reported, at zero once resolved, so a panel shows the fall to none.
        for r in conn.execute(
            "select kind, organisation_id as org, count(*) filter (where status = 'open') as n"
            " from exceptions group by 1, 2"
        ):
            exceptions.add_metric([r["kind"], r["org"]], r["n"])
        calls = GaugeMetricFamily(
            "cz_xero_calls_today", "Xero calls made today (UTC day) per organisation", labels=["organisation"]
        )
        budget = GaugeMetricFamily(
            "cz_xero_day_budget_remaining", "Xero calls left today per organisation", labels=["organisation"]
        )
        limit = self.settings.xero_limit_per_day
        for r in conn.execute(
            "select o.id, coalesce(u.calls, 0) as calls from organisations o left join api_usage u"
            " on u.organisation_id = o.id and u.day = (now() at time zone 'utc')::date"
        ):
            calls.add_metric([r["id"]], r["calls"])
            budget.add_metric([r["id"]], max(0, limit - r["calls"]))
        latency = GaugeMetricFamily(
            "cz_sync_latency_seconds",
            "Seconds from a change in ConnectWise to its write in Xero, over records "
            f"written in the last {LATENCY_WINDOW}",
            labels=["record_type", "quantile"],
        )
        for r in conn.execute(
            "select record_type, percentile_cont(%s::float8[]) within group (order by"
            " extract(epoch from status_changed_at - last_updated)) as q from sync_records"
            " where status = 'synced' and last_updated is not null and status_changed_at > now() - interval "
            f"'{LATENCY_WINDOW}'"
            " group by 1",
            (list(QUANTILES),),
        ):
            for quantile, value in zip(QUANTILES, r["q"], strict=True):
                latency.add_metric([r["record_type"], str(quantile)], max(0.0, value))
        return [records, exceptions, calls, budget, latency]

    def _lag(self) -> GaugeMetricFamily:
        admin = self._admin = self._admin or make_admin(self.settings.kafka_bootstrap)
        lag = GaugeMetricFamily(
            "cz_consumer_lag", "Messages not yet consumed, per consumer group and topic", labels=["group", "topic"]
        )
        for (group, topic), value in sorted(consumer_lag(admin).items()):
            lag.add_metric([group, topic], value)
        return lag
