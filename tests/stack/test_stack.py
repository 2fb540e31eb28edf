"""`connectzero up` end to end: every part healthy, stack.json complete, SIGTERM leaves nothing behind."""
import json
import subprocess
import sys

import httpx
import psutil
import pytest

from ..stackutil import Stack, wait_for

pytestmark = pytest.mark.stack

STACK_KEYS = ["admin.url", "admin.token", "connectwise.url", "connectwise.company", "connectwise.public_key",
              "connectwise.private_key", "connectwise.client_id", "xero.url", "xero.token_url", "xero.connections_url",
              "xero.client_id", "xero.client_secret", "xero.organisations", "kafka.bootstrap", "postgres.url", "services"]


def lookup(info: dict, dotted: str):
    for part in dotted.split("."):
        info = info[part]
    return info


def stack_processes(data_dir) -> list[psutil.Process]:
    """Every process on the machine that belongs to this stack (by its data dir or ports)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "environ"]):
        try:
            env = proc.info["environ"] or {}
            cmd = " ".join(proc.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if env.get("CZ_DATA_DIR", "").startswith(str(data_dir)) or str(data_dir) in cmd:
            found.append(proc)
    return found


def test_up_serves_every_part_and_sigterm_stops_everything(stack_dir):
    stack = Stack(stack_dir)
    try:
        info = stack.start()
        for key in STACK_KEYS:
            assert lookup(info, key), key
        assert {o["name"] for o in info["xero"]["organisations"]} and all(o["tenant_id"] for o in info["xero"]["organisations"])
        assert info["connectwise"]["url"].endswith("/apis/3.0") and info["xero"]["url"].endswith("/api.xro/2.0")
        assert set(info["services"]) >= {"ingest", "mapper", "writer", "matcher", "audit", "alerts", "admin"}
        for name, url in info["services"].items():
            resp = httpx.get(url, timeout=5)
            assert resp.status_code == 200, (name, resp.text)
            metrics_url = url.replace("/healthz", "/metrics")
            if name != "sandbox":
                assert "# TYPE python_gc_objects_collected_total counter" in httpx.get(metrics_url, timeout=5).text
        admin = stack.admin()
        assert admin.get("/docs").status_code == 200
        page = httpx.get(info["admin"]["url"] + "/")  # the console asks who is there first
        assert page.status_code == 303 and "/signin" in page.headers["location"]
        signin = httpx.get(info["admin"]["url"] + page.headers["location"])
        assert signin.status_code == 200 and "Connect Zero" in signin.text
        assert httpx.get(info["admin"]["url"] + "/api/whoami").status_code == 401
        assert admin.get("/api/whoami").status_code == 200
        assert len(stack_processes(stack_dir)) >= 8
    finally:
        code = stack.stop()
    assert code == 0, stack.output()
    assert not (stack_dir / "stack.json").exists()
    left = stack_processes(stack_dir)
    assert not left, [" ".join(p.cmdline()) for p in left]


def test_a_part_that_fails_to_start_is_named_with_its_log_and_the_rest_stop(stack_dir):
    (stack_dir / "postgres").mkdir()
    (stack_dir / "postgres" / "PG_VERSION").write_text("9\n")  # a data directory from another major version
    stack = Stack(stack_dir)
    with pytest.raises(RuntimeError) as err:
        stack.start(timeout=90)
    assert "postgres failed to start" in str(err.value)
    assert "last lines of postgres's log" in str(err.value) and "postgresql.conf" in str(err.value)
    assert stack.proc.wait(30) == 1
    left = stack_processes(stack_dir)
    assert not left, [" ".join(p.cmdline()) for p in left]


def test_a_port_already_taken_is_reported_before_anything_runs(stack_dir):
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        stack = Stack(stack_dir, smtp_port=squatter.getsockname()[1])
        with pytest.raises(RuntimeError) as err:
            stack.start(timeout=90)
    assert "mailbox failed to start: port" in str(err.value) and "already in use" in str(err.value)
    assert stack.proc.wait(30) == 1
    assert not stack_processes(stack_dir)


def test_a_service_that_dies_is_restarted_and_counted(stack_dir):
    stack = Stack(stack_dir)
    try:
        info = stack.start()
        mapper_pid = info["pids"]["mapper"]
        psutil.Process(mapper_pid).kill()
        wait_for(lambda: httpx.get(info["services"]["mapper"], timeout=2).status_code == 200
                 if _alive_other_than(info["services"]["mapper"]) else None, 60, what="mapper back")
        log = (stack_dir / "up.out").read_text()
        assert "restarted mapper (restart 1)" in log
        restarted = wait_for(lambda: json.loads((stack_dir / "stack.json").read_text()).get("restarts"), 10,
                             what="restart counted in stack.json")
        assert restarted == {"mapper": 1}
        status = subprocess.run([sys.executable, "-m", "services.cli.main", "status"], env=stack.env, capture_output=True,
                                text=True, timeout=60)
        assert status.returncode == 0, status.stdout
        assert "mapper" in status.stdout and "restarted 1x" in status.stdout
    finally:
        stack.stop()


def _alive_other_than(url):
    try:
        httpx.get(url, timeout=2)
        return True
    except httpx.HTTPError:
        return False
