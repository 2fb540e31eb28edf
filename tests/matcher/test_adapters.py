"""The matcher's adapters against real parts: its ledger in PostgreSQL, ConnectWise
over HTTP (the simulator), and the engine wired to both, including a ConnectWise
answer lost after the payment was applied."""
from __future__ import annotations

import threading
import time
from decimal import Decimal

import psycopg
import pytest
import uvicorn

from services.common.database import Database
from services.common.db import connect
from services.common.echo import (created_by_matcher, matcher_in_flight, payments_written_by_writer, written_by_writer,
                                  xero_reference)
from services.common.lifecycle import Event
from services.matcher.connectwise import CwGateway
from services.matcher.customers import ContactCheck
from services.matcher.engine import Matcher
from services.matcher.ledger import PostgresLedger, resolve_settled
from services.matcher.match import Raise
from services.matcher.ports import Outcome, Refused, Unanswered
from services.common import sandbox_identity as identity
from services.sandbox.connectwise.app import create_app
from services.sandbox.connectwise.state import CwState
from services.sandbox.faults import Faults
from tests.conftest import free_port
from tests.integrations.connectwise.sim import Sim

from .fakes import money

pytestmark = pytest.mark.integration

INVOICE = 1001  # INV-10001 of the seed: Sent, balance 8,092.46, company PE0001 (Pinnacle Engineering Co)


class LoseAnswers:
    """ASGI wrapper: serves `count` payment POSTs, then cuts the connection before the answer."""

    def __init__(self, app):
        self.app, self.count = app, 0

    async def __call__(self, scope, receive, send):
        if self.count and scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith("/payments"):
            self.count -= 1

            async def swallow(message):
                if message["type"] == "http.response.start":
                    raise ConnectionResetError("answer lost")

            try:
                await self.app(scope, receive, swallow)
            except ConnectionResetError:
                pass
            return
        await self.app(scope, receive, send)


