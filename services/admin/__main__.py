"""Entry point of the admin API."""

from ..common.http_app import serve
from ..common.logs import configure_logging
from ..common.settings import load_settings
from .app import create_app


def main() -> None:
    settings = load_settings()
    configure_logging("admin", settings.log_level, settings.log_json)
    serve(create_app(settings), settings.host, settings.admin_port)


if __name__ == "__main__":
    main()
