"""One-shot initialisation against production parts: create every topic and apply
every migration, then exit. `docker-compose.yml` runs it before the services."""

from __future__ import annotations

import sys

from ..common.db import migrate
from ..common.kafka import ensure_topics
from ..common.settings import SettingsError, load_settings


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not settings.kafka_bootstrap or not settings.postgres_url:
        print("CZ_KAFKA_BOOTSTRAP and CZ_POSTGRES_URL must be set (this step is for production parts)", file=sys.stderr)
        return 2
    print(f"topics created: {ensure_topics(settings.kafka_bootstrap) or 'none (all exist)'}")
    print(f"migrations applied: {migrate(settings.postgres_url) or 'none (up to date)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
