"""The local stack: which parts and services run, with what settings, and what
`stack.json` tells scripts and tests about them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..common.receiver_urls import cw_callback_url, public_base, xero_webhook_url
from ..common.settings import Settings, SettingsError
from ..common import secrets
from ..common import sandbox_identity as identity
from .parts import (
    ProcessSpec,
    embedded_postgres_url,
    free_port,
    http_health,
    postgres_spec,
    python_service_spec,
    tansu_spec,
    tcp_open,
)

# The receivers come before ingest: ConnectWise calls them back as soon as ingest registers.
SERVICE_ORDER = ("audit", "alerts", "receivers", "ingest", "mapper", "writer", "matcher", "xero_status", "admin")


def resolve(settings: Settings) -> Settings:
    """Fills every empty URL with the embedded or sandbox default, so children get concrete values."""
    data_dir = settings.data_dir.resolve()
    values = settings.model_dump()
    values["data_dir"] = data_dir
    values["kafka_bootstrap"] = settings.kafka_bootstrap or f"{settings.host}:{settings.kafka_port}"
    values["postgres_url"] = settings.postgres_url or embedded_postgres_url(settings)
    values["smtp_url"] = settings.smtp_url or f"smtp://{settings.host}:{settings.smtp_port}"
    values["admin_token"] = secrets.admin_token(settings.model_copy(update={"data_dir": data_dir}))
    values["secret_key"] = secrets.secret_key(settings.model_copy(update={"data_dir": data_dir}))
    values["callback_secret"] = secrets.callback_secret(settings.model_copy(update={"data_dir": data_dir}))
    # The simulators run beside the receivers: real time out of the box, no proxy needed.
    if settings.sandbox and not settings.cw_url and not settings.receivers_public_url:
        values["receivers_public_url"] = f"http://{settings.host}:{settings.receivers_port}"
    if settings.sandbox and not settings.xero_url and not settings.xero_webhook_key:
        values["xero_webhook_key"] = identity.XERO_WEBHOOK_KEY
    if settings.sandbox and not settings.cw_url:
        values.update(
            cw_url=identity.cw_base(settings.host, settings.sandbox_cw_port),
            cw_company=identity.CW_COMPANY,
            cw_public_key=identity.CW_PUBLIC_KEY,
            cw_private_key=identity.CW_PRIVATE_KEY,
            cw_client_id=identity.CW_CLIENT_ID,
        )
    if settings.sandbox and not settings.xero_url:
        xero = identity.xero_endpoints(settings.host, settings.sandbox_xero_port)
        values.update(
            xero_url=xero["url"],
            xero_token_url=xero["token_url"],
            xero_connections_url=xero["connections_url"],
            xero_authorize_url=xero["authorize_url"],
            xero_client_id=identity.XERO_CLIENT_ID,
            xero_client_secret=identity.XERO_CLIENT_SECRET,
        )
    return Settings.model_validate(values)


def child_env(resolved: Settings) -> dict[str, str]:
    env = {}
    for name, value in resolved.model_dump().items():
        if value is None:
            continue
        env[f"CZ_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def plan(settings: Settings, resolved: Settings) -> list[ProcessSpec]:
    """Parts first (each must be healthy before the next), then the sandbox, then the services."""
    from ..common.db import migrate
    from ..common.kafka import ensure_topics

    env = child_env(resolved)
    specs: list[ProcessSpec] = []
    if not settings.kafka_bootstrap:
        kafka = tansu_spec(settings)
        # Tansu keeps topics in memory: after every (re)start they are declared again.
        kafka.after_start = lambda: ensure_topics(resolved.kafka_bootstrap, timeout=10)
        specs.append(kafka)
    if not settings.postgres_url:
        pg = postgres_spec(settings)
        pg.after_start = lambda: migrate(resolved.postgres_url)
        specs.append(pg)
    if not settings.smtp_url:
        specs.append(
            python_service_spec(
                "mailbox",
                "services.mailbox",
                resolved,
                env,
                kind="part",
                health=lambda: tcp_open(settings.host, settings.smtp_port),
                port=settings.smtp_port,
            )
        )
    if settings.sandbox:
        specs.append(python_service_spec("sandbox", "services.sandbox", resolved, env))
    replicas = resolved.replica_counts()
    unknown = set(replicas) - set(SERVICE_ORDER) or (
        {"audit"} & {n for n, c in replicas.items() if c > 1} if not resolved.clickhouse_url else set()
    )
    if unknown:
        raise SettingsError(
            f"CZ_REPLICAS: cannot run more than one of {', '.join(sorted(unknown))} here"
            " (audit needs a ClickHouse server to share)"
        )
    # Every port the stack's own parts will listen on: a replica's port must be none of them.
    taken = {v for k, v in resolved.model_dump().items() if k.endswith("_port") and isinstance(v, int)}
    for name in SERVICE_ORDER:
        specs.append(python_service_spec(name, f"services.{name}", resolved, env, port=resolved.port_of(name)))
        for instance in range(2, replicas.get(name, 1) + 1):
            # Another instance in the same consumer group: its own health port, the rest shared.
            port = free_port(avoid=taken)
            taken.add(port)
            specs.append(
                python_service_spec(
                    f"{name}-{instance}",
                    f"services.{name}",
                    resolved,
                    {**env, f"CZ_{name.upper()}_PORT": str(port), "CZ_INSTANCE": str(instance)},
                    port=port,
                    health=http_health(f"http://{resolved.host}:{port}/healthz"),
                )
            )
    return specs


def stack_description(resolved: Settings, pids: dict[str, int]) -> dict:
    services = {
        name: resolved.health_url(name) for name in ("sandbox", *SERVICE_ORDER) if name != "sandbox" or resolved.sandbox
    }
    return {
        "admin": {
            "url": f"http://{resolved.host}:{resolved.admin_port}",
            "token": resolved.admin_token,
            "docs": f"http://{resolved.host}:{resolved.admin_port}/docs",
        },
        "connectwise": {
            "url": resolved.cw_url,
            "company": resolved.cw_company,
            "public_key": resolved.cw_public_key,
            "private_key": resolved.cw_private_key,
            "client_id": resolved.cw_client_id,
        },
        "xero": {
            "url": resolved.xero_url,
            "token_url": resolved.xero_token_url,
            "connections_url": resolved.xero_connections_url,
            "client_id": resolved.xero_client_id,
            "client_secret": resolved.xero_client_secret,
            "organisations": [
                {"name": o.name, "short": o.short, "tenant_id": o.tenant_id} for o in identity.ORGANISATIONS
            ]
            if resolved.sandbox
            else [],
        },
        "kafka": {"bootstrap": resolved.kafka_bootstrap},
        "postgres": {"url": resolved.postgres_url},
        "smtp": {"url": resolved.smtp_url},
        "audit": {"url": f"http://{resolved.host}:{resolved.audit_port}"},
        "receivers": receivers_description(resolved),
        "services": services,
        "pids": pids,
        "supervisor_pid": os.getpid(),
    }


def receivers_description(resolved: Settings) -> dict:
    """Where ConnectWise and Xero reach the receivers (None: not exposed, schedule only)."""
    base = public_base(resolved)
    return {
        "url": f"http://{resolved.host}:{resolved.receivers_port}",
        "public_url": base,
        "connectwise_callback_url": cw_callback_url(base, resolved.callback_secret) if base else None,
        "xero_webhook_url": xero_webhook_url(base) if base else None,
    }


def write_stack_file(path: Path, description: dict) -> None:
    # Holds the admin token and sandbox keys: owner-only, written atomically.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(description, fh, indent=2)
    os.replace(tmp, path)
