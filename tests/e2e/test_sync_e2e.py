"""The whole product on the embedded stack against the sandbox: records created and
edited in ConnectWise arrive in the right Xero organisation, mapped to the cent."""
from __future__ import annotations

from decimal import Decimal

import pytest

from services.sandbox.seed import AUCKLAND

from ..stackutil import Stack, wait_for
from .sandbox_clients import XeroReader, adelaide_customer, connectwise, new_invoice, record

pytestmark = pytest.mark.stack


def test_new_invoice_force_synced_arrives_in_the_right_organisation_and_edit_updates_it(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    company = adelaide_customer(msp)
    invoice = new_invoice(cw, company.id, [(1, "3", "95.00"), (5, "7", "36.30")])
    number = invoice["invoiceNumber"]
    with Stack.admin_for(info) as admin:
        assert admin.post(f"/api/records/invoice/{invoice['id']}/force-sync").status_code == 202
        synced = wait_for(lambda: (r := record(admin, "invoice", invoice["id"])) and r["status"] == "synced" and r, 30,
                          what="force-synced invoice written")
        assert synced["organisation_id"] == "adelaide"
        found = xero.anywhere(number)
        assert [len(found[o]) for o in ("adelaide", "sydney", "holdings")] == [1, 0, 0]
        written = found["adelaide"][0]
        assert written["Type"] == "ACCREC" and written["Status"] == "AUTHORISED"  # the demo approves on creation
        assert written["InvoiceID"] == synced["xero_id"]
        assert written["Contact"]["Name"] == company.name
        lines = written["LineItems"]
        assert [(Decimal(str(l["Quantity"])), Decimal(str(l["UnitAmount"]))) for l in lines] == [
            (Decimal("3"), Decimal("95.00")), (Decimal("7"), Decimal("36.30"))]
        item1, item5 = msp.catalog[0], msp.catalog[4]
        assert [l["AccountCode"] for l in lines] == [item1.xero_account, item5.xero_account]
        assert {l["TaxType"] for l in lines} == {"OUTPUT"}
        assert [{t["Name"]: t["Option"] for t in l["Tracking"]} for l in lines] == [
            {"Region": "Adelaide", "Service Line": item1.service_line}, {"Region": "Adelaide", "Service Line": item5.service_line}]
        subtotal = Decimal("3") * Decimal("95.00") + Decimal("7") * Decimal("36.30")
        assert Decimal(str(written["SubTotal"])) == subtotal
        assert Decimal(str(written["Total"])) == subtotal + (subtotal * Decimal("0.10")).quantize(Decimal("0.01"))

        # An edit after sync is written through as an update of the same Xero invoice.
        product = cw.get("/procurement/products", params={"conditions": f"invoice/id={invoice['id']}"}).json()[0]
        assert cw.patch(f"/procurement/products/{product['id']}",
                        json=[{"op": "replace", "path": "quantity", "value": 4}]).status_code == 200
        assert admin.post("/api/sync/invoice/run").status_code == 202
        updated = wait_for(lambda: (i := xero.invoices("adelaide", number)) and Decimal(str(i[0]["SubTotal"])) != subtotal and i, 30,
                           what="edit written through")
        assert len(updated) == 1 and updated[0]["InvoiceID"] == written["InvoiceID"]
        assert Decimal(str(updated[0]["SubTotal"])) == Decimal("4") * Decimal("95.00") + Decimal("7") * Decimal("36.30")


def test_credit_memo_arrives_as_a_credit_note_with_its_tax_and_contact(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    company = adelaide_customer(msp)
    memo = new_invoice(cw, company.id, [(1, "2", "95.00")], kind="CreditMemo")
    with Stack.admin_for(info) as admin:
        assert admin.post(f"/api/records/credit_note/{memo['id']}/force-sync").status_code == 202
        wait_for(lambda: (r := record(admin, "credit_note", memo["id"])) and r["status"] == "synced", 30,
                 what="credit memo written")
    notes = xero.credit_notes("adelaide", memo["invoiceNumber"])
    assert len(notes) == 1
    note = notes[0]
    assert note["Type"] == "ACCRECCREDIT" and note["Contact"]["Name"] == company.name
    assert Decimal(str(note["SubTotal"])) == Decimal("190.00") and Decimal(str(note["TotalTax"])) == Decimal("19.00")
    assert note["LineItems"][0]["TaxType"] == "OUTPUT"


def test_missing_contact_raises_an_exception_and_writes_nothing(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    # A customer with no Xero contact in Adelaide, invoiced from the Adelaide office in its dollars (the last
    # such customer: the browser tests map the first one for a while; the Auckland office's bill in NZD).
    with_contact = {c.company_id for c in msp.xero_contacts if c.organisation == "adelaide"}
    company = [c for c in msp.companies if not c.is_vendor and not c.xero_entity and c.id not in with_contact
               and c.location_id != AUCKLAND.id][-1]
    invoice = new_invoice(cw, company.id, [(1, "2", "80.00")])
    with Stack.admin_for(info) as admin:
        assert admin.post(f"/api/records/invoice/{invoice['id']}/force-sync").status_code == 202

        def raised():
            exceptions = admin.get("/api/exceptions", params={"record_type": "invoice"}).json()["exceptions"]
            return next((e for e in exceptions if e["record_id"] == str(invoice["id"])), None)
        exc = wait_for(raised, 30, what="the missing contact raised")
        assert exc["kind"] == "missing_contact"
        rec = record(admin, "invoice", invoice["id"])
        assert rec["status"] == "exception" and not rec["xero_id"]
        assert exc["audit_entry_id"] and f"/api/records/invoice/{invoice['id']}/force-sync" in str(exc)
    assert not any(xero.anywhere(invoice["invoiceNumber"]).values())


def test_a_routing_rule_changed_mid_run_routes_the_next_record(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    company = adelaide_customer(msp)
    holdings_contact = any(c.company_id == company.id and c.organisation == "holdings" for c in msp.xero_contacts)
    with Stack.admin_for(info) as admin:
        rules = admin.get("/api/routing-rules").json()
        rules = rules.get("items", rules) if isinstance(rules, dict) else rules
        adelaide_rule = next(r for r in rules if r["kind"] == "location" and r["value"] == "1")
        changed = {k: adelaide_rule[k] for k in ("kind", "caption", "value", "priority") if k in adelaide_rule}
        changed["organisation_id"] = "sydney"
        resp = admin.put(f"/api/routing-rules/{adelaide_rule['id']}", json=changed)
        assert resp.status_code == 200, resp.text
        try:
            invoice = new_invoice(cw, company.id, [(1, "1", "95.00")])
            admin.post(f"/api/records/invoice/{invoice['id']}/force-sync")
            rec = wait_for(lambda: (r := record(admin, "invoice", invoice["id"])) and r["status"] in ("synced", "exception") and r,
                           30, what="record after rule change")
            assert rec["organisation_id"] == "sydney"
            found = xero.anywhere(invoice["invoiceNumber"])
            assert not found["adelaide"]
            if rec["status"] == "synced":
                assert len(found["sydney"]) == 1
        finally:
            changed["organisation_id"] = "adelaide"
            admin.put(f"/api/routing-rules/{adelaide_rule['id']}", json=changed)
        del holdings_contact