@pytest.fixture
def cw():
    state = CwState.from_seed(7, 1)
    wrapper = LoseAnswers(create_app(state, Faults()))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(wrapper, host="127.0.0.1", port=port, log_level="critical",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    sim = Sim(identity.cw_base("127.0.0.1", port), state, Faults())
    client = sim.client(attempts=2)
    yield CwGateway(client), state, wrapper
    client.close()
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def ledger(fresh_database):
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("insert into organisations (id, name, tenant_id, status) values ('adelaide', 'Adelaide', 't-1', "
                     "'connected')")
        conn.execute("insert into xero_contacts (organisation_id, contact_id, name, contact_number) values"
                     " ('adelaide', 'contact-1', 'Pinnacle Engineering Co', 'PE0001')")
        conn.execute("insert into xero_ledger (organisation_id, record_type, cw_id, xero_id) values"
                     " ('adelaide', 'invoice', %s, 'xinv-1')", (str(INVOICE),))
    with Database(fresh_database) as db:
        yield PostgresLedger(db)


def balance(state: CwState, invoice_id: int = INVOICE) -> Decimal:
    return state.c["invoices"].get(invoice_id)["balance"]


def test_gateway_reads_applies_refuses_and_removes(cw):
    gateway, state, _ = cw
    before = balance(state)
    invoice = gateway.invoices([INVOICE, 999999])[INVOICE]
    assert (invoice.number, invoice.balance, invoice.company_identifier) == ("INV-10001", before, "PE0001")
    assert gateway.by_number("INV-10001").id == INVOICE and gateway.by_number("NO-SUCH") is None
    paid = gateway.apply(INVOICE, Decimal("100.10"), money("p", "1").payment_date, {"record_type": "xero_payment"})
    assert balance(state) == before - Decimal("100.10")
    assert any(p.id == paid and p.amount == Decimal("100.10") for p in gateway.payments(INVOICE))
    with pytest.raises(Refused, match="balance"):
        gateway.apply(INVOICE, before * 2, None, {})
    gateway.remove(INVOICE, paid, {})
    gateway.remove(INVOICE, paid, {})  # gone already is what a reversal wants
    assert balance(state) == before and gateway.payments(999999) == []


def test_ledger_keeps_one_live_application_and_settled_rows(ledger, fresh_database):
    m = money("p1", "50.00")
    (row,) = ledger.intend([(m, INVOICE, Decimal("50.00"), 7)])
    with connect(fresh_database, autocommit=True) as conn:
        assert matcher_in_flight(conn, INVOICE)
        with pytest.raises(psycopg.errors.UniqueViolation):
            ledger.intend([(m, INVOICE, Decimal("50.00"), 7)])
        (in_flight,) = ledger.states([m.key])[m.key].in_flight
        assert (in_flight.state, in_flight.max_before, in_flight.amount) == ("applying", 7, Decimal("50.00"))
        ledger.applied([(row, 4242)])
        assert created_by_matcher(conn, 4242) and not matcher_in_flight(conn, INVOICE)
        assert ledger.states([m.key])[m.key].live.cw_payment_id == 4242
        ledger.reversing([row])
        assert matcher_in_flight(conn, INVOICE)
        ledger.reversed([row])
        (second,) = ledger.intend([(m, INVOICE, Decimal("50.00"), 4242)])  # a new application once reversed
        ledger.forget([second])
        assert created_by_matcher(conn, 4242)  # the reversed one is still known as the matcher's
        assert ledger.in_flight() == [] and ledger.claimed([4242, 1]) == {4242}


def test_ledger_finds_targets_echoes_and_records_outcomes(ledger, fresh_database):
    with connect(fresh_database, autocommit=True) as conn:
        conn.execute("insert into sync_records (record_type, cw_id, record_number, organisation_id) values"
                     " ('invoice', '1002', 'INV-10002', 'adelaide'), ('invoice', '1003', 'INV-10003', 'sydney')")
        conn.execute("insert into xero_ledger (organisation_id, record_type, cw_id, xero_id) values"
                     " ('adelaide', 'payment', '55', 'written-by-writer')")
        conn.execute("insert into exceptions (kind, record_type, record_id, organisation_id, message, source_topic,"
                     " first_seen, last_seen) values ('unmatched_payment', 'xero_payment', 'p1', 'adelaide', 'x', 't',"
                     " now(), now())")
    wanted = {("adelaide", "a"): ("xinv-1", ["INV-10002"]), ("adelaide", "b"): (None, ["INV-10002"]),
              ("adelaide", "c"): (None, ["INV-10003"])}
    assert ledger.targets(wanted) == {("adelaide", "a"): (INVOICE, "ledger"), ("adelaide", "b"): (1002, "number")}
    marked, written, plain = (money("x", "1", reference=xero_reference("payment", 55, "Cheque")),
                              money("written-by-writer", "1"), money("plain", "1", reference="Payment INV-10001"))
    echoes = ledger.echoes([marked, written, plain])
    assert echoes[marked.key] == "ConnectWise payment 55" and "writer" in echoes[written.key]
    assert plain.key not in echoes

    m = money("p1", "10.00", "XR-1")
    ledger.record([Outcome(m, Event.RAISED, "not applied: no invoice", Raise("unmatched_payment", "why"))])
    ledger.record([Outcome(m, Event.WRITTEN, "applied 10.00", settles=True)])
    with connect(fresh_database) as conn:
        rec = conn.execute("select status, last_error, organisation_id, record_number from sync_records"
                           " where record_type = 'xero_payment' and cw_id = 'p1'").fetchone()
        assert rec == {"status": "synced", "last_error": "applied 10.00", "organisation_id": "adelaide",
                       "record_number": "XR-1"}
        assert conn.execute("select status, resolved_by from exceptions").fetchone() == {
            "status": "resolved", "resolved_by": "matcher"}
    assert ledger.states([m.key])[m.key].version == m.updated_at


def test_engine_over_real_parts_settles_an_answer_lost_after_the_payment_landed(cw, ledger, fresh_database):
    gateway, state, wrapper = cw
    customers = ContactCheck(ledger.db)
    customers.refresh()
    matcher = Matcher(ledger, gateway, customers)
    before = balance(state)
    wrapper.count = 1
    first, second = money("p1", "100.00", "INV-10001"), money("p2", "200.00", "INV-10001")
    with pytest.raises(Unanswered):
        matcher.handle([first, second])
    assert balance(state) == before - Decimal("100.00")  # it landed; the answer did not
    outcomes = matcher.handle([first, second])  # delivered again
    assert [o.event for o in outcomes] == [Event.WRITTEN, Event.WRITTEN]
    assert balance(state) == before - Decimal("300.00")
    payments = [p for p in gateway.payments(INVOICE) if p.amount in (Decimal("100.00"), Decimal("200.00"))]
    assert len(payments) == 2

    stranger = money("p3", "5.00", "INV-10001", contact_id="someone-else")
    (outcome,) = matcher.handle([stranger])  # the contact tables name another contact for PE0001
    assert outcome.event is Event.RAISED and "the customer differs" in outcome.note
    assert balance(state) == before - Decimal("300.00")


def test_the_batch_echo_check_agrees_with_the_no_echo_rule(ledger, fresh_database):
    with connect(fresh_database, autocommit=True) as conn:
        for org, record_type, cw_id, xero_id in (("adelaide", "payment", "1", "a"), ("adelaide", "refund", "2", "b"),
                                                  ("adelaide", "invoice", "3", "c"), ("sydney", "payment", "4", "d"),
                                                  ("adelaide", "payment", "5", None)):
            conn.execute("insert into xero_ledger (organisation_id, record_type, cw_id, xero_id) values (%s, %s, %s, %s)",
                         (org, record_type, cw_id, xero_id))
        keys = [(org, pid) for org in ("adelaide", "sydney") for pid in ("a", "b", "c", "d", "e")]
        assert payments_written_by_writer(conn, keys) == {k for k in keys if written_by_writer(conn, *k)}
        assert payments_written_by_writer(conn, keys) == {("adelaide", "a"), ("adelaide", "b"), ("sydney", "d")}


def test_an_exception_recorded_after_its_payment_settled_is_resolved_by_the_sweep(ledger, fresh_database):
    settled, raised = money("late", "10.00"), money("still", "10.00", "XR-1")
    ledger.record([Outcome(settled, Event.WRITTEN, "applied 10.00", settles=True),
                   Outcome(raised, Event.RAISED, "not applied", Raise("unmatched_payment", "why"))])
    with connect(fresh_database, autocommit=True) as conn:
        for payment_id in ("late", "still"):  # as the alerts service records them, after the fact
            conn.execute("insert into exceptions (kind, record_type, record_id, organisation_id, message, source_topic,"
                         " first_seen, last_seen) values ('unmatched_payment', 'xero_payment', %s, 'adelaide', 'm',"
                         " 't', now(), now())", (payment_id,))
        assert resolve_settled(conn) == 1
        rows = conn.execute("select record_id, status from exceptions").fetchall()
        assert {r["record_id"]: r["status"] for r in rows} == {"late": "resolved", "still": "open"}


def test_payments_on_a_credit_memo_or_a_settled_invoice_are_unmatched_over_real_parts(cw, ledger, fresh_database):
    gateway, state, _ = cw
    memo = state.c["invoices"].get(1126)  # INV-10126 of the seed: a credit memo of Granite Dental (GD0003)
    assert memo["type"] == "CreditMemo"
    with connect(fresh_database, autocommit=True) as conn:
        conn.execute("insert into xero_contacts (organisation_id, contact_id, name, contact_number) values"
                     " ('adelaide', 'contact-gd', 'Granite Dental Pty Ltd', 'GD0003')")
    state.add_payment(INVOICE, balance(state), state.now())  # paid in full in ConnectWise: Paid, nothing left
    assert state.c["invoices"].get(INVOICE)["status"]["name"] == "Paid"
    customers = ContactCheck(ledger.db)
    customers.refresh()
    on_memo = money("p-memo", "20.00", "INV-10126", invoice_id="xinv-memo", contact_id="contact-gd")
    on_paid = money("p-paid", "20.00", "INV-10001")  # through the writer's ledger (xinv-1)
    payments_before = {i: gateway.payments(i) for i in (1126, INVOICE)}
    balances_before = {i: balance(state, i) for i in (1126, INVOICE)}

    outcomes = {o.money.payment_id: o for o in Matcher(ledger, gateway, customers).handle([on_memo, on_paid])}
    assert {o.event for o in outcomes.values()} == {Event.RAISED}
    assert {o.exception.kind for o in outcomes.values()} == {"unmatched_payment"}
    assert "ConnectWise INV-10126 is a credit memo, not an invoice" in outcomes["p-memo"].exception.message
    assert "above the balance of ConnectWise invoice INV-10001 (0.00)" in outcomes["p-paid"].exception.message
    assert {i: gateway.payments(i) for i in (1126, INVOICE)} == payments_before  # nothing applied in ConnectWise
    assert {i: balance(state, i) for i in (1126, INVOICE)} == balances_before
    with connect(fresh_database) as conn:
        assert conn.execute("select count(*) as n from cw_payment_applications").fetchone()["n"] == 0
        assert {r["cw_id"]: r["status"] for r in conn.execute(
            "select cw_id, status from sync_records where record_type = 'xero_payment'")} == {
            "p-memo": "exception", "p-paid": "exception"}
