"""The `connectzero` command line: the local stack and the admin API's ops actions.

Ops commands read the admin URL and token from stack.json (or --url/--token),
and exit 0 when the action was accepted, 1 when the API refused it, 2 when the
admin API cannot be reached.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.progress import Progress

from ..common.settings import SettingsError, load_settings
from ..common.record_kinds import RECORD_TYPES

app = typer.Typer(help="Connect Zero: ConnectWise Manage to Xero, kept in step.", no_args_is_help=True)
console = Console(soft_wrap=True)  # scripts read these lines: never wrap them

UrlOpt = Annotated[Optional[str], typer.Option(help="Admin API base URL (default: from stack.json).")]
TokenOpt = Annotated[Optional[str], typer.Option(help="Admin API bearer token (default: from stack.json).")]


@app.command()
def up() -> None:
    """Start the whole local stack (embedded parts, sandbox, every service) and supervise it."""
    from .up import run_stack

    try:
        settings = load_settings()
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    raise typer.Exit(run_stack(settings))


@app.command("settings")
def settings_table() -> None:
    """Every CZ_ setting with its default and meaning, as a Markdown table (the README's list)."""
    from ..common.settings import Settings

    print("| variable | default | meaning |\n|---|---|---|")
    for name, field in Settings.model_fields.items():
        print(f"| `CZ_{name.upper()}` | `{field.default}` | {field.description} |")


def _stack() -> dict:
    path = load_settings().stack_file
    if not path.exists():
        console.print(f"[red]no running stack: {path} not found (start one with `connectzero up`)[/red]")
        raise typer.Exit(2)
    return json.loads(path.read_text())


def _client(url: str | None, token: str | None) -> httpx.Client:
    if not url or not token:
        stack = _stack()
        url = url or stack["admin"]["url"]
        token = token or stack["admin"]["token"]
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def _call(client: httpx.Client, method: str, path: str, **kwargs) -> dict:
    try:
        resp = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        console.print(f"[red]admin API unreachable at {client.base_url}: {exc}[/red]")
        raise typer.Exit(2) from None
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {"text": resp.text}
    if resp.status_code >= 400:
        console.print(f"[red]{method} {path} refused ({resp.status_code}): {json.dumps(body)}[/red]")
        raise typer.Exit(1)
    return body


@app.command()
def status(url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Health of every part and service of the running stack; exit 1 if any is unhealthy."""
    stack = _stack()
    bad = 0
    for name, health_url in stack["services"].items():
        try:
            resp = httpx.get(health_url, timeout=3)
            ok = resp.status_code == 200
            detail = resp.json().get("checks", {}) if ok or resp.status_code == 503 else resp.text[:100]
        except httpx.HTTPError as exc:
            ok, detail = False, str(exc)
        bad += not ok
        restarts = stack.get("restarts", {}).get(name, 0)
        note = f" (restarted {restarts}x)" if restarts else ""
        console.print(
            f"{'[green]ok[/green]  ' if ok else '[red]DOWN[/red]'} {name:8} {health_url}{note} "
            f"{detail if not ok else ''}"
        )
    raise typer.Exit(1 if bad else 0)


def _check_type(record_type: str) -> str:
    if record_type not in RECORD_TYPES:
        console.print(f"[red]unknown record type {record_type!r}; one of {', '.join(RECORD_TYPES)}[/red]")
        raise typer.Exit(2)
    return record_type


@app.command("run")
def run_cycle(record_type: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Run a sync cycle for a record type now, for every organisation."""
    with _client(url, token) as client:
        body = _call(client, "POST", f"/api/sync/{_check_type(record_type)}/run")
    console.print(f"cycle requested: {body}")


@app.command("force-sync")
def force_sync(
    record_type: str,
    record_id: str,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the result (0: don't).")] = 0,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Push one record through now, bypassing the schedule."""
    with _client(url, token) as client:
        body = _call(client, "POST", f"/api/records/{_check_type(record_type)}/{record_id}/force-sync")
        console.print(f"force-sync requested: {body}")
        deadline = time.monotonic() + wait
        while wait and time.monotonic() < deadline:
            records = _call(client, "GET", "/api/records", params={"record_type": record_type, "q": record_id})
            items = records.get("items", [])
            if items and items[0].get("status") not in (None, "pending"):
                console.print(f"{record_type} {record_id}: {items[0]['status']}")
                raise typer.Exit(0 if items[0]["status"] in ("synced", "written") else 1)
            time.sleep(0.5)


@app.command()
def replay(
    record_type: str,
    window_from: Annotated[str, typer.Option("--from")],
    window_to: Annotated[str, typer.Option("--to")],
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Replay every record of a type changed in a time window (ISO-8601, UTC)."""
    with _client(url, token) as client:
        body = _call(
            client,
            "POST",
            "/api/replay",
            json={"record_type": _check_type(record_type), "from": window_from, "to": window_to},
        )
    console.print(f"replay requested: {body}")


@app.command("audit-retention")
def audit_retention(
    days: Annotated[
        Optional[int], typer.Argument(help="Days to keep audit entries, 30 to 365; omit it to show the retention.")
    ] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Show or set how long the audit log keeps entries: applied at once (older entries are deleted
    in the background) and kept across restarts."""
    with _client(url, token) as client:
        body = (
            _call(client, "GET", "/api/settings/audit")
            if days is None
            else _call(client, "PUT", "/api/settings/audit", json={"retention_days": days})
        )
    how = (
        f"set by {body['set_by']} at {body['set_at']}"
        if body["source"] == "set"
        else "from CZ_AUDIT_RETENTION_DAYS, until one is set here"
    )
    console.print(f"audit retention: {body['retention_days']} days ({how})")


@app.command("import-mappings")
def import_mappings(
    csv_file: Path,
    dry_run: Annotated[bool, typer.Option("--dry-run/--apply")] = True,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Bulk-import routing rules and mapping tables from CSV (dry run by default)."""
    if not csv_file.exists():
        console.print(f"[red]{csv_file}: no such file[/red]")
        raise typer.Exit(2)
    data = csv_file.read_bytes()
    with _client(url, token) as client, Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{'checking' if dry_run else 'importing'} {csv_file.name}", total=None)
        try:
            resp = client.post(
                "/api/mappings/import",
                params={"dry_run": str(dry_run).lower()},
                content=data,
                headers={"Content-Type": "text/csv"},
            )
        except httpx.HTTPError as exc:
            console.print(f"[red]admin API unreachable: {exc}[/red]")
            raise typer.Exit(2) from None
        progress.update(task, completed=1, total=1)
    body = resp.json()
    for err in body.get("errors", []):
        console.print(f"[red]line {err.get('line')}: {err.get('reason')}[/red]")
    console.print(
        f"{body.get('rows', 0)} rows, {len(body.get('errors', []))} errors, "
        f"{'nothing applied (dry run)' if dry_run else 'applied' if resp.status_code < 400 else 'nothing applied'}"
    )
    raise typer.Exit(0 if resp.status_code < 400 and not body.get("errors") else 1)


users_app = typer.Typer(
    help="People and roles: add a user (its token is printed once), list them, revoke one.", no_args_is_help=True
)
app.add_typer(users_app, name="users")
ROLE_HELP = (
    "viewer (reads everything), operator (also force-sync, run, replay, resolve exceptions) or admin "
    "(also organisations, credentials, mappings, settings, users)"
)


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "viewer",
    password: Annotated[
        bool,
        typer.Option("--password/--no-password", help="Ask for a password, for the console's sign-in with a name."),
    ] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Add a user with a role; prints its API token, which is shown this once."""
    body: dict = {"name": name, "role": role}
    if password:
        body["password"] = typer.prompt("Password (12 characters or more)", hide_input=True, confirmation_prompt=True)
    with _client(url, token) as client:
        user = _call(client, "POST", "/api/users", json=body)
    console.print(f"added {user['name']} ({user['role']})")
    console.print(f"token: {user['token']}")
    console.print("[yellow]the token is shown this once: keep it now (revoke the user to withdraw it)[/yellow]")


@users_app.command("list")
def users_list(url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Every live user with its role, who added it and when."""
    with _client(url, token) as client:
        users = _call(client, "GET", "/api/users")
    width = max((len(u["name"]) for u in users), default=0)
    for user in users:
        console.print(
            f"{user['name']:{width}}  {user['role']:8}  {'password' if user['has_password'] else 'token only':10}"
            f"  added by {user['created_by']} at {user['created_at']}",
            highlight=False,
        )
    if not users:
        console.print("no users yet (the admin token signs in as admin)")


@users_app.command("revoke")
def users_revoke(name: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Revoke a user: its token and password stop working and its console sessions end, at once."""
    with _client(url, token) as client:
        _call(client, "DELETE", f"/api/users/{quote(name, safe='')}")
    console.print(f"revoked {name}")


@app.command("callbacks")
def callbacks(action: Annotated[str, typer.Argument(help="list, register or remove")] = "list") -> None:
    """This installation's ConnectWise callbacks: list them, register them now, or remove them
    (then changes wait for the schedule; ingest registers them again at its next start unless
    CZ_RECEIVERS_PUBLIC_URL is empty)."""
    from ..common.redact import redact_text
    from ..common.secrets import callback_secret
    from ..ingest import callback_registration as registration
    from ..integrations.connectwise.client import CwApiError, CwClient

    if action not in ("list", "register", "remove"):
        console.print(f"[red]unknown action {action!r}; one of list, register, remove[/red]")
        raise typer.Exit(2)
    settings = load_settings()
    if settings.cw_url:
        client, base = CwClient.from_settings(settings), settings.receivers_public_url.rstrip("/")
    else:  # the local stack: its sandbox and receivers, as stack.json tells
        stack = _stack()
        cw = stack["connectwise"]
        client = CwClient(cw["url"], cw["company"], cw["public_key"], cw["private_key"], cw["client_id"])
        base = (stack.get("receivers") or {}).get("public_url") or ""
    if not base:
        console.print("[red]CZ_RECEIVERS_PUBLIC_URL is empty: this installation has no callback URL[/red]")
        raise typer.Exit(2)
    try:
        with client:
            if action == "register":
                done = registration.register(client, base, callback_secret(settings))
                console.print(f"{len(done.add)} added, {len(done.remove)} removed, {len(done.kept)} already registered")
            elif action == "remove":
                console.print(f"{registration.unregister(client, base)} removed")
            for cb in registration.registered(client):
                if registration.is_ours(cb, base):
                    console.print(f"{cb['id']} {cb.get('type')} {redact_text(str(cb.get('url')))}")
    except CwApiError as exc:
        console.print(f"[red]{redact_text(str(exc))}[/red]")
        raise typer.Exit(1) from None


if __name__ == "__main__":
    sys.exit(app())
