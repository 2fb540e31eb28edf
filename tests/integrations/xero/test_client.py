"""The Xero client against the real Xero simulator over HTTP, tokens in real Postgres."""
from __future__ import annotations

import time
from decimal import Decimal
from datetime import datetime, timedelta, timezone

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from services.common.natural_key import NaturalKey
from services.common.secrets import SecretBox
from services.integrations.xero.auth import CredentialError
from services.integrations.xero.client import XeroOrg, XeroUnavailable
from services.common.sandbox_identity import XERO_CLIENT_ID, XERO_CLIENT_SECRET
from services.sandbox.xero.ratelimit import Limits as SimLimits
from services.integrations.xero.pacing import Limits
from tests.integrations.xero.sim import (ORG_IDS, add_organisations, invoice_body, make_client,
                                         running_simulator)

pytestmark = pytest.mark.integration


@pytest.fixture
def sim():
    with running_simulator(limits=SimLimits(per_minute=600)) as s:
        yield s


@pytest.fixture
def box():
    return SecretBox(Fernet.generate_key().decode())


def org(short="adelaide"):
    return XeroOrg(short, ORG_IDS[short])


def token_rows(db):
    with psycopg.connect(db) as conn:
        return conn.execute("select credential_id, refresh_token_sealed, access_expires_at from xero_tokens").fetchall()


def test_refresh_rotates_and_persists_the_new_token_before_use(sim, fresh_database, box):
    add_organisations(fresh_database, box, sim)
    client, store, recorder = make_client(sim, fresh_database, box)
    with psycopg.connect(fresh_database) as conn:
        seed = box.open(conn.execute("select credential_sealed from organisations where id='adelaide'").fetchone()[0])
    resp = client.request(org(), "GET", "Organisation")
    assert resp.status_code == 200
    rotated = store.current_refresh_token("adelaide")
    assert rotated and rotated != seed  # the rotation is in Postgres
    assert len(token_rows(fresh_database)) == 1
    # The persisted token is the live one: Xero accepts it for the next refresh.
    live = httpx.post(sim.token_url, auth=(XERO_CLIENT_ID, XERO_CLIENT_SECRET),
                      data={"grant_type": "refresh_token", "refresh_token": rotated})
    assert live.status_code == 200
    # Refresh secrets never reach the audit record.
    token_call = next(r for r in recorder.records if r["url"].endswith("/connect/token"))
    assert rotated not in (token_call["response_body"] or "") and "***" in token_call["response_body"]


def test_access_token_is_refreshed_before_it_expires(sim, fresh_database, box):
    add_organisations(fresh_database, box, sim)
    client, store, recorder = make_client(sim, fresh_database, box)
    client.request(org(), "GET", "Organisation")
    first = store.current_refresh_token("adelaide")
    # The stored token now expires within the refresh margin: the next call refreshes first.
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("update xero_tokens set access_expires_at = %s", (datetime.now(timezone.utc) + timedelta(seconds=60),))
    client.tokens._cache.clear()  # a new process: only Postgres knows the token
    assert client.request(org(), "GET", "Organisation").status_code == 200
    assert store.current_refresh_token("adelaide") != first
    assert [r["status"] for r in recorder.records if "/api.xro/" in r["url"]] == [200, 200]  # never a 401


def test_an_access_token_refused_by_xero_is_refreshed_once(sim, fresh_database, box):
    add_organisations(fresh_database, box, sim)
    client, store, recorder = make_client(sim, fresh_database, box)
    client.request(org(), "GET", "Organisation")
    sim.control("clock", advance_seconds=31 * 60)  # Xero's clock: our access token has expired
    assert client.request(org(), "GET", "Organisation").status_code == 200
    assert [r["status"] for r in recorder.records if "/api.xro/" in r["url"]] == [200, 401, 200]


def test_organisations_sharing_one_login_share_one_rotation_chain(sim, fresh_database, box):
    add_organisations(fresh_database, box, sim, shared_login=True)
    client, store, _ = make_client(sim, fresh_database, box)
    for short in ORG_IDS:
        assert client.request(org(short), "GET", "Organisation").status_code == 200
    assert len(token_rows(fresh_database)) == 1
    # Past the 30-minute grace of every earlier token, each organisation still refreshes.
    sim.control("clock", advance_seconds=61 * 60)
    client.tokens._cache.clear()
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("update xero_tokens set access_expires_at = now()")
    for short in ORG_IDS:
        assert client.request(org(short), "GET", "Organisation").status_code == 200


