"""Debian's prometheus scrapes every service of the running stack, with the deploy/ configuration
(its targets pointed at this stack's ports), and every query of every Grafana panel in
deploy/grafana/dashboards returns data. What only happens on a bad day (a 429 from Xero, a
message dead-lettered) is made to happen first, so those panels are checked too."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from confluent_kafka import Producer

from services.stack.stack import SERVICE_ORDER

from tests.conftest import free_port
from tests.e2e.sandbox_clients import connectwise, new_invoice
from tests.stackutil import Stack, wait_for

pytestmark = pytest.mark.stack
DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
PROMETHEUS = "/usr/bin/prometheus"


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel, expression) of every target of every panel."""
    out = []
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                out.append((path.name, panel["title"], target["expr"]))
    return out


def scrape_config(info: dict, tmp: Path) -> Path:
    """deploy/prometheus/prometheus.yml with each `service:port` target replaced by this stack's address."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "2s"
    job = config["scrape_configs"][0]
    deployed = {t.split(":")[0] for t in job["static_configs"][0]["targets"]}
    assert deployed == set(SERVICE_ORDER), "deploy/prometheus/prometheus.yml must scrape every service"
    job["static_configs"][0]["targets"] = [info["services"][name].removeprefix("http://").removesuffix("/healthz")
                                           for name in SERVICE_ORDER]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def bad_day(info: dict) -> None:
    """A 429 from Xero (the writer waits it out) and a message no consumer can read (dead-lettered)."""
    xero_root = info["xero"]["token_url"].rsplit("/connect/token", 1)[0]
    httpx.post(f"{xero_root}/_sandbox/faults", json={"storm_429": 2, "retry_after_seconds": 1}, timeout=10)
    try:
        invoice = new_invoice(connectwise(info), 250, [(1, "1", "12.00")])
        with Stack.admin_for(info) as admin:
            admin.post(f"/api/records/invoice/{invoice['id']}/force-sync")
            wait_for(lambda: admin.get("/api/records", params={"record_type": "invoice", "q": str(invoice["id"])}
                                       ).json()["items"][:1] and True, 60, what="the invoice read")
    finally:
        time.sleep(5)
        httpx.post(f"{xero_root}/_sandbox/faults", json={"clear": True}, timeout=10)
    producer = Producer({"bootstrap.servers": info["kafka"]["bootstrap"]})
    # On a topic the other end-to-end tests do not read back (they decode cw.invoices.v1 themselves).
    producer.produce("cw.refunds.v1", key=b"poison", value=b"not avro at all")
    producer.flush(10)


def test_every_grafana_panel_query_returns_data(console_stack, tmp_path):
    if not Path(PROMETHEUS).exists():
        pytest.fail(f"{PROMETHEUS} is missing: `make test` installs Debian's prometheus")
    _, info = console_stack
    queries = panel_queries()
    assert len({d for d, _, _ in queries}) >= 4 and len(queries) >= 18
    port = free_port()
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={scrape_config(info, tmp_path)}",
                             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "wb"))
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        def all_up():
            try:
                targets = httpx.get(f"{api}/targets", timeout=5).json()["data"]["activeTargets"]
            except (httpx.HTTPError, ValueError, KeyError):  # not listening yet, or not ready to answer
                return None
            return len(targets) == len(SERVICE_ORDER) and all(t["health"] == "up" for t in targets) and targets
        wait_for(all_up, 60, interval=1, what="prometheus scraping every service")
        bad_day(info)

        def empty() -> list[str]:
            missing = []
            for board, title, expr in queries:
                result = httpx.get(f"{api}/query", params={"query": expr}, timeout=10).json()
                assert result["status"] == "success", (board, title, expr, result)
                if not result["data"]["result"]:
                    missing.append(f"{board} / {title}: {expr}")
            return missing
        last: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (last := empty()):
            time.sleep(3)
        assert not last, "panels with no data:\n" + "\n".join(last)
        # The 429s are told per organisation: the storm's 429 came from the organisation the invoice went to.
        storm = next(expr for _, title, expr in queries if "429" in title)
        series = httpx.get(f"{api}/query", params={"query": storm}, timeout=10).json()["data"]["result"]
        assert {s["metric"].get("organisation") for s in series} & {o["short"] for o in info["xero"]["organisations"]}, series
    finally:
        proc.terminate()
        proc.wait(15)
        shutil.rmtree(tmp_path / "data", ignore_errors=True)
