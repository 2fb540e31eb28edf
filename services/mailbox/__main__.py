"""The embedded SMTP capture server (aiosmtpd), used when no relay is configured."""

from __future__ import annotations

import logging
import signal
import threading

from aiosmtpd.controller import Controller

from ..common.logs import configure_logging
from ..common.settings import load_settings
from ..common.outbox import store_message


class CaptureHandler:
    def __init__(self, data_dir):
        self.data_dir = data_dir

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        path = store_message(self.data_dir, envelope.original_content or envelope.content)
        logging.getLogger("mailbox").info("captured mail to %s as %s", envelope.rcpt_tos, path.name)
        return "250 Message accepted for delivery"


def main() -> None:
    settings = load_settings()
    configure_logging("mailbox", settings.log_level, settings.log_json)
    controller = Controller(CaptureHandler(settings.data_dir), hostname=settings.host, port=settings.smtp_port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
