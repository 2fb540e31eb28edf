"""Every setting of Connect Zero, one `CZ_` environment variable each.

Settings are read once by an entry point and passed down; nothing reads the
environment at import time. An empty URL means "use the embedded default".
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_NAMES = (
    "sandbox",
    "audit",
    "alerts",
    "ingest",
    "mapper",
    "writer",
    "matcher",
    "admin",
    "receivers",
    "xero_status",
)


class Settings(BaseSettings):
    """One field per `CZ_<NAME>` variable; the description is its documentation."""

    model_config = SettingsConfigDict(env_prefix="CZ_", extra="ignore")

    data_dir: Path = Field(
        Path(".connectzero"), description="Where embedded parts keep their data, logs and stack.json."
    )
    host: str = Field("127.0.0.1", description="Interface every local HTTP endpoint binds to.")

    kafka_bootstrap: str = Field("", description="Kafka bootstrap servers; empty starts the embedded Tansu broker.")
    kafka_port: int = Field(9092, ge=1, le=65535, description="Port of the embedded broker.")
    postgres_url: str = Field("", description="postgresql:// URL; empty starts embedded PostgreSQL.")
    postgres_port: int = Field(5433, ge=1, le=65535, description="Port of the embedded PostgreSQL.")
    clickhouse_url: str = Field(
        "", description="http(s):// URL of a ClickHouse server; empty uses chdb in the data directory."
    )
    smtp_url: str = Field(
        "", description="smtp://user:pass@host:port of a relay; empty starts the local capture server."
    )
    smtp_port: int = Field(8025, ge=1, le=65535, description="Port of the local SMTP capture server.")
    schema_registry_url: str = Field(
        "", description="Confluent Schema Registry URL; empty uses the ids pinned in schemas/registry.json."
    )

    admin_port: int = Field(8080, ge=1, le=65535, description="Port of the admin API and dashboard.")
    admin_token: str = Field(
        "", description="Bearer token for the admin API; empty generates one in the data directory."
    )
    secret_key: str = Field(
        "", description="Fernet key that encrypts credentials at rest; empty generates one in the data directory."
    )
    signin_max_failures: int = Field(
        10,
        ge=1,
        description="Failed sign-ins (bad token or password, API or console) one client address may make in "
        "CZ_SIGNIN_WINDOW_SECONDS before it is refused (429) until the window passes.",
    )
    signin_window_seconds: int = Field(
        300, ge=1, le=86400, description="Window, in seconds, over which failed sign-ins are counted."
    )
    ingest_port: int = Field(8101, ge=1, le=65535, description="Health and metrics port of ingest.")
    mapper_port: int = Field(8102, ge=1, le=65535, description="Health and metrics port of mapper.")
    writer_port: int = Field(8103, ge=1, le=65535, description="Health and metrics port of writer.")
    matcher_port: int = Field(8104, ge=1, le=65535, description="Health and metrics port of matcher.")
    audit_port: int = Field(8105, ge=1, le=65535, description="Audit service: health, metrics, search and export.")
    alerts_port: int = Field(8106, ge=1, le=65535, description="Health and metrics port of alerts.")
    receivers_port: int = Field(
        8107,
        ge=1,
        le=65535,
        description="Port of the receivers of ConnectWise callbacks and Xero webhooks (the one a reverse proxy "
        "exposes).",
    )
    xero_status_port: int = Field(
        8108,
        ge=1,
        le=65535,
        description="Health and metrics port of xero_status (Xero states of written records, from webhooks).",
    )

    sandbox: bool = Field(True, description="Start the ConnectWise and Xero simulators and point the product at them.")
    demo_setup: bool = Field(
        True, description="With the sandbox: connect its organisations and load demo mappings on first start."
    )
    sandbox_cw_port: int = Field(8201, ge=1, le=65535, description="Port of the ConnectWise simulator.")
    sandbox_xero_port: int = Field(8202, ge=1, le=65535, description="Port of the Xero simulator.")
    sandbox_scale: int = Field(1, ge=0, le=1000, description="Size of the synthetic MSP (1 = a few hundred records).")
    sandbox_seed: int = Field(7, description="Seed of the synthetic data.")
    sandbox_mutate_seconds: float = Field(
        20.0, ge=0, description="Seconds between simulated edits; 0 turns the mutator off."
    )
    sandbox_xero_minute_limit: int = Field(
        60, ge=1, description="Calls per minute per organisation the Xero simulator allows (Xero: 60)."
    )
    sandbox_xero_day_limit: int = Field(
        5000, ge=1, description="Calls per day per organisation the Xero simulator allows (Xero: 5,000)."
    )

    cw_url: str = Field("", description="ConnectWise `.../apis/3.0` base URL; empty uses the simulator.")
    cw_company: str = Field("", description="ConnectWise company id (login company).")
    cw_public_key: str = Field("", description="ConnectWise API member public key.")
    cw_private_key: str = Field("", description="ConnectWise API member private key (secret).")
    cw_client_id: str = Field("", description="ConnectWise clientId header value.")
    xero_url: str = Field("", description="Xero `.../api.xro/2.0` base URL; empty uses the simulator.")
    xero_token_url: str = Field("", description="Xero OAuth token endpoint.")
    xero_connections_url: str = Field("", description="Xero connections endpoint.")
    xero_authorize_url: str = Field(
        "",
        description="Xero OAuth authorize endpoint, where the console's Connect to Xero button sends the operator; "
        "empty: Xero's own (https://login.xero.com/identity/connect/authorize), or the simulator's with the sandbox.",
    )
    xero_client_id: str = Field("", description="Xero app client id.")
    xero_client_secret: str = Field("", description="Xero app client secret (secret).")
    receivers_public_url: str = Field(
        "",
        description="Public https base URL where ConnectWise and Xero reach the receivers (through a reverse proxy); "
        "ingest registers its callbacks there. Empty: no callbacks, changes wait for the schedule. With the sandbox, "
        "empty means http://host:receivers_port.",
    )
    callback_secret: str = Field(
        "",
        description="Per-installation secret in the ConnectWise callback URL (secret); empty generates one in the "
        "data directory.",
    )
    xero_webhook_key: str = Field(
        "",
        description="Xero webhook signing key, from the Xero app's webhook settings (secret); empty refuses every "
        "webhook. With the sandbox, the simulator's key.",
    )
    callback_window_seconds: float = Field(
        0.5,
        ge=0.05,
        le=30,
        description="Ingest: callbacks are gathered this long, then their records are fetched together.",
    )
    xero_limit_concurrent: int = Field(5, ge=1, description="Writer: concurrent Xero calls allowed per organisation.")
    xero_limit_per_minute: int = Field(60, ge=1, description="Writer: Xero calls allowed per organisation per minute.")
    xero_limit_per_day: int = Field(5000, ge=1, description="Writer: Xero calls allowed per organisation per day.")
    xero_limit_app_per_minute: int = Field(
        10000, ge=1, description="Writer: Xero calls allowed per minute across all organisations."
    )
    writer_max_batch: int = Field(
        3000,
        ge=1,
        le=10000,
        description="Writer: most write requests of one organisation held in memory (consumed, not yet written); "
        "its later ones stay in Kafka, uncommitted, until it has room, while the other organisations go on.",
    )
    held_money_sweep_seconds: float = Field(
        300.0,
        ge=1,
        description="Mapper: how often money waiting for its document (a draft in Xero, a matcher application) is "
        "looked at again.",
    )
    matcher_group: str = Field(
        "",
        description="Matcher: Kafka consumer group; empty: one derived from the Postgres URL, so stacks sharing a "
        "broker never share it.",
    )
    writer_group: str = Field(
        "connectzero-writer", min_length=1, description="Writer: Kafka consumer group (one per stack sharing a broker)."
    )

    replicas: str = Field(
        "",
        description="Local stack: extra instances of services, e.g. writer=2,mapper=2 (audit stays one on embedded "
        "chdb).",
    )
    instance: int = Field(
        1, ge=1, description="Which instance of its service this process is (set by the stack for replicas)."
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_json: bool | None = Field(None, description="JSON logs; default: JSON unless stderr is a terminal.")
    session_timeout_ms: int = Field(10000, ge=1000, description="Kafka consumer session timeout.")
    restart_backoff_max: float = Field(
        30.0, gt=0, description="Longest wait before the supervisor restarts a dead service."
    )
    startup_timeout: float = Field(
        120.0, gt=0, description="Seconds `connectzero up` waits for every part to be healthy."
    )
    audit_retention_days: int = Field(
        90,
        ge=30,
        le=365,
        description="Days the audit log keeps entries (30-365), until a retention is set at run time (`PUT "
        "/api/settings/audit`, `connectzero audit-retention`), which then holds across restarts.",
    )
    audit_url: str = Field(
        "", description="Base URL the admin API reaches the audit service at; empty means http://host:audit_port."
    )
    admin_public_url: str = Field("", description="Base URL alert emails link to; empty means http://host:admin_port.")
    alert_digest_hour_utc: int = Field(7, ge=0, le=23, description="Hour (UTC) the daily exception digest is sent.")
    alert_email_to: str = Field("finance@example.com", description="Comma-separated recipients of exception alerts.")
    alert_email_from: str = Field("connectzero@example.com", description="Sender address of exception alerts.")
    alert_check_seconds: float = Field(
        5.0, gt=0, le=3600, description="Seconds between the alerts service's checks for exceptions to send."
    )
    alert_cw_failed_cycles: int = Field(
        3,
        ge=1,
        le=100,
        description="ConnectWise cycles in a row that fail (outage, rejected keys) before one alert is emailed; one "
        "more when every record type's cycle succeeds again.",
    )
    alert_token_warn_days: int = Field(
        7,
        ge=1,
        le=59,
        description="Days before an organisation's unused Xero refresh token lapses (60 days after its last use) "
        "that a warning is emailed.",
    )
    audit_group: str = Field(
        "connectzero-audit", min_length=1, description="Audit: Kafka consumer group (one per stack sharing a broker)."
    )
    alerts_group: str = Field(
        "connectzero-alerts", min_length=1, description="Alerts: Kafka consumer group (one per stack sharing a broker)."
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"must be DEBUG, INFO, WARNING or ERROR, not {value!r}")
        return level

    def port_of(self, service: str) -> int:
        return getattr(self, f"{service}_port")

    def health_url(self, service: str) -> str:
        if service == "sandbox":
            return f"http://{self.host}:{self.sandbox_cw_port}/healthz"
        return f"http://{self.host}:{self.port_of(service)}/healthz"

    def replica_counts(self) -> dict[str, int]:
        """`replicas` as {service: instances}; a bad entry stops the process, naming it."""
        counts: dict[str, int] = {}
        for entry in filter(None, (e.strip() for e in self.replicas.split(","))):
            name, _, number = entry.partition("=")
            if not number.strip().isdigit() or int(number) < 1:
                raise SettingsError(f"CZ_REPLICAS: {entry!r} is not service=number")
            counts[name.strip()] = int(number)
        return counts

    @property
    def stack_file(self) -> Path:
        return self.data_dir / "stack.json"


class SettingsError(SystemExit):
    """Raised with a message that names each bad variable and why."""


def load_settings(**overrides) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [
            f"  CZ_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        ]
        raise SettingsError("invalid settings:\n" + "\n".join(lines)) from None


def documented_variables() -> dict[str, str]:
    """`CZ_NAME` -> description, for the README and the compose-file check."""
    return {f"CZ_{name.upper()}": field.description or "" for name, field in Settings.model_fields.items()}
