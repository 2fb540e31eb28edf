"""Prometheus metrics of ingest (beside the shared ones in common/metrics.py)."""

from prometheus_client import Counter, Gauge, Histogram

EMITTED = Counter(
    "cz_ingest_records_emitted_total", "ConnectWise records emitted", ["record_type", "trigger", "change"]
)
CYCLES = Counter("cz_ingest_cycles_total", "Ingest cycles by outcome (ok, failed, skipped)", ["record_type", "outcome"])
CYCLE_SECONDS = Histogram(
    "cz_ingest_cycle_seconds",
    "Duration of an ingest cycle",
    ["record_type"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
)
LAST_SUCCESS = Gauge(
    "cz_ingest_last_cycle_success_timestamp_seconds", "When the last successful cycle ended", ["record_type"]
)
CALLBACK_HINTS = Counter(
    "cz_ingest_callback_hints_total",
    "ConnectWise callbacks taken from the receivers, by what became of them (fetched, waited for a write in flight)",
    ["outcome"],
)
CALLBACK_MISSES = Counter(
    "cz_callback_misses_total",
    "Records a scheduled cycle found changed while callbacks are on: changes no callback brought",
    ["record_type"],
)
