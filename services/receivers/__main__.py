"""Entry point of the receivers: ConnectWise callbacks and Xero webhooks in, hints onto Kafka."""

import logging
import sys

from ..common.http_app import serve
from ..common.logs import configure_logging
from ..common.settings import SettingsError, load_settings
from .app import create_app


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging("receivers", settings.log_level, settings.log_json)
    logging.getLogger("receivers").info("receivers listening on %s:%s", settings.host, settings.receivers_port)
    # serve() turns uvicorn's access log off: a callback URL's path is its secret.
    serve(create_app(settings), settings.host, settings.receivers_port)


if __name__ == "__main__":
    main()
