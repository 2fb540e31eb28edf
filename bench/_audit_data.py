"""Audit entries shaped like the writer's Xero exchanges, for bench/audit.py: as Python rows
(what the consumer inserts) and, for the bulk of a large store, the same rows made by
ClickHouse itself from `numbers()` (Python would spend minutes building ten million)."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

from services.audit.entries import COLUMNS
from services.audit.store import TABLE

RECORD_TYPES = ("invoice", "credit_note", "procurement", "payment", "xero_payment")
ORGS = ("adelaide", "sydney", "holdings")
CUSTOMERS = [f"{name} {suffix}" for name in ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne",
                                               "Wonka", "Tyrell", "Cyberdyne", "Soylent", "Vandelay")
             for suffix in ("Pty Ltd", "Group", "Holdings", "Services", "Partners")]
STATUSES = ["200"] * 85 + ["201"] * 4 + ["429"] * 5 + ["500"] * 2 + ["503"] * 1 + ["FAILED"] * 1 + ["EXCEPTION"] * 2
END = datetime(2026, 11, 25, tzinfo=timezone.utc)
DAYS = 90
FIRST_NUMBER = 100_000  # entry i is about invoice INV-(FIRST_NUMBER + i), record id FIRST_NUMBER + i
URL = "https://api.xero.com/api.xro/2.0/Invoices?summarizeErrors=false"


def entry_id(i: int) -> str:
    return f"{i:012d}-bench"


def make_rows(n: int, start: int, rng: random.Random) -> list[dict]:
    rows = []
    for i in range(start, start + n):
        status = rng.choice(STATUSES)
        number = FIRST_NUMBER + i
        customer = rng.choice(CUSTOMERS)
        line = {"Description": "Managed services", "Quantity": "1.0000", "UnitAmount": f"{rng.randint(100, 9999)}.00",
                "AccountCode": "200", "TaxType": "OUTPUT"}
        body = json.dumps({"Invoices": [{"InvoiceNumber": f"INV-{number}", "Contact": {"Name": customer},
                                         "LineItems": [line, line]}]})
        row = {c: "" for c in COLUMNS}
        row.update(
            entry_id=entry_id(i), at=END - timedelta(seconds=rng.randint(0, DAYS * 86400)),
            kind="exchange" if status[0].isdigit() else "event", topic="api.exchanges.v1", api="xero",
            service="writer", organisation_id=rng.choice(ORGS), record_type=rng.choice(RECORD_TYPES),
            record_id=str(number), customer=customer, status=status, method="POST", url=URL,
            duration_ms=rng.uniform(20, 900), summary=f"POST /Invoices -> {status}",
            request_headers='{"Authorization": "***"}', request_body=body,
            response_headers='{"X-MinLimit-Remaining": "42"}', response_body='{"Status": "OK"}',
        )
        rows.append(row)
    return rows


def _array(values) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def fill_sql(start: int, n: int) -> str:
    """INSERT ... SELECT of entries start .. start + n, distributed as make_rows makes them."""
    line = ("concat('{\"Description\": \"Managed services\", \"Quantity\": \"1.0000\", \"UnitAmount\": \"', "
            "toString(100 + cityHash64(number, 6) % 9900), '.00\", \"AccountCode\": \"200\", \"TaxType\": \"OUTPUT\"}')")
    body = ("concat('{\"Invoices\": [{\"InvoiceNumber\": \"INV-', toString(" + str(FIRST_NUMBER) + " + number), "
            "'\", \"Contact\": {\"Name\": \"', customer, '\"}, \"LineItems\": [', " + line + ", ', ', " + line + ", ']}]}')")
    return f"""INSERT INTO {TABLE} ({', '.join(COLUMNS)})
SELECT leftPad(toString(number), 12, '0') || '-bench',
       toDateTime64('{END:%Y-%m-%d %H:%M:%S}', 3, 'UTC') - toIntervalSecond(cityHash64(number, 1) % {DAYS * 86400 + 1}),
       if(match(status, '^[0-9]'), 'exchange', 'event'), 'api.exchanges.v1', 'xero', 'writer',
       {_array(ORGS)}[1 + cityHash64(number, 2) % {len(ORGS)}], {_array(RECORD_TYPES)}[1 + cityHash64(number, 3) % {len(RECORD_TYPES)}],
       toString({FIRST_NUMBER} + number), customer, status, 'POST', '{URL}', 20 + cityHash64(number, 5) % 880,
       'POST /Invoices -> ' || status, '', '{{"Authorization": "***"}}', {body},
       '{{"X-MinLimit-Remaining": "42"}}', '{{"Status": "OK"}}', ''
FROM (SELECT number, {_array(CUSTOMERS)}[1 + cityHash64(number, 4) % {len(CUSTOMERS)}] AS customer,
             {_array(STATUSES)}[1 + cityHash64(number, 7) % {len(STATUSES)}] AS status
      FROM numbers({start}, {n}))"""
