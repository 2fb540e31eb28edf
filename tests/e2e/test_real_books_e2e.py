"""Real books on the whole stack: a Xero organisation holding 500 invoices from the tool the
MSP is leaving, the same 500 in ConnectWise (450 alike, 50 that differ in total or contact).
A shadow run first: nothing is written and the shadow report lists exactly what would
happen (450 adopt, 50 adoption_mismatch). Then live, through the organisation's sync
settings: the first cycle adopts the 450, duplicates none, and raises the 50 as exceptions
showing both sides."""
from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import psycopg
import pytest

from services.common.database import Database
from services.mapping.sync_settings import decide_again, put_settings

from ..stackutil import Stack, wait_for
from .sandbox_clients import connectwise

# The whole stack (slow), so e2e; it spends Adelaide's minute of Xero calls (60, as in Xero), so it runs after
# the tests that time Adelaide's writes in seconds.
pytestmark = [pytest.mark.stack, pytest.mark.spends_xero_minute]
ORG = "adelaide"
COUNT, DIFFERING = 500, 50


def adelaide_customers(msp) -> tuple:
    """Two untagged Adelaide customers with a Xero contact in Adelaide: (company, its contact's name) each."""
    contacts = {c.company_id: c.name for c in msp.xero_contacts if c.organisation == ORG}
    found = [(c, contacts[c.id]) for c in msp.companies if not c.is_vendor and c.location_id == 1
             and not c.xero_entity and c.id in contacts]
    return found[0], found[1]


def settings(info: dict, **values) -> tuple[dict, dict]:
    with Database(info["postgres"]["url"], max_size=1).unit_of_work() as conn:
        return put_settings(conn, ORG, values, "e2e")


def rows(info: dict, sql: str, *args) -> list[tuple]:
    with psycopg.connect(info["postgres"]["url"]) as conn:
        return conn.execute(sql, args).fetchall()


def counted(info: dict, cw_ids: list[str], *statuses: str) -> int:
    return rows(info, "select count(*) from sync_records where record_type = 'invoice' and cw_id = any(%s)"
                      " and status = any(%s)", cw_ids, list(statuses))[0][0]


def xero_calls(info: dict) -> int:
    """Calls Connect Zero has made to the organisation's Xero API so far."""
    return rows(info, "select coalesce(sum(calls), 0) from api_usage where organisation_id = %s", ORG)[0][0]


def xero_invoices(xero_root: str) -> int:
    state = httpx.get(f"{xero_root}/_sandbox/state", timeout=10).json()
    return next(o["invoices"] for o in state["organisations"] if ORG in o["name"].lower())


class Callbacks:
    """ConnectWise's callbacks for this installation, set aside while the previous tool's month is
    keyed in (so the first cycle brings it, as on the day an MSP installs), then registered again."""

    def __init__(self, cw: httpx.Client):
        self.cw, self.kept = cw, []

    def __enter__(self):
        self.kept = self.cw.get("/system/callbacks", params={"pageSize": 1000}).json()
        for callback in self.kept:
            assert self.cw.delete(f"/system/callbacks/{callback['id']}").status_code == 204
        return self

    def __exit__(self, *exc):
        for callback in self.kept:
            body = {k: callback[k] for k in ("url", "objectId", "type", "level", "description", "inactiveFlag")
                    if k in callback}
            assert self.cw.post("/system/callbacks", json=body).status_code == 201


def connectwise_invoice(cw: httpx.Client, company_id: int, number: str, price: str) -> dict:
    made = cw.post("/finance/invoices", json={"type": "Standard", "company": {"id": company_id}, "location": {"id": 1},
                                              "taxCode": {"id": 1}, "invoiceNumber": number})
    assert made.status_code == 201, made.text
    line = cw.post("/procurement/products", json={"invoice": {"id": made.json()["id"]}, "catalogItem": {"id": 1},
                                                  "quantity": "1", "price": price})
    assert line.status_code == 201, line.text
    return cw.get(f"/finance/invoices/{made.json()['id']}").json()


def previous_tools_invoice(cw_invoice: dict, contact_name: str, account: str, extra: Decimal = Decimal(0)) -> dict:
    """What the previous tool wrote for it: the same number, contact and total (tax as ConnectWise had it)."""
    subtotal, tax = Decimal(str(cw_invoice["subtotal"])), Decimal(str(cw_invoice["salesTax"]))
    return {"Type": "ACCREC", "InvoiceNumber": cw_invoice["invoiceNumber"], "Contact": {"Name": contact_name},
            "Date": cw_invoice["date"][:10], "DueDate": cw_invoice["dueDate"][:10], "Status": "AUTHORISED",
            "LineAmountTypes": "Exclusive", "Reference": "imported by the previous tool",
            "LineItems": [{"Description": "Managed services", "Quantity": "1", "UnitAmount": str(subtotal + extra),
                           "AccountCode": account, "TaxType": "OUTPUT", "TaxAmount": str(tax)}]}


