"""Entry point of the sandbox: the ConnectWise and Xero simulators."""
import signal
import threading

from ..common.health import HealthChecks, serve_health
from ..common.settings import load_settings


def main() -> None:
    settings = load_settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = serve_health(settings.host, settings.sandbox_cw_port, HealthChecks({}))
    stop.wait()
    server.shutdown()


if __name__ == "__main__":
    main()
