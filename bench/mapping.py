"""Routing and mapping throughput: 50 Xero organisations, 10,000 mapping rows,
one snapshot load from embedded PostgreSQL, then the pure functions over
synthetic ConnectWise invoices (route + translate, and the mapper's whole
decision including the write request it would send).

    python -m bench.mapping [records]    (default 20,000)
"""
from __future__ import annotations

import random
import socket
import sys
import tempfile
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from services.common.db import connect, migrate
from services.mapping.csv_io import export_csv, import_csv
from services.common.settings import Settings
from services.mapper.decide import decide
from services.mapping.repository import load_snapshot
from services.mapping.translate import XeroDocument, translate
from services.stack.parts import postgres_spec
from services.stack.supervisor import Supervisor

ORGS = 50
PRODUCT_CLASSES = 80  # account rows per organisation
TAX_CODES = 20
LOCATIONS = 60  # tracking rows per organisation
CONTACT_MAPPINGS = 40
# 50 x (80 + 20 + 60 + 40) = 10,000 mapping rows
XERO_CONTACTS = 200  # per organisation, in the catalog


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def populate(url: str) -> int:
    with connect(url) as conn, conn.cursor() as cur:
        orgs = [f"org{i:02d}" for i in range(ORGS)]
        cur.executemany("insert into organisations (id, name, tenant_id, status) values (%s, %s, %s, 'connected')",
                        [(o, f"Org {o}", f"tenant-{o}") for o in orgs])
        rules = [("location", "", str(i), orgs[i % ORGS], 300) for i in range(LOCATIONS)]
        rules += [("member", "", f"member{i}", orgs[(i * 7) % ORGS], 200) for i in range(ORGS)]
        rules += [("tag", "Xero Entity", f"Entity{i}", orgs[i], 100) for i in range(10)]
        rules.append(("default", "", "", orgs[0], 1000))
        cur.executemany("insert into routing_rules (kind, caption, value, organisation_id, priority) values (%s,%s,%s,%s,%s)", rules)
        rows = 0
        for o in orgs:
            cur.executemany("insert into xero_accounts (organisation_id, code, name, class) values (%s,%s,%s,%s)",
                            [(o, f"2{i:02d}", f"Sales {i}", "REVENUE") for i in range(PRODUCT_CLASSES)])
            cur.executemany("insert into xero_tax_rates (organisation_id, tax_type, name, rate, applies_to) values (%s,%s,%s,%s,%s)",
                            [(o, f"TAX{i}", f"Tax {i}", Decimal("10"), ["REVENUE"]) for i in range(TAX_CODES)] +
                            [(o, "EXEMPT", "Exempt", Decimal("0"), ["REVENUE"])])
            cur.executemany("insert into xero_tracking_options (organisation_id, category, option) values (%s,%s,%s)",
                            [(o, "Region", f"Region {i}") for i in range(LOCATIONS)])
            cur.executemany("insert into xero_contacts (organisation_id, contact_id, contact_number, name) values (%s,%s,%s,%s)",
                            [(o, f"{o}-c{i}", f"CO{i}", f"Company {i}") for i in range(XERO_CONTACTS)])
            cur.executemany("insert into account_mappings values (%s, 'sales', %s, %s)",
                            [(o, f"Class{i}", f"2{i:02d}") for i in range(PRODUCT_CLASSES)])
            cur.executemany("insert into tax_mappings values (%s, 'sales', %s, %s)",
                            [(o, f"TC{i}", f"TAX{i}") for i in range(TAX_CODES - 1)] + [(o, "exempt", "EXEMPT")])
            cur.executemany("insert into tracking_mappings values (%s, 'location', %s, 'Region', %s)",
                            [(o, str(i), f"Region {i}") for i in range(LOCATIONS)])
            cur.executemany("insert into contact_mappings values (%s, %s, %s)",
                            [(o, f"CO{i}", f"{o}-c{i}") for i in range(CONTACT_MAPPINGS)])
            rows += PRODUCT_CLASSES + TAX_CODES + LOCATIONS + CONTACT_MAPPINGS
        cur.execute("insert into config_changes (change_id, table_name, key, action) values (gen_random_uuid(), 'bench', 'all', 'load')")
        return rows


