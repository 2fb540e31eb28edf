"""A ConnectWise record through the mapper's per-record step and the writer, in one process, against
real parts: the mapping and the ledger in real Postgres, the Xero simulator over HTTP, whose catalog
(lock dates and currencies included) is read the way the console's refresh reads it. Write requests
go through the codec, so the writer gets what the broker would carry."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from services.common.database import Database
from services.common.db import connect
from services.common.sandbox_identity import XERO_CLIENT_ID, XERO_CLIENT_SECRET
from services.common.secrets import SecretBox
from services.common.settings import Settings
from services.mapper.app import MappingSource, process
from services.mapping import repository as repo
from services.mapping.catalog import refresh_from_xero
from services.mapping.rows import AccountRow, ContactRow, RoutingRuleRow, TaxRow
from services.mapping.sync_settings import put_settings
from services.sandbox.xero.ratelimit import Limits as SimLimits
from services.writer.batching import WriteRequest
from services.writer.ledger import Ledger
from services.writer.writer import OrganisationWriter
from tests.integrations.xero.sim import ORG_IDS, add_organisations, make_client, running_simulator
from tests.mapping.records import invoice

ORG = "adelaide"


@dataclass
class Synced:
    """What one record became: the mapper's exceptions, and the writer's results and exceptions."""

    mapper_exceptions: list[dict]
    results: list[dict]
    exceptions: list[dict]


class Mapped:
    def __init__(self, sim, db, settings, source, writer, published, recorder, codec):
        self.sim, self.db, self.settings, self.source = sim, db, settings, source
        self.writer, self.published, self.recorder, self.codec = writer, published, recorder, codec

    def sync(self, record: dict) -> Synced:
        """The record, observed now, mapped and written (as ingest, the mapper and the writer would)."""
        record = {**record, "observed_at": datetime.now(UTC)}
        sent: list[tuple[str, dict]] = []

        async def send(topic, key, schema, event):
            sent.append((schema, event))
            done = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done

        asyncio.run(process(record, self.source, send))
        requests = [WriteRequest.from_record(self.codec.decode(self.codec.encode(schema, event))[1])
                    for schema, event in sent if schema == "xero_write_request"]
        already = len(self.published)
        if requests:
            self.writer.write(ORG, requests)
        published = self.published[already:]
        return Synced([e for schema, e in sent if schema == "sync_exception"],
                      [r for kind, r in published if kind == "result"],
                      [r for kind, r in published if kind == "exception"])

    def books(self, **values) -> None:
        """The organisation's lock dates or currencies, set in Xero as its accountant would."""
        resp = httpx.post(f"{self.sim.root}/_sandbox/xero/books", json={"organisation": ORG, **values})
        resp.raise_for_status()

    def refresh_catalog(self) -> None:
        refresh_from_xero(self.settings, self.db, ORG, ORG_IDS[ORG], "test")

    def sync_settings(self, **values) -> None:
        with Database(self.db, max_size=1).unit_of_work() as conn:
            put_settings(conn, ORG, values, "test")

    def writes(self) -> list[dict]:
        """Calls that write to Xero (PUT and POST to its API)."""
        return [r for r in self.recorder.records if r["method"] in ("PUT", "POST") and "/api.xro/" in r["url"]]

    def invoice(self, number: str) -> dict:
        [found] = [d for d in self.sim.org(ORG).invoices.values() if d.get("InvoiceNumber") == number]
        return found

    def status(self, cw_id: int) -> tuple[str, str | None]:
        with psycopg.connect(self.db) as conn:
            return conn.execute("select status, last_error from sync_records where record_type = 'invoice'"
                                " and cw_id = %s", (str(cw_id),)).fetchone()


def record(number: str, cw_id: int, prices: list[str], edit: str = "") -> dict:
    """A ConnectWise invoice of Acme's (routed to Adelaide, GST on each line) dated 2026-11-02; `edit`
    stands for a change in ConnectWise, giving it a content hash of its own."""
    lines = [{"id": n, "description": f"Managed services{edit}", "catalog_item": "MS-1", "product_class": "Service",
              "quantity": Decimal("1.0000"), "price": Decimal(price), "cost": None, "taxable": True}
             for n, price in enumerate(prices, 1)]
    found = invoice(number, cw_id, lines=lines)
    return {**found, "content_hash": f"h{cw_id}-{'-'.join(prices)}{edit}"}


@pytest.fixture
def mapped(fresh_database, codec, tmp_path):
    """Adelaide with its catalog read from the simulator, Acme's invoices routed there, mapped with
    account 200 and GST, and approved on creation (so Xero's lock dates apply to them)."""
    key = Fernet.generate_key().decode()
    box = SecretBox(key)
    with running_simulator(limits=SimLimits(per_minute=600)) as sim:
        add_organisations(fresh_database, box, sim)
        settings = Settings(postgres_url=fresh_database, secret_key=key, data_dir=tmp_path, xero_url=sim.api_url,
                            xero_token_url=sim.token_url, xero_client_id=XERO_CLIENT_ID,
                            xero_client_secret=XERO_CLIENT_SECRET)
        refresh_from_xero(settings, fresh_database, ORG, ORG_IDS[ORG], "test")
        contact = sorted(sim.org(ORG).contacts)[0]
        with connect(fresh_database, autocommit=True) as conn, conn.transaction():
            repo.create_rule(conn, RoutingRuleRow(kind="location", value="1", organisation_id=ORG), "test")
            repo.put_mapping(conn, repo.TABLES["accounts"],
                             AccountRow(organisation_id=ORG, side="sales", source="*", account_code="200"), "test")
            repo.put_mapping(conn, repo.TABLES["tax"],
                             TaxRow(organisation_id=ORG, side="sales", source="GST", tax_type="OUTPUT"), "test")
            repo.put_mapping(conn, repo.TABLES["contacts"],
                             ContactRow(organisation_id=ORG, company_identifier="ACME", contact_id=contact), "test")
            repo.put_settings(conn, "invoice", {"create_status": "AUTHORISED"}, "test")
        client, _, recorder = make_client(sim, fresh_database, box)
        ledger = Ledger(Database(fresh_database, max_size=2))
        published: list[tuple[str, dict]] = []
        writer = OrganisationWriter(client, ledger, lambda kind, r: published.append((kind, r)))
        source = MappingSource(Database(fresh_database, max_size=2))
        yield Mapped(sim, fresh_database, settings, source, writer, published, recorder, codec)
        source.db.close()
        ledger.close()
