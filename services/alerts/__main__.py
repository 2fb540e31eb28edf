"""Entry point of the alerts service."""

import sys

from ..common.codec import Codec
from ..common.http_app import serve
from ..common.logs import configure_logging
from ..common.settings import load_settings
from .app import ExceptionRecorder, Notifier, create_app


def main() -> None:
    settings = load_settings()
    configure_logging("alerts", settings.log_level, settings.log_json)
    try:
        notifier = Notifier(settings)
    except ValueError as exc:  # a bad CZ_SMTP_URL or CZ_ALERT_EMAIL_TO: say which, do not start
        print(f"invalid settings: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    recorder = ExceptionRecorder(settings, Codec.from_directory(), on_new=notifier.wake.set)
    serve(create_app(settings, recorder, notifier), settings.host, settings.alerts_port)


if __name__ == "__main__":
    main()
