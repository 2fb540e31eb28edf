"""Entry point of the audit service: the only process that opens the audit store."""

from ..common.codec import Codec
from ..common.http_app import serve
from ..common.logs import configure_logging
from ..common.settings import load_settings
from .app import create_app
from .consumer import AuditConsumer
from .retention import RetentionSetting
from .store import open_store


def main() -> None:
    settings = load_settings()
    configure_logging("audit", settings.log_level, settings.log_json)
    store = open_store(settings)
    try:
        retention = RetentionSetting(store, settings.audit_retention_days)
        retention.apply_at_start()
        consumer = AuditConsumer(settings, store, Codec.from_directory())
        serve(create_app(settings, store, consumer, retention), settings.host, settings.audit_port)
    finally:
        store.close()


if __name__ == "__main__":
    main()
