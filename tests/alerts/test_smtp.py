"""Sending through a real SMTP server: delivery, retry of transient refusals, permanent ones raised."""
import smtplib
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from services.alerts.smtp import SmtpUrlError, is_transient, parse_smtp_url, send
from services.common.outbox import read_messages
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def message(subject="hello") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, "cz@example.com", "finance@example.com"
    msg.set_content("body text")
    return msg


def test_url_forms_and_bad_urls():
    target = parse_smtp_url("smtps://alerts%40corp:p%40ss@mail.example.com")
    assert (target.host, target.port, target.username, target.password, target.implicit_tls) == \
        ("mail.example.com", 465, "alerts@corp", "p@ss", True)
    assert "p@ss" not in repr(target)
    assert parse_smtp_url("smtp://relay:2525?starttls=true").starttls
    for bad in ("http://relay:25", "smtp://", "smtp://relay:notaport"):
        with pytest.raises(SmtpUrlError) as caught:
            parse_smtp_url(bad)
        assert "CZ_SMTP_URL" in str(caught.value)


def test_delivers_to_the_capture_mailbox(mailbox):
    url, data_dir = mailbox
    send(parse_smtp_url(url), message("delivered"))
    assert [m["subject"] for m in read_messages(data_dir)] == ["delivered"]


class Flaky:
    """Refuses the first `failures` messages with `code`, then accepts."""

    def __init__(self, failures: int, code: int):
        self.failures, self.code, self.seen, self.accepted = failures, code, 0, []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.seen += 1
        if self.seen <= self.failures:
            return f"{self.code} not now"
        self.accepted.append(envelope.content)
        return "250 OK"


@pytest.fixture
def flaky_server():
    servers = []

    def start(failures, code):
        handler, port = Flaky(failures, code), free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        servers.append(controller)
        return handler, parse_smtp_url(f"smtp://127.0.0.1:{port}")

    yield start
    for controller in servers:
        controller.stop()


def test_transient_refusals_are_retried(flaky_server):
    handler, target = flaky_server(2, 451)
    send(target, message())
    assert handler.seen == 3 and len(handler.accepted) == 1


def test_permanent_refusal_is_raised_without_retrying(flaky_server):
    handler, target = flaky_server(5, 554)
    with pytest.raises(smtplib.SMTPDataError):
        send(target, message())
    assert handler.seen == 1


def test_nothing_listening_is_transient_and_gives_up_after_the_attempts():
    target = parse_smtp_url(f"smtp://127.0.0.1:{free_port()}")
    with pytest.raises(OSError):
        send(target, message(), attempts=2)
    assert is_transient(ConnectionRefusedError()) and not is_transient(smtplib.SMTPAuthenticationError(535, b"no"))


def test_the_notifier_refuses_settings_it_cannot_send_with():
    from services.alerts.app import Notifier
    from services.common.settings import Settings

    for bad, variable in (({"alert_email_to": " , "}, "CZ_ALERT_EMAIL_TO"), ({"alert_email_to": "finance"}, "CZ_ALERT_EMAIL_TO"),
                          ({"smtp_url": "mail.example.com:25"}, "CZ_SMTP_URL")):
        with pytest.raises(ValueError) as caught:
            Notifier(Settings(**bad))
        assert variable in str(caught.value)
