"""Every form of the console holds its role, through the whole admin app on real Postgres, the real
broker (where the console's commands go), the audit service (which keeps the audit log's retention)
and the Xero simulator (organisations connected to it, a catalog read from it): each role below the
one a form needs is refused (403 naming the role) and nothing changes, in Postgres, on the broker or
in the audit service; the role it needs without the CSRF token is refused too; with it, the role is
let in and the same request changes what it should, so the check above would have seen a change. A
form missing from the table fails the first test: every new form says who may send it."""
from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field

import httpx
import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from cryptography.fernet import Fernet
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from services.admin.app import create_app
from services.admin.console.session import COOKIE
from services.admin.console.xero_oauth import GRANT_COOKIE, seal
from services.audit.app import create_app as create_audit_app
from services.audit.store import ChdbStore
from services.common.codec import Codec, FramingError
from services.common.db import connect
from services.common.http_app import ROLES
from services.common.sandbox_identity import ORGANISATIONS, XERO_CLIENT_ID, XERO_CLIENT_SECRET
from services.common.secrets import SecretBox
from services.common.settings import Settings
from services.common.topics import SYNC_COMMANDS
from services.mapping import repository as repo
from services.mapping.catalog import refresh_from_xero
from services.mapping.rows import AccountRow, RoutingRuleRow
from services.sandbox.xero.ratelimit import Limits as SimLimits
from services.sandbox.xero.serve import serving
from tests.integrations.xero.sim import add_organisations, running_simulator
from tests.stackutil import QUICK_JOIN

from .config_fixtures import add_user

pytestmark = pytest.mark.integration

TOKEN = "console-roles-token"
ADELAIDE = next(o for o in ORGANISATIONS if o.short == "adelaide")
AUCKLAND = next(o for o in ORGANISATIONS if o.short == "auckland")  # not connected until a form connects it
IMPORT = "table,organisation_id,side,source,account_code\naccounts,adelaide,sales,HW,210\n"


@dataclass(frozen=True)
class Form:
    """The role a form needs, and a request to it that, let in, changes something: it names a record,
    rule, mapping or exception the test has made."""

    role: str
    url: str
    data: dict = field(default_factory=dict)
    changes: bool = True  # False: let in, it changes nothing the test can see (a cookie, a session ended)
    grant: bool = False  # sent with what Xero's consent screen leaves for the sender's own session


# The least role each form of the console needs. A form missing here fails the test below.
FORMS = {
    "POST /signout": Form("viewer", "/signout", changes=False),  # ends the session, kept out of the comparison
    "POST /overview/cycles/{record_type}/run": Form("operator", "/overview/cycles/invoice/run"),
    "POST /records/{record_type}/{record_id}/force-sync": Form("operator", "/records/invoice/1001/force-sync"),
    "POST /exceptions/{exception_id}/resolve": Form("operator", "/exceptions/1/resolve"),
    "POST /exceptions/{exception_id}/reopen": Form("operator", "/exceptions/2/reopen"),
    "POST /organisations/{org_id}/refresh-catalog": Form("operator", "/organisations/adelaide/refresh-catalog"),
    "POST /organisations/{org_id}/disconnect": Form("admin", "/organisations/adelaide/disconnect"),
    "POST /organisations/{org_id}/books/settings": Form(
        "admin", "/organisations/adelaide/books/settings", {"mode": "shadow", "lock_date_treatment": "exception"}),
    "POST /xero/connect": Form("admin", "/xero/connect", changes=False),
    "POST /xero/connections": Form("admin", "/xero/connections",
                                   {"tenant": AUCKLAND.tenant_id, f"id_{AUCKLAND.tenant_id}": "auckland"}, grant=True),
    "POST /mappings/{table}": Form("admin", "/mappings/accounts", {
        "organisation_id": "adelaide", "side": "sales", "source": "MS-1", "account_code": "210"}),
    "POST /mappings/{table}/delete": Form("admin", "/mappings/accounts/delete", {
        "organisation_id": "adelaide", "side": "sales", "source": "*"}),
    "POST /mappings-import": Form("admin", "/mappings-import", {"csv_text": IMPORT, "action": "apply"}),
    "POST /routing/rules": Form("admin", "/routing/rules", {"kind": "default", "organisation_id": "adelaide"}),
    "POST /routing/rules/{rule_id}/delete": Form("admin", "/routing/rules/1/delete"),
    "POST /settings/record-types/{record_type}": Form("admin", "/settings/record-types/invoice",
                                                      {"cadence_minutes": "120"}),
    "POST /settings/alerts": Form("admin", "/settings/alerts",
                                  {"digest_hour_utc": "5", "recipients": "books@harbour.example"}),
    "POST /settings/audit-retention": Form("admin", "/settings/audit-retention", {"retention_days": "90"}),
    "POST /settings/payment-accounts/{org_id}": Form("admin", "/settings/payment-accounts/adelaide",
                                                     {"payment_account_code": "090"}),
}
DOOR = {"POST /signin"}  # anyone may try to sign in


