"""`connectzero users add|list|revoke` against the admin app served over HTTP on real Postgres."""
import re
import threading
import time

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from services.admin.app import create_app
from services.cli.main import app as cli
from services.common.settings import Settings
from tests.conftest import free_port

TOKEN = "users-cli-token"


@pytest.fixture
def admin_url(fresh_database, tmp_path):
    port = free_port()
    settings = Settings(admin_token=TOKEN, postgres_url=fresh_database, data_dir=tmp_path)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "admin app did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def run(url: str, *args: str, token: str = TOKEN, input: str | None = None):  # noqa: A002 (CliRunner's name)
    return CliRunner().invoke(cli, ["users", *args, "--url", url, "--token", token], input=input)


def whoami(url: str, token: str) -> httpx.Response:
    return httpx.get(f"{url}/api/whoami", headers={"Authorization": f"Bearer {token}"})


def test_users_are_added_listed_and_revoked_from_the_command_line(admin_url):
    added = run(admin_url, "add", "maria@harbour.example", "--role", "operator", "--password",
                input="a long enough passphrase\na long enough passphrase\n")
    assert added.exit_code == 0, added.output
    token = re.search(r"token: (czu_\S+)", added.output).group(1)
    assert "shown this once" in added.output and "a long enough passphrase" not in added.output
    assert whoami(admin_url, token).json() == {"name": "maria@harbour.example", "role": "operator"}

    listed = run(admin_url, "list")
    assert listed.exit_code == 0 and listed.output.split()[:6] == ["maria@harbour.example", "operator", "password",
                                                                    "added", "by", "admin"]
    assert token not in listed.output

    refused = run(admin_url, "add", "otto", "--role", "viewer", token=token)  # an operator adds no one
    assert refused.exit_code == 1 and "403" in refused.output and "admin" in refused.output
    bad_role = run(admin_url, "add", "otto", "--role", "owner")
    assert bad_role.exit_code == 1 and "role" in bad_role.output

    assert run(admin_url, "revoke", "maria@harbour.example").exit_code == 0
    assert whoami(admin_url, token).status_code == 401
    again = run(admin_url, "revoke", "maria@harbour.example")
    assert again.exit_code == 1 and "no user named" in again.output
    assert "no users yet" in run(admin_url, "list").output
