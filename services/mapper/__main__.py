"""Entry point of the mapper service."""

import sys

from ..common.db import migrate
from ..common.runtime import run_service


def work(settings, stop) -> None:
    from .app import build_app

    migrate(settings.postgres_url)
    app = build_app(settings)
    # Faust runs its own loop and handles SIGTERM/SIGINT itself.
    sys.argv = [sys.argv[0], "worker", "-l", settings.log_level.lower(), "--without-web"]
    app.main()


if __name__ == "__main__":
    run_service("mapper", work)