def console_forms(routes, prefix: str = ""):
    """"METHOD /path" of every route of the console that is not a read (the API's are tested apart)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI may keep an included router whole
            yield from console_forms(included.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute) and not (prefix + route.path).startswith("/api/"):
            yield from (f"{method} {prefix + route.path}" for method in sorted(route.methods - {"GET", "HEAD"}))


@pytest.fixture(scope="module")
def sim():
    # Shared by the module's tests: every one reads Adelaide's catalog, more than Xero's minute allows.
    with running_simulator(limits=SimLimits(per_minute=100_000, per_day=100_000, app_per_minute=100_000)) as running:
        yield running


@pytest.fixture(scope="module")
def audit_url(tmp_path_factory):
    """The audit service (over chdb), which keeps the audit log's retention the console sets."""
    data_dir = tmp_path_factory.mktemp("audit")
    store = ChdbStore(data_dir / "chdb")
    store.open(180)
    with serving(create_audit_app(Settings(data_dir=data_dir, admin_token=TOKEN), store)) as url:
        yield url
    store.close()


@dataclass
class Console:
    client: TestClient
    db: str
    box: SecretBox
    names: dict[str, str]  # role -> this test's user of that role
    cookies: dict[str, str]  # role -> its session cookie
    grant_token: str  # a refresh token Xero gave for the organisation not yet connected
    bootstrap: str
    codec: Codec
    audit_url: str

    def post(self, role: str, form: Form, csrf: bool = True):
        # Only this role's own cookies: one an earlier answer set (Xero's flow) must not speak for it.
        self.client.cookies.clear()
        cookies = {COOKIE: self.cookies[role]}
        if form.grant:  # as the callback from Xero's consent screen leaves it, for this session
            session_id = self.cookies[role].partition(".")[0]
            cookies[GRANT_COOKIE] = seal(self.box, session_id, refresh_token=self.grant_token, scope="accounting",
                                         tenants={AUCKLAND.tenant_id: AUCKLAND.name})
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        data = dict(form.data)
        if csrf:
            page = self.client.get("/", headers=headers).text
            data["csrf_token"] = page.split('name="csrf_token" value="')[1].split('"')[0]
        return self.client.post(form.url, data=data, headers=headers, follow_redirects=False)

    def state(self) -> dict[str, str]:
        """A digest of every table but the console's sessions (signing in makes them), leaving out when a
        configuration change was published (the app publishes the setup's in the background); the
        commands this test's users sent; and the audit log's retention."""
        row = "(to_jsonb(t) - 'published_at')::text"
        with psycopg.connect(self.db) as conn:
            tables = [r[0] for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'public'"
                " and table_type = 'BASE TABLE' and table_name <> 'console_sessions'")]
            found = {t: conn.execute(f"select md5(coalesce(string_agg({row}, '|' order by {row}), ''))"
                                     f' from "{t}" t').fetchone()[0] for t in tables}
        retention = httpx.get(f"{self.audit_url}/settings/retention", headers={"Authorization": f"Bearer {TOKEN}"})
        return {**found, "commands": self.commands(), "audit retention": retention.json()["retention_days"]}

    def commands(self) -> list[dict]:
        """The sync commands on the broker that this test's users asked for."""
        consumer = Consumer({**QUICK_JOIN, "bootstrap.servers": self.bootstrap, "group.id": f"roles-{uuid.uuid4()}",
                             "enable.auto.commit": False})
        try:
            meta = consumer.list_topics(SYNC_COMMANDS.name, timeout=10).topics[SYNC_COMMANDS.name]
            parts = [TopicPartition(SYNC_COMMANDS.name, p, OFFSET_BEGINNING) for p in meta.partitions]
            ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
            done = {p for p, end in ends.items() if end == 0}
            consumer.assign(parts)
            found, deadline = [], time.monotonic() + 30
            while len(done) < len(parts) and time.monotonic() < deadline:
                for msg in consumer.consume(500, 0.5):
                    if msg.error():
                        continue
                    if msg.offset() + 1 >= ends[msg.partition()]:
                        done.add(msg.partition())
                    try:
                        _, command = self.codec.decode(msg.value())
                    except FramingError:  # another test's poison on the shared broker
                        continue
                    if command.get("requested_by") in self.names.values():
                        found.append(command)
            return found
        finally:
            consumer.close()


