"""The demo's New Zealand office on the whole stack: the Auckland office's invoices, billed in NZD
in ConnectWise with the rate the MSP recorded, reach the New Zealand Xero organisation with
their currency and that rate, New Zealand's GST, and ConnectWise's total to the cent."""
from __future__ import annotations

from decimal import Decimal

import pytest

from ..stackutil import Stack, wait_for
from .sandbox_clients import XeroReader, connectwise, record

pytestmark = pytest.mark.stack


def test_the_auckland_offices_invoices_reach_the_new_zealand_organisation_in_nzd_at_their_rate(stack, msp):
    _, info = stack
    cw, xero = connectwise(info), XeroReader(info)
    auckland = [i for i in msp.invoices if i.location_id == 5]
    assert auckland and all(i.currency == "NZD" for i in auckland)
    with Stack.admin_for(info) as admin:
        for invoice in auckland:
            synced = wait_for(lambda cw_id=invoice.id: (r := record(admin, "invoice", cw_id))
                              and r["status"] in ("synced", "exception") and r, 90, what=f"{invoice.invoice_number} settled")
            assert synced["status"] == "synced", synced  # an exception names why (last_error)
            assert synced["organisation_id"] == "auckland"
            in_cw = cw.get(f"/finance/invoices/{invoice.id}").json()
            [written] = xero.invoices("auckland", invoice.invoice_number)
            assert written["InvoiceID"] == synced["xero_id"]
            assert written["CurrencyCode"] == "NZD"
            assert Decimal(str(written["CurrencyRate"])) == invoice.exchange_rate
            assert Decimal(str(written["Total"])) == Decimal(str(in_cw["total"]))
            assert {line["TaxType"] for line in written["LineItems"]} == {"OUTPUT2"}
            assert {t["Option"] for line in written["LineItems"] for t in line["Tracking"]
                    if t["Name"] == "Region"} == {"Auckland"}
        # Nothing of Auckland's went to the Australian organisations.
        number = auckland[0].invoice_number
        assert all(xero.invoices(short, number) == [] for short in ("adelaide", "sydney", "holdings"))
        settings = admin.get("/api/organisations/auckland/sync-settings")
        assert settings.status_code == 200 and settings.json()["mode"] == "live"
