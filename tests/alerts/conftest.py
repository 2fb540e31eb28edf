import pytest
from aiosmtpd.controller import Controller

from services.mailbox.__main__ import CaptureHandler
from tests.conftest import free_port
from tests.integrations.connectwise.sim import cw_sim, cw_sim_factory  # noqa: F401  (fixtures)


class Mailbox:
    """The project's real SMTP capture server on a fixed port: stopped and started again, it is the
    same server coming back, at the same address and with the same folder."""

    def __init__(self, data_dir):
        self.data_dir, self.port = data_dir, free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(CaptureHandler(self.data_dir), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server(tmp_path):
    server = Mailbox(tmp_path / "mail")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server):
    """The capture server; yields (smtp_url, data_dir)."""
    return smtp_server.url, smtp_server.data_dir