def test_revoked_credential_is_a_clear_error_and_marks_the_organisation(sim, fresh_database, box):
    add_organisations(fresh_database, box, sim)
    client, _, _ = make_client(sim, fresh_database, box)
    sim.control("revoke-refresh-token")
    started = time.monotonic()
    with pytest.raises(CredentialError, match="sydney.*invalid_grant.*reconnect"):
        client.request(org("sydney"), "GET", "Organisation")
    assert time.monotonic() - started < 2  # not retried: it cannot get better by itself
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("select status from organisations where id='sydney'").fetchone()[0] == "disconnected"


def test_429_storm_is_honoured_with_retry_after(sim, fresh_database, box):
    add_organisations(fresh_database, box, sim)
    client, _, recorder = make_client(sim, fresh_database, box)
    client.request(org(), "GET", "Organisation")  # tokens first
    sim.control("faults", storm_429=3, retry_after_seconds=1)
    started = time.monotonic()
    assert client.request(org(), "GET", "Organisation").status_code == 200
    elapsed = time.monotonic() - started
    statuses = [r["status"] for r in recorder.records if "/api.xro/" in r["url"]][1:]
    assert statuses == [429, 429, 429, 200]
    assert elapsed >= 2.9  # three Retry-After: 1 waits


def test_minute_budget_is_read_from_the_headers(sim, fresh_database, box):
    add_organisations(fresh_database, box, sim)
    sim.control("limits", per_minute=4)
    # The client believes in 600/min; Xero's headers tell it otherwise.
    client, _, recorder = make_client(sim, fresh_database, box, limits=Limits(per_minute=600))
    for _ in range(4):
        assert client.request(org(), "GET", "Organisation").status_code == 200
    wait = client.gate.pacer.wait("adelaide", client.gate.clock())
    assert wait.reason == "minute" and 50 < wait.seconds <= 60.1
    assert all(r["status"] == 200 for r in recorder.records)  # the pacer stopped before any 429


def test_5xx_and_dropped_connections_are_retried(sim, fresh_database, box):
    add_organisations(fresh_database, box, sim)
    client, _, recorder = make_client(sim, fresh_database, box, max_attempts=20, backoff_max=0.1)
    client.request(org(), "GET", "Organisation")
    for i in range(30):
        if i in (0, 15):  # 5xx answers first, then dropped connections
            sim.control("faults", **({"error_rate": 0.4} if i == 0 else {"error_rate": 0, "drop_connection_rate": 0.5}))
        elements = client.write(org(), "Invoices", "PUT", [invoice_body(sim, "adelaide", f"R-{i}")], f"key-{i}")
        assert elements[0]["StatusAttributeString"] == "OK"
    sim.control("faults", clear=True)
    statuses = [r["status"] for r in recorder.records if "/api.xro/" in r["url"]]
    assert any(s >= 500 for s in statuses) and 0 in statuses  # both kinds of fault happened
    numbers = [i["InvoiceNumber"] for i in sim.org("adelaide").invoices.values() if i["InvoiceNumber"].startswith("R-")]
    assert sorted(numbers) == sorted(f"R-{i}" for i in range(30))  # each exactly once


def test_persistent_5xx_gives_up_after_the_attempts(sim, fresh_database, box):
    add_organisations(fresh_database, box, sim)
    client, _, recorder = make_client(sim, fresh_database, box, max_attempts=4, backoff_max=0.05)
    client.request(org(), "GET", "Organisation")
    sim.control("faults", error_rate=1.0)
    with pytest.raises(XeroUnavailable, match="4 attempts"):
        client.request(org(), "GET", "Organisation")
    assert sum(1 for r in recorder.records if "/api.xro/" in r["url"] and r["status"] >= 500) == 4


def test_exchanges_are_tagged_and_lookups_find_records(sim, fresh_database, box):
    add_organisations(fresh_database, box, sim)
    client, _, recorder = make_client(sim, fresh_database, box)
    body = invoice_body(sim, "adelaide", "TAG-1")
    [element] = client.write(org(), "Invoices", "PUT", [body], "k-tag", tags={"record_type": "invoice", "record_id": 42})
    put = next(r for r in recorder.records if r["method"] == "PUT")
    assert (put["organisation_id"], put["record_type"], put["record_id"]) == ("adelaide", "invoice", "42")
    assert put["request_headers"]["authorization"] == "***"
    found = client.find_by_numbers(org(), "Invoices", ["TAG-1", "NOPE"])
    assert [f["InvoiceID"] for f in found] == [element["InvoiceID"]]
    assert client.find_by_numbers(org(), "CreditNotes", ["CN-NOPE"]) == []
    # Money comes back as Decimal, never float.
    assert isinstance(element["Total"], Decimal) and element["Total"] == Decimal("110.00")


