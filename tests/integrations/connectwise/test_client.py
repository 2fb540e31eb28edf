"""The ConnectWise client against the ConnectWise simulator over HTTP."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from services.integrations.connectwise.client import CwApiError, cond, in_
from services.common.exchanges import ExchangeRecorder


def test_pages_through_more_than_a_thousand_invoices(cw_sim_factory):
    sim = cw_sim_factory(5)
    expected = sorted(sim.state.c["invoices"].ids)
    assert len(expected) > 1000
    with sim.client() as client:
        pages = list(client.pages("finance/invoices"))
        assert client.count("finance/invoices") == len(expected)
    assert len(pages) == 2 and len(pages[0]) == 1000
    ids = [inv["id"] for page in pages for inv in page]
    assert ids == expected  # every record once, in id order


def test_money_arrives_as_decimal_and_conditions_filter(cw_sim):
    with cw_sim.client() as client:
        memos = list(client.all("finance/invoices", conditions=cond("type", "=", "CreditMemo")))
        assert memos and all(m["type"] == "CreditMemo" for m in memos)
        assert all(isinstance(m["total"], Decimal) and m["total"] < 0 for m in memos)
        ids = [m["id"] for m in memos[:3]]
        lines = client.products_for_invoices(ids)
        assert set(lines) == set(ids)
        for invoice_id, products in lines.items():
            assert products and all(p["invoice"]["id"] == invoice_id for p in products)
            memo = next(m for m in memos if m["id"] == invoice_id)
            assert sum(p["extPrice"] for p in products) == memo["subtotal"]


def test_429_waits_for_retry_after(cw_sim):
    first = min(cw_sim.state.c["invoices"].ids)
    cw_sim.faults.update(storm_429=2, retry_after_seconds=1)
    with cw_sim.client() as client:
        started = time.monotonic()
        invoice = client.invoice(first)
        elapsed = time.monotonic() - started
    assert invoice["id"] == first
    assert elapsed >= 2.0  # two 429s, each honoured for its full Retry-After
    assert cw_sim.faults.storm_429 == 0


def test_5xx_is_retried_and_a_persistent_one_raises_with_the_body(cw_sim):
    cw_sim.faults.update(error_rate=1.0)
    with cw_sim.client(attempts=3) as client:
        with pytest.raises(CwApiError) as caught:
            client.get("finance/invoices", params={"pageSize": 1})
    assert caught.value.status in (500, 502, 503), str(caught.value)
    assert "ServerError" in str(caught.value)
    cw_sim.faults.update(error_rate=0.5)
    with cw_sim.client(attempts=12) as client:
        for _ in range(10):  # half the answers fail; every call still succeeds
            assert client.get("finance/invoices", params={"pageSize": 1})


def test_dropped_connections_are_retried(cw_sim):
    cw_sim.faults.update(drop_connection_rate=0.3)
    with cw_sim.client(attempts=12) as client:
        for _ in range(5):
            assert client.get("finance/invoices", params={"pageSize": 1})


def test_bad_request_raises_at_once_naming_the_cw_error(cw_sim):
    calls = []
    recorder = ExchangeRecorder("connectwise", "test")
    recorder.publish = calls.append
    with cw_sim.client(recorder=recorder) as client:
        with pytest.raises(CwApiError) as caught:
            list(client.pages("finance/invoices", conditions="nosuchfield = 1"))
        assert caught.value.status == 400 and caught.value.code
        assert "nosuchfield" in str(caught.value)
        with pytest.raises(CwApiError) as missing:
            client.invoice(999_999_999, record_type="invoice")
        assert missing.value.status == 404
    assert len(calls) == 2  # a 4xx is not retried
    assert calls[1]["record_type"] == "invoice" and calls[1]["record_id"] == "999999999"
    assert "Basic" not in str(calls[1]["request_headers"].get("authorization", ""))[6:]


def test_wrong_credentials_are_refused(cw_sim):
    with cw_sim.client() as good:
        good.http.auth = __import__("httpx").BasicAuth("connectzero+nobody", "wrong")
        with pytest.raises(CwApiError) as caught:
            good.get("finance/invoices")
    assert caught.value.status in (401, 404)


def test_every_exchange_is_recorded_with_its_tags(cw_sim):
    published = []
    recorder = ExchangeRecorder("connectwise", "ingest")
    recorder.publish = published.append
    cw_sim.faults.update(storm_429=1, retry_after_seconds=0)
    with cw_sim.client(recorder=recorder) as client:
        wanted = sorted(cw_sim.state.c["invoices"].ids)[:3]
        ids = [inv["id"] for inv in client.all("finance/invoices", conditions=in_("id", wanted))]
    assert [e["status"] for e in published] == [429, 200]
    assert ids == wanted
    assert all(e["api"] == "connectwise" and e["method"] == "GET" for e in published)


def test_one_records_calls_carry_its_customer_for_the_audit_filter(cw_sim):
    published = []
    recorder = ExchangeRecorder("connectwise", "ingest")
    recorder.publish = published.append
    first = min(cw_sim.state.c["invoices"].ids)
    with cw_sim.client(recorder=recorder) as client:
        lines = client.products_for_invoices([first], record_type="invoice", customer="Acme Pty Ltd")
    assert lines[first]
    assert [(e["record_type"], e["record_id"], e["customer"]) for e in published] == \
        [("invoice", str(first), "Acme Pty Ltd")]


def test_a_post_is_not_repeated_after_a_5xx_but_is_after_a_429(cw_sim):
    first = next(i for i, inv in sorted(cw_sim.state.c["invoices"].by_id.items())
                 if inv["balance"] > 1 and inv["type"] != "CreditMemo")
    published = []
    recorder = ExchangeRecorder("connectwise", "test")
    recorder.publish = published.append
    cw_sim.faults.update(error_rate=1.0)
    with cw_sim.client(recorder=recorder) as client:
        with pytest.raises(CwApiError) as caught:
            client.request("POST", f"finance/invoices/{first}/payments",
                           json_body={"amount": 1, "paymentDate": "2026-11-20T00:00:00Z"})
        assert caught.value.status >= 500 and len(published) == 1  # once: it may have been applied
        cw_sim.faults.update(error_rate=0.0, storm_429=1, retry_after_seconds=0)
        published.clear()
        created = client.request("POST", f"finance/invoices/{first}/payments",
                                 json_body={"amount": "0.01", "paymentDate": "2026-11-20T00:00:00Z", "type": "Payment"})
    assert created.status_code == 201
    assert [e["status"] for e in published] == [429, 201]
    assert len(cw_sim.state.payments_of[first]) >= 1