def records(n: int) -> list[dict]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        lines = []
        for j in range(rng.randint(1, 6)):
            qty, price = Decimal(rng.randint(1, 5)), Decimal(rng.randint(100, 99999)) / 100
            lines.append({"id": j, "description": f"Item {j}", "catalog_item": None, "product_class": f"Class{rng.randrange(PRODUCT_CLASSES)}",
                          "quantity": qty, "price": price, "cost": None, "taxable": rng.random() > 0.1})
        tax = sum((((l["quantity"] * l["price"]).quantize(Decimal("0.01")) * Decimal("0.1")).quantize(Decimal("0.01"))
                   for l in lines if l["taxable"]), Decimal(0))  # Decimal even with no taxable line
        subtotal = sum((l["quantity"] * l["price"] for l in lines), Decimal(0))
        company = rng.randrange(XERO_CONTACTS)
        tags = [{"caption": "Xero Entity", "value": f"Entity{rng.randrange(10)}"}] if rng.random() < 0.1 else []
        out.append({
            "record_type": "invoice", "cw_id": i, "trigger": "SCHEDULE", "change": "UPSERT", "observed_at": 0,
            "last_updated": 0, "content_hash": f"h{i}", "invoice_number": f"INV-{i}", "invoice_type": "Standard",
            "status": "Open", "company_id": company, "company_identifier": f"CO{company}", "company_name": f"Company {company}",
            "date": "2026-11-02T00:00:00Z", "due_date": "2026-12-02T00:00:00Z", "location_id": rng.randrange(LOCATIONS),
            "department_id": None, "member_identifier": f"member{rng.randrange(ORGS)}" if rng.random() < 0.3 else None,
            "account_manager_identifier": None, "currency": "AUD", "tax_code": f"TC{rng.randrange(TAX_CODES - 1)}",
            "subtotal": subtotal, "sales_tax": tax, "total": subtotal + tax, "balance": subtotal + tax,
            "custom_fields": tags, "lines": lines, "raw": "{}"})
    return out


def main(n: int = 20000) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="cz-bench-mapping-"))
    settings = Settings(data_dir=data_dir, postgres_port=free_port())
    supervisor = Supervisor(data_dir / "logs")
    try:
        supervisor.start(postgres_spec(settings))
        supervisor.wait_healthy(["postgres"], 60)
        url = f"postgresql://postgres@127.0.0.1:{settings.postgres_port}/postgres"
        migrate(url)
        rows = populate(url)
        with connect(url, autocommit=True) as conn:
            started = time.perf_counter()
            snapshot = load_snapshot(conn)
            load_seconds = time.perf_counter() - started
        batch = records(n)

        started = time.perf_counter()
        mapped = 0
        for record in batch:
            chosen = snapshot.router.route(record)
            if isinstance(translate(record, snapshot.orgs[chosen.organisation_id], "DRAFT"), XeroDocument):
                mapped += 1
        pure_seconds = time.perf_counter() - started

        now = datetime.now(timezone.utc)
        started = time.perf_counter()
        decisions = [decide(record, snapshot, now) for record in batch]
        decide_seconds = time.perf_counter() - started
        writes = sum(len(d.writes) for d in decisions)

        with connect(url, autocommit=True) as conn:
            started = time.perf_counter()
            text = export_csv(conn)
            export_seconds = time.perf_counter() - started
            started = time.perf_counter()
            parsed, _, _ = import_csv(conn, text, "bench", dry_run=True)
            dry_seconds = time.perf_counter() - started
            assert not parsed.errors, parsed.errors[:3]
            conn.execute("delete from account_mappings; delete from tax_mappings; delete from tracking_mappings;"
                         " delete from contact_mappings; delete from routing_rules")
            started = time.perf_counter()
            parsed, counts, _ = import_csv(conn, text, "bench", dry_run=False)
            apply_seconds = time.perf_counter() - started
        csv_rows = len(parsed.rows)

        print(f"organisations:                 {len(snapshot.orgs)}")
        print(f"mapping rows:                  {rows} (+ {len(snapshot.rules)} routing rules, {ORGS * XERO_CONTACTS} Xero contacts)")
        print(f"snapshot load from Postgres:   {load_seconds * 1000:.0f} ms")
        print(f"records:                       {n} ({mapped} mapped, {n - mapped} exceptions)")
        print(f"route + translate:             {n / pure_seconds:,.0f} records/s")
        print(f"whole decision (+ request):    {n / decide_seconds:,.0f} records/s ({writes} write requests)")
        print(f"CSV export:                    {csv_rows} rows in {export_seconds:.2f} s")
        print(f"CSV import dry run:            {csv_rows} rows in {dry_seconds:.2f} s")
        print(f"CSV import apply (all new):    {csv_rows} rows in {apply_seconds:.2f} s, one transaction, history for each")
    finally:
        supervisor.stop_all()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
