"""A service reports a dead backing part as unhealthy and recovers when it is back."""
import os
import signal
import subprocess
import sys

import httpx
import pytest

from services.common.settings import Settings
from services.stack.parts import postgres_spec, start_embedded_parts, tansu_spec
from services.stack.supervisor import Supervisor

from ..conftest import free_port
from ..stackutil import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def outage_stack(stack_dir):
    settings = Settings(data_dir=stack_dir, kafka_port=free_port(), postgres_port=free_port(), matcher_port=free_port())
    supervisor = Supervisor(stack_dir / "logs")
    bootstrap, postgres = start_embedded_parts(supervisor, settings)
    env = {**os.environ, "CZ_DATA_DIR": str(stack_dir), "CZ_KAFKA_BOOTSTRAP": bootstrap,
           "CZ_POSTGRES_URL": postgres,
           "CZ_MATCHER_PORT": str(settings.matcher_port),
           "CZ_CW_URL": "http://127.0.0.1:1/v4_6_release/apis/3.0"}  # the matcher needs one; never called here
    service = subprocess.Popen([sys.executable, "-m", "services.matcher"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    health = f"http://127.0.0.1:{settings.matcher_port}/healthz"
    yield settings, supervisor, health
    service.send_signal(signal.SIGTERM)
    service.wait(15)
    supervisor.stop_all()


def status(url):
    try:
        resp = httpx.get(url, timeout=3)
        return resp.status_code, resp.json()
    except httpx.HTTPError:
        return None, None


@pytest.mark.parametrize("part", ["kafka", "postgres"])
def test_service_reports_a_dead_part_and_recovers(outage_stack, part):
    settings, supervisor, health = outage_stack
    wait_for(lambda: status(health)[0] == 200, 30, what="service healthy")

    victim = supervisor.running[part].proc
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    code, body = wait_for(lambda: (s := status(health))[0] == 503 and s, 30, what=f"{part} reported down")
    assert body["checks"][part] != "ok" and part in body["checks"][part]
    other = "postgres" if part == "kafka" else "kafka"
    assert body["checks"][other] == "ok"

    spec = tansu_spec(settings) if part == "kafka" else postgres_spec(settings)
    supervisor.start(spec)
    supervisor.wait_healthy([part], 60)
    code, body = wait_for(lambda: (s := status(health))[0] == 200 and s, 30, what=f"{part} recovered")
    assert body["checks"] == {"kafka": "ok", "postgres": "ok"}