def test_500_invoices_from_a_previous_tool_shadowed_then_adopted_with_none_duplicated(stack, msp):
    _, info = stack
    cw = connectwise(info)
    xero_root = info["xero"]["token_url"].rsplit("/connect/token", 1)[0]
    (company, contact), (_, other_contact) = adelaide_customers(msp)
    account = msp.catalog[0].xero_account
    run = f"RB{int(time.time()) % 100000:05d}"

    # ConnectWise's side, and the previous tool's in Xero: 25 differ in total, 25 in contact.
    with Callbacks(cw):
        made = [connectwise_invoice(cw, company.id, f"{run}-{n:03d}", f"{100 + n}.{n % 100:02d}") for n in range(COUNT)]
    history = [previous_tools_invoice(inv, contact, account) for inv in made[DIFFERING:]]
    history += [previous_tools_invoice(inv, contact, account, Decimal("5.00")) for inv in made[:DIFFERING // 2]]
    history += [previous_tools_invoice(inv, other_contact, account) for inv in made[DIFFERING // 2:DIFFERING]]
    loaded = httpx.post(f"{xero_root}/_sandbox/xero/history", json={"organisation": ORG, "invoices": history},
                        timeout=60)
    assert loaded.status_code == 200 and loaded.json()["saved"] == COUNT, loaded.text[:2000]
    held = {e["InvoiceNumber"]: e["InvoiceID"] for e in loaded.json()["Invoices"]}
    cw_ids = [str(inv["id"]) for inv in made]
    differing = set(cw_ids[:DIFFERING])
    in_xero = xero_invoices(xero_root)

    with Stack.admin_for(info) as admin:
        try:
            # The parallel run: shadow first.
            settings(info, mode="shadow")
            calls = xero_calls(info)
            assert admin.post("/api/sync/invoice/run").status_code == 202
            wait_for(lambda: counted(info, cw_ids, "shadow") == COUNT, 240, interval=1,
                     what="500 invoices decided in the shadow run")
            shadow_calls, calls = xero_calls(info) - calls, xero_calls(info)
            report = {r[0]: r[1:] for r in rows(info, "select cw_id, outcome, detail, xero_id, message from"
                                                      " shadow_outcomes where organisation_id = %s", ORG)}
            assert set(report) == set(cw_ids)  # the report lists exactly these records
            assert Counter(o[0] for o in report.values()) == {"adopt": COUNT - DIFFERING, "exception": DIFFERING}
            assert {k for k, o in report.items() if o[0] == "exception"} == differing
            assert {o[1] for k, o in report.items() if k in differing} == {"adoption_mismatch"}
            by_id = {str(inv["id"]): inv["invoiceNumber"] for inv in made}
            assert all(o[2] == held[by_id[k]] for k, o in report.items())  # the document it would adopt
            assert xero_invoices(xero_root) == in_xero  # the shadow run wrote nothing
            assert not rows(info, "select 1 from xero_ledger where organisation_id = %s and cw_id = any(%s)"
                                  " and record_type = 'invoice'", ORG, cw_ids)

            # Live, through the sync settings: the shadowed records are decided again and written.
            with Database(info["postgres"]["url"], max_size=1).unit_of_work() as conn:
                before, after = put_settings(conn, ORG, {"mode": "live"}, "e2e")
                windows = decide_again(conn, ORG, before, after)
            assert [w.record_type for w in windows] == ["invoice"] and windows[0].records >= COUNT
            for w in windows:
                assert admin.post("/api/replay", json={"record_type": w.record_type, "from": w.start.isoformat(),
                                                       "to": w.end.isoformat()}).status_code == 202
            wait_for(lambda: counted(info, cw_ids, "synced", "exception") == COUNT, 240, interval=1,
                     what="500 invoices settled live")
            live_calls = xero_calls(info) - calls
        finally:
            if settings(info)[1]["mode"] != "live":
                settings(info, mode="live")

    statuses = dict(rows(info, "select cw_id, status from sync_records where record_type = 'invoice'"
                               " and cw_id = any(%s)", cw_ids))
    assert {k for k, s in statuses.items() if s == "exception"} == differing
    ledger = {r[0]: r[1:] for r in rows(info, "select cw_id, last_outcome, xero_id from xero_ledger where"
                                              " organisation_id = %s and record_type = 'invoice' and cw_id = any(%s)",
                                        ORG, cw_ids)}
    adopted = {k for k, (outcome, _) in ledger.items() if outcome == "ADOPTED"}
    assert adopted == set(cw_ids) - differing
    assert all(ledger[k][1] == held[by_id[k]] for k in adopted)
    assert xero_invoices(xero_root) == in_xero  # 0 duplicated: not one invoice was created
    # Adoption reads the numbers of each batch together (up to 25 a call), not a call per record. A batch
    # holds what has reached the writer (up to 50), so a run costs between 20 reads and one per batch;
    # the other services' calls to the organisation (payment polls) are counted here too.
    assert shadow_calls < COUNT // 4 and live_calls < COUNT // 4, (shadow_calls, live_calls)

    exceptions = {r[0]: r[1:] for r in rows(info, "select record_id, message, details from exceptions where kind ="
                                                  " 'adoption_mismatch' and status = 'open' and record_id = any(%s)",
                                            cw_ids)}
    assert set(exceptions) == differing
    totals = [d for _, d in exceptions.values() if d["differences"] == "total"]
    contacts = [d for _, d in exceptions.values() if d["differences"] == "contact"]
    assert len(totals) == len(contacts) == DIFFERING // 2
    assert all(Decimal(d["xero_total"]) - Decimal(d["connectwise_total"]) == Decimal("5.00") for d in totals)
    assert {d["xero_contact_name"] for d in contacts} == {other_contact}
    assert all(d["xero_id"] == held[d["number"]] for d in totals + contacts)  # both sides, and which document
    print(f"real books: {len(adopted)} adopted, {len(exceptions)} adoption_mismatch; Xero calls: {shadow_calls} in"
          f" the shadow run, {live_calls} live, at {datetime.now(UTC):%H:%M:%S}")