@pytest.fixture
def console(sim, audit_url, kafka_bootstrap, fresh_database, codec, tmp_path):
    """The admin app with three connected organisations (Adelaide's catalog read from Xero), a routing
    rule, a mapping, an open and a resolved exception, and one signed-in user of each role."""
    key = Fernet.generate_key().decode()
    box = SecretBox(key)
    add_organisations(fresh_database, box, sim)
    settings = Settings(admin_token=TOKEN, postgres_url=fresh_database, data_dir=tmp_path, secret_key=key,
                        kafka_bootstrap=kafka_bootstrap, xero_url=sim.api_url, xero_token_url=sim.token_url,
                        xero_client_id=XERO_CLIENT_ID, xero_client_secret=XERO_CLIENT_SECRET, audit_url=audit_url)
    refresh_from_xero(settings, fresh_database, "adelaide", ADELAIDE.tenant_id, "test")
    with connect(fresh_database, autocommit=True) as conn, conn.transaction():
        rule = repo.create_rule(conn, RoutingRuleRow(kind="location", value="1", organisation_id="adelaide"), "test")
        assert rule["id"] == 1
        repo.put_mapping(conn, repo.TABLES["accounts"],
                         AccountRow(organisation_id="adelaide", side="sales", source="*", account_code="200"), "test")
        for record_id, status in (("7", "open"), ("8", "resolved")):
            conn.execute("insert into exceptions (kind, record_type, record_id, organisation_id, message, source_topic,"
                         " status, first_seen, last_seen) values ('missing_contact', 'invoice', %s, 'adelaide',"
                         " 'no contact', 'sync.exceptions.v1', %s, now(), now())", (record_id, status))
    run = secrets.token_hex(4)  # names of this test's own, on the shared broker
    names = {role: f"{role}-{run}" for role in ROLES}
    with TestClient(create_app(settings), base_url="http://console.test") as client:
        cookies = {}
        for role, name in names.items():
            token = f"czu_{name}-console-roles"
            add_user(fresh_database, name, role, token)  # a token: no password hashing to wait for
            client.cookies.clear()
            signed = client.post("/signin", data={"token": token}, follow_redirects=False)
            assert signed.status_code == 303, signed.text
            cookies[role] = client.cookies[COOKIE]
        yield Console(client, fresh_database, box, names, cookies, sim.sign_in(AUCKLAND.short)["refresh_token"],
                      kafka_bootstrap, codec, audit_url)


def test_every_form_of_the_console_declares_its_role(console):
    forms = set(console_forms(console.client.app.routes)) - DOOR
    assert sorted(forms - set(FORMS)) == [], "these forms say no role in FORMS"
    assert sorted(set(FORMS) - forms) == [], "FORMS names forms the console no longer has"


@pytest.mark.parametrize("form", FORMS)
def test_a_role_below_is_refused_and_changes_nothing_and_the_role_itself_is_let_in(console, form):
    needed = FORMS[form]
    before = console.state()
    for role in ROLES[:ROLES.index(needed.role)]:
        refused = console.post(role, needed)
        assert refused.status_code == 403, (role, refused.status_code, refused.text[:300])
        assert f"this needs the {needed.role} role; you are signed in as {role}" in refused.text
    no_token = console.post(needed.role, needed, csrf=False)
    assert no_token.status_code == 403 and "csrf_token: missing or stale" in no_token.text
    assert console.state() == before  # nothing changed, nothing sent

    let_in = console.post(needed.role, needed)
    assert let_in.status_code not in (401, 403), (let_in.status_code, let_in.text[:300])
    after = console.state()
    assert (after != before) == needed.changes, ([k for k in after if after[k] != before[k]], let_in.text[:300])
