"""The check after each payment cycle, against real Postgres and the ConnectWise
simulator: a difference is measured at once, raised once it outlives a full cycle
(never twice), and resolved when it is gone."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest
from prometheus_client import REGISTRY

from services.common.database import Database
from services.common.db import connect
from services.common.kafka import make_producer
from services.common.topics import SYNC_EXCEPTIONS
from services.common.open_balances import InvoiceBalance, balance_rows, by_customer
from services.matcher.balance_check import BalanceCheck

from .test_service import read_topic

T1 = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)


def test_the_likely_cause_is_the_most_specific_one():
    row = InvoiceBalance("o", "Acme", 1, "INV-1", "x1", Decimal("100.00"), Decimal("60.00"), Decimal("100.00"),
                         Decimal("100.00"))
    assert row.difference == Decimal("40.00") and row.cause.startswith("unexplained")
    assert InvoiceBalance(**{**row.__dict__, "cw_money_pending": 1}).cause == "ConnectWise payment not yet written to Xero"
    assert InvoiceBalance(**{**row.__dict__, "record_status": "mapped"}).cause == "edit not yet written"
    assert InvoiceBalance(**{**row.__dict__, "payments_pending": 1}).cause == "payment not yet matched"
    assert InvoiceBalance(**{**row.__dict__, "payments_unmatched": 1, "payments_pending": 1}).cause == "unmatched payment"
    assert InvoiceBalance(**{**row.__dict__, "xero_amount_due": Decimal("100.00")}).cause is None
    totals = by_customer([row, InvoiceBalance(**{**row.__dict__, "cw_invoice_id": 2, "xero_amount_due": Decimal("100")})])
    assert [(t.invoices, t.difference, len(t.differences)) for t in totals] == [(2, Decimal("40.00"), 1)]
    assert by_customer([InvoiceBalance(**{**row.__dict__, "xero_amount_due": Decimal("100")})], only_differences=True) == []


@pytest.fixture
def books(cw_sim, fresh_database):
    """Two invoices synced to organisation `org`: INV-10001 agreeing, INV-10002 differing by 50.00
    with a Xero payment on it not yet matched."""
    org = f"org-{uuid.uuid4().hex[:6]}"
    invoices = cw_sim.state.c["invoices"]
    due = {1001: invoices.get(1001)["balance"], 1002: invoices.get(1002)["balance"] - Decimal("50.00")}
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        for cw_id, xero_id in ((1001, "x1"), (1002, "x2")):
            inv = invoices.get(cw_id)
            conn.execute("insert into sync_records (record_type, cw_id, record_number, customer, status, organisation_id,"
                         " xero_id, total) values ('invoice', %s, %s, %s, 'synced', %s, %s, %s)",
                         (str(cw_id), inv["invoiceNumber"], inv["company"]["name"], org, xero_id, inv["total"]))
            conn.execute("insert into xero_invoice_balances (organisation_id, xero_invoice_id, invoice_number, status,"
                         " total, amount_due, updated_at_xero) values (%s, %s, %s, 'AUTHORISED', %s, %s, %s)",
                         (org, xero_id, inv["invoiceNumber"], inv["total"], due[cw_id], T1))
        conn.execute("insert into sync_records (record_type, cw_id, status, organisation_id, snapshot) values"
                     " ('xero_payment', 'pay-1', 'pending', %s, '{\"invoice_id\": \"x2\"}')", (org,))
    return org


def cycle_finished(db: str, org: str, at: datetime) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("insert into sync_cursors (source, cursor_at, last_cycle_finished, last_cycle_status) values"
                     " (%s, %s, %s, 'ok') on conflict (source) do update set last_cycle_finished = excluded.last_cycle_finished",
                     (f"xero:payments:{org}", at, at))


def test_a_difference_is_raised_once_it_outlives_a_cycle_and_resolved_when_gone(cw_sim, fresh_database, books,
                                                                                kafka_bootstrap, codec):
    org, client = books, cw_sim.client()
    check = BalanceCheck(Database(fresh_database), client, codec, make_producer(kafka_bootstrap))
    assert check.run_due() == []  # no payment cycle yet
    cycle_finished(fresh_database, org, T1)
    assert check.run_due() == [org] and check.run_due() == []  # once per cycle
    assert REGISTRY.get_sample_value("cz_open_balance_difference", {"organisation": org}) == 50.0
    with connect(fresh_database) as conn:
        (row,) = [r for r in balance_rows(conn, org) if r.difference]
        assert (row.cw_invoice_id, row.difference, row.cause) == (1002, Decimal("50.00"), "payment not yet matched")
        assert conn.execute("select raised_at from balance_differences").fetchone()["raised_at"] is None

    for n in (1, 2):  # the next cycles: still there, raised once
        cycle_finished(fresh_database, org, T1 + timedelta(hours=n))
        check.run_due()
    raised = read_topic(kafka_bootstrap, SYNC_EXCEPTIONS.name, SYNC_EXCEPTIONS.partitions,
                        lambda m: m.key() == b"invoice:1002" and codec.decode(m.value())[1]["organisation_id"] == org)
    assert len(raised) == 1
    exc = codec.decode(raised[0].value())[1]
    assert exc["kind"] == "open_balance_difference" and "payment not yet matched" in exc["message"]
    assert exc["details"]["difference"] == "50.00"

    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("insert into exceptions (kind, record_type, record_id, organisation_id, message, source_topic,"
                     " first_seen, last_seen) values ('open_balance_difference', 'invoice', '1002', %s, 'm', 't',"
                     " now(), now())", (org,))
        conn.execute("update xero_invoice_balances set amount_due = amount_due + 50 where xero_invoice_id = 'x2'")
    cycle_finished(fresh_database, org, T1 + timedelta(hours=3))
    check.run_due()
    assert REGISTRY.get_sample_value("cz_open_balance_difference", {"organisation": org}) == 0.0
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("select count(*) from balance_differences").fetchone()[0] == 0
        assert conn.execute("select status from exceptions").fetchone()[0] == "resolved"
        assert conn.execute("select invoices, differences from balance_checks").fetchone() == (2, 0)