def test_a_batch_of_numbers_is_looked_up_in_one_call_and_a_long_list_in_as_few_as_fit_a_url(sim, fresh_database, box):
    add_organisations(fresh_database, box, sim)
    client, _, recorder = make_client(sim, fresh_database, box)
    bodies = [invoice_body(sim, "adelaide", f"LOOKUP-{n:05d}") for n in range(60)]
    written = client.write(org(), "Invoices", "PUT", bodies, "k-lookup")
    wanted = [b["InvoiceNumber"] for b in bodies]

    def reads() -> list[dict]:
        return [r for r in recorder.records if r["method"] == "GET" and "InvoiceNumbers" in r["url"]]
    found = client.find_by_numbers(org(), "Invoices", wanted[:50])  # a writer's batch: one read
    assert len(reads()) == 1 and len(found) == 50
    many = wanted + [f"NO-SUCH-{'X' * 40}-{n}" for n in range(200)]  # ~10,000 characters of numbers
    found = client.find_by_numbers(org(), "Invoices", many)
    assert sorted(f["InvoiceID"] for f in found) == sorted(w["InvoiceID"] for w in written)
    assert 1 + 3 <= len(reads()) <= 1 + 4 and all(len(r["url"]) < 4500 for r in reads())


def test_credit_notes_and_bills_are_found_by_what_identifies_them(sim, fresh_database, box):
    add_organisations(fresh_database, box, sim)
    client, _, _ = make_client(sim, fresh_database, box)
    contact = sorted(sim.org("adelaide").contacts)[0]
    line = {"Description": "Refund", "Quantity": "1", "UnitAmount": "20.00", "AccountCode": "200", "TaxType": "OUTPUT"}
    [credit] = client.write(org(), "CreditNotes", "PUT", [{"Type": "ACCRECCREDIT", "CreditNoteNumber": "CN-7",
                                                          "Contact": {"ContactID": contact}, "Date": "2026-11-03",
                                                          "LineItems": [line]}], "k-cn")
    assert credit["StatusAttributeString"] == "OK", credit
    found = client.find_by_numbers(org(), "CreditNotes", ["CN-7", "CN-8"])
    assert [f["CreditNoteID"] for f in found] == [credit["CreditNoteID"]]

    bill_line = {"Description": "Licences", "Quantity": "1", "UnitAmount": "40.00", "AccountCode": "310",
                 "TaxType": "INPUT"}
    bills = [{"Type": "ACCPAY", "InvoiceNumber": "PO-1", "Contact": {"ContactID": contact}, "Date": date,
              "LineItems": [bill_line]} for date in ("2026-11-04", "2026-11-05")]
    written = client.write(org(), "Invoices", "PUT", bills, "k-bills")
    assert [w["StatusAttributeString"] for w in written] == ["OK", "OK"], written
    match = client.find_bill(org(), NaturalKey.bill(contact, "PO-1", "2026-11-05"))
    assert [m["InvoiceID"] for m in match] == [written[1]["InvoiceID"]]  # same number, told apart by the date
    assert client.find_bill(org(), NaturalKey.bill(contact, "PO-1", "2026-11-06")) == []
    [named] = client.write(org(), "Invoices", "PUT", [{**bills[0], "Contact": {"Name": 'New "Supplier"'}}], "k-new")
    match = client.find_bill(org(), NaturalKey.named_bill('New "Supplier"', "PO-1", "2026-11-04"))
    assert [m["InvoiceID"] for m in match] == [named["InvoiceID"]]  # not the other supplier's PO-1 of that day


def test_an_organisation_the_connection_does_not_reach_is_a_credential_error(sim, fresh_database, box):
    add_organisations(fresh_database, box, sim)
    client, _, _ = make_client(sim, fresh_database, box)
    # adelaide's credential reaches only adelaide's tenant: pointing it elsewhere is refused.
    with pytest.raises(CredentialError, match="403"):
        client.request(XeroOrg("adelaide", ORG_IDS["sydney"]), "GET", "Organisation")
