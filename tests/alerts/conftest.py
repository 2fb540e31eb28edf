import pytest
from aiosmtpd.controller import Controller

from services.mailbox.__main__ import CaptureHandler
from tests.conftest import free_port


@pytest.fixture
def mailbox(tmp_path):
    """The project's real SMTP capture server on a free port; yields (smtp_url, data_dir)."""
    data_dir = tmp_path / "mail"
    port = free_port()
    controller = Controller(CaptureHandler(data_dir), hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}", data_dir
    controller.stop()
