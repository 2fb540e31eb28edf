"""Entry point of the alerts service."""
from ..common.codec import Codec
from ..common.http_app import serve
from ..common.logs import configure_logging
from ..common.settings import load_settings
from .app import ExceptionRecorder, Notifier, create_app


def main() -> None:
    settings = load_settings()
    configure_logging("alerts", settings.log_level, settings.log_json)
    notifier = Notifier(settings)
    recorder = ExceptionRecorder(settings, Codec.from_directory(), on_new=notifier.wake.set)
    serve(create_app(settings, recorder, notifier), settings.host, settings.alerts_port)


if __name__ == "__main__":
    main()
