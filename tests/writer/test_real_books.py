"""The writer on real books, against the real Xero simulator over HTTP and a real ledger in
Postgres: documents a previous tool left in Xero adopted instead of created (or an exception
showing both sides when they differ), read in paged, filtered batches; a shadow run that
writes nothing and reports what it would do; contact details sent only when they change."""
from __future__ import annotations

import copy
import hashlib
import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from services.common.database import Database
from services.common.secrets import SecretBox
from services.mapping.sync_settings import put_settings
from services.sandbox.xero.ratelimit import Limits as SimLimits
from services.writer.batching import WriteRequest
from services.writer.ledger import Ledger
from services.writer.writer import OrganisationWriter
from tests.integrations.xero.sim import (
    add_organisations,
    invoice_body,
    invoices_by_number,
    make_client,
    running_simulator,
)

pytestmark = pytest.mark.integration

ORG = "adelaide"


class Books:
    def __init__(self, sim, db, ledger, writer, published, recorder):
        self.sim, self.db, self.ledger, self.writer = sim, db, ledger, writer
        self.published, self.recorder = published, recorder

    def write(self, *requests: WriteRequest) -> None:
        self.writer.write(ORG, list(requests))

    def results(self, cw_id: int) -> list[dict]:
        return [r for kind, r in self.published if kind == "result" and r["cw_id"] == cw_id]

    def exceptions(self, cw_id: int) -> list[dict]:
        return [r for kind, r in self.published if kind == "exception" and r["record_id"] == str(cw_id)]

    def rows(self, sql: str, *args) -> list[tuple]:
        with psycopg.connect(self.db) as conn:
            return conn.execute(sql, args).fetchall()

    def calls(self, method: str, path_part: str = "") -> list[dict]:
        """Calls to Xero's API (token refreshes left out)."""
        return [r for r in self.recorder.records if r["method"] == method and "/api.xro/" in r["url"]
                and path_part in r["url"]]

    def history(self, *invoices: dict) -> dict[str, dict]:
        """Invoices a previous tool wrote into the organisation: number -> the saved invoice."""
        resp = httpx.post(f"{self.sim.root}/_sandbox/xero/history", json={"organisation": ORG, "invoices": invoices})
        resp.raise_for_status()
        saved = resp.json()["Invoices"]
        assert all(e["StatusAttributeString"] == "OK" for e in saved), saved
        return {e["InvoiceNumber"]: e for e in saved}

    def settings(self, **values) -> None:
        with Database(self.db, max_size=1).unit_of_work() as conn:
            put_settings(conn, ORG, values, "test")

    def contact(self, n: int = 0) -> str:
        return sorted(self.sim.org(ORG).contacts)[n]


@pytest.fixture
def books(fresh_database):
    box = SecretBox(Fernet.generate_key().decode())
    with running_simulator(limits=SimLimits(per_minute=600)) as sim:
        add_organisations(fresh_database, box, sim)
        client, _, recorder = make_client(sim, fresh_database, box)
        ledger = Ledger(Database(fresh_database, max_size=2))
        published: list[tuple[str, dict]] = []
        writer = OrganisationWriter(client, ledger, lambda kind, record: published.append((kind, record)))
        yield Books(sim, fresh_database, ledger, writer, published, recorder)
        ledger.close()


def request(cw_id: int, body: dict, total: str | None, contact_details: dict | None = None) -> WriteRequest:
    content = json.dumps(body, sort_keys=True)
    return WriteRequest.from_record({
        "request_id": str(uuid.uuid4()), "organisation_id": ORG, "record_type": "invoice", "cw_id": cw_id,
        "content_hash": hashlib.sha256(f"UPSERT{content}".encode()).hexdigest(), "operation": "UPSERT",
        "endpoint": "Invoices", "body": content, "natural_key": body["InvoiceNumber"],
        "mapped_at": datetime.now(timezone.utc), "observed_at": datetime.now(timezone.utc),
        "total": None if total is None else Decimal(total),
        "contact_details": None if contact_details is None else json.dumps(contact_details)})


def invoice(b: Books, number: str, amount: str = "100.00", contact: int = 0) -> dict:
    """A ConnectWise invoice as the mapper writes it for Xero (AUTHORISED, GST on top)."""
    body = invoice_body(b.sim, ORG, number, amount=amount, status="AUTHORISED")
    body["Contact"] = {"ContactID": b.contact(contact)}
    return body


def test_a_document_xero_already_holds_is_adopted_and_then_updated_like_any_other(books):
    b = books
    held = b.history(invoice(b, "PREV-1"))["PREV-1"]
    b.write(request(1, invoice(b, "PREV-1"), "110.00"))

    [result] = b.results(1)
    assert (result["outcome"], result["xero_id"], result["xero_status"]) == (
        "UNCHANGED", held["InvoiceID"], "AUTHORISED")
    assert not b.exceptions(1)
    assert not b.calls("PUT") and not b.calls("POST")  # nothing created, nothing written
    assert len(invoices_by_number(b.sim, ORG)["PREV-1"]) == 1
    [(outcome, xero_id)] = b.rows("select last_outcome, xero_id from xero_ledger where cw_id = '1'")
    assert (outcome, xero_id) == ("ADOPTED", held["InvoiceID"])
    [(status, record_xero_id, note)] = b.rows("select status, xero_id, last_error from sync_records where cw_id = '1'")
    assert (status, record_xero_id) == ("synced", held["InvoiceID"]) and "adopted" in note

    # A ConnectWise edit is written to the adopted document, never to a new one.
    b.write(request(1, invoice(b, "PREV-1", amount="150.00"), "165.00"))
    assert [r["outcome"] for r in b.results(1)] == ["UNCHANGED", "UPDATED"]
    [updated] = invoices_by_number(b.sim, ORG)["PREV-1"]
    assert updated["InvoiceID"] == held["InvoiceID"] and updated["Total"] == Decimal("165.00")


def test_a_total_within_rounding_is_adopted_and_a_candidate_that_differs_is_an_exception_showing_both_sides(books):
    b = books
    held = b.history(invoice(b, "PREV-2"), invoice(b, "PREV-3", amount="120.00"), invoice(b, "PREV-4", contact=1))
    b.write(request(2, invoice(b, "PREV-2"), "110.01"),  # ConnectWise rounded its tax once, on the total
            request(3, invoice(b, "PREV-3"), "110.00"),
            request(4, invoice(b, "PREV-4"), "110.00"))

    assert b.results(2)[0]["xero_id"] == held["PREV-2"]["InvoiceID"]
    [other_total] = b.exceptions(3)
    assert other_total["kind"] == "adoption_mismatch"
    details = other_total["details"]
    assert (details["connectwise_total"], Decimal(details["xero_total"])) == ("110.00", Decimal("132.00"))
    assert details["xero_id"] == held["PREV-3"]["InvoiceID"] and details["differences"] == "total"
    assert "total 110.00 in ConnectWise, 132.00 in Xero" in other_total["message"]
    [other_contact] = b.exceptions(4)
    assert other_contact["details"]["differences"] == "contact"
    assert (other_contact["details"]["connectwise_contact"], other_contact["details"]["xero_contact"]) == (
        b.contact(0), b.contact(1))
    assert [r["outcome"] for r in b.results(3) + b.results(4)] == ["REJECTED", "REJECTED"]
    statuses = dict(b.rows("select cw_id, status from sync_records where cw_id in ('3', '4')"))
    assert statuses == {"3": "exception", "4": "exception"}
    assert not b.calls("PUT") and not b.calls("POST")  # never a second document
    assert {n: len(v) for n, v in invoices_by_number(b.sim, ORG).items() if n.startswith("PREV-")} == {
        "PREV-2": 1, "PREV-3": 1, "PREV-4": 1}

    # Corrected in Xero (here: voided and made again right), a force-sync adopts it.
    b.history(invoice(b, "PREV-5"))
    b.write(request(5, invoice(b, "PREV-5"), "110.00"))
    assert b.results(5)[0]["outcome"] == "UNCHANGED" and not b.exceptions(5)


def test_adoption_reads_xero_in_paged_filtered_batches_not_a_call_per_record(books):
    b = books
    b.history(*[invoice(b, f"OLD-{n:03d}") for n in range(100)])
    requests = [request(n, invoice(b, f"OLD-{n:03d}"), "110.00") for n in range(120)]  # 100 held, 20 new
    for at in range(0, len(requests), 50):  # as the writer's lane hands them over
        b.write(*requests[at:at + 50])

    reads = b.calls("GET", "/Invoices")
    assert len(reads) == 3  # 50 + 50 + 20 numbers, a batch's numbers in one read
    assert all("InvoiceNumbers=" in r["url"] and "page=1" in r["url"] and "pageSize=" in r["url"] for r in reads)
    assert len(b.calls("PUT", "/Invoices")) == 1  # the 20 new ones, in one call
    outcomes = [b.results(n)[0]["outcome"] for n in range(120)]
    assert outcomes.count("UNCHANGED") == 100 and outcomes.count("CREATED") == 20
    assert all(len(v) == 1 for n, v in invoices_by_number(b.sim, ORG).items() if n.startswith("OLD-"))
    [(adopted,)] = b.rows("select count(*) from xero_ledger where last_outcome = 'ADOPTED'")
    assert adopted == 100


def test_a_shadow_run_writes_nothing_and_reports_what_it_would_do(books):
    b = books
    b.history(invoice(b, "SH-1"), invoice(b, "SH-2", amount="120.00"))
    b.settings(mode="shadow")
    requests = [request(1, invoice(b, "SH-1"), "110.00"), request(2, invoice(b, "SH-2"), "110.00"),
                request(3, invoice(b, "SH-3"), "110.00",
                        contact_details={"ContactID": b.contact(), "EmailAddress": "billing@example.com"})]
    before = {k: dict(v) for k, v in b.sim.org(ORG).invoices.items()}
    b.write(*requests)

    assert not b.calls("PUT") and not b.calls("POST")  # nothing written to Xero, contacts included
    assert {k: dict(v) for k, v in b.sim.org(ORG).invoices.items()} == before
    assert not b.published  # no result, no exception: only the report
    report = {r[0]: r[1:] for r in b.rows("select cw_id, outcome, detail, xero_id, total from shadow_outcomes"
                                          " where organisation_id = %s", ORG)}
    assert report["1"][0] == "adopt" and report["1"][2] == invoices_by_number(b.sim, ORG)["SH-1"][0]["InvoiceID"]
    assert report["2"][:2] == ("exception", "adoption_mismatch") and report["2"][3] == Decimal("110.00")
    assert report["3"][:2] == ("create", None)
    statuses = {r[0]: r[1:] for r in b.rows("select cw_id, status, last_error from sync_records")}
    assert {k: v[0] for k, v in statuses.items()} == {"1": "shadow", "2": "shadow", "3": "shadow"}
    assert "would adopt" in statuses["1"][1] and "132.00 in Xero" in statuses["2"][1]
    assert not b.rows("select * from xero_ledger")  # the ledger is left for the live run

    # Live: the same records are decided again, and this time written.
    b.settings(mode="live")
    b.write(*[dict_copy(r) for r in requests])
    assert [b.results(n)[0]["outcome"] for n in (1, 2, 3)] == ["UNCHANGED", "REJECTED", "CREATED"]
    assert b.exceptions(2)[0]["kind"] == "adoption_mismatch"
    assert dict(b.rows("select cw_id, status from sync_records")) == {"1": "synced", "2": "exception", "3": "synced"}


def dict_copy(req: WriteRequest) -> WriteRequest:
    """The same request delivered again (a replay)."""
    from dataclasses import replace

    return replace(req, request_id=str(uuid.uuid4()), observed_at=datetime.now(timezone.utc))


def test_contact_details_cost_one_call_and_only_when_they_change(books):
    b = books
    contact = b.contact()
    details = {"ContactID": contact, "EmailAddress": "accounts@example.com",
               "Addresses": [{"AddressType": "POBOX", "AddressLine1": "1 King William St", "City": "Adelaide"}],
               "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "08 8000 0000"}]}
    b.write(request(1, invoice(b, "CD-1"), "110.00", details), request(2, invoice(b, "CD-2"), "110.00", details))
    assert len(b.calls("POST", "/Contacts")) == 1
    held = b.sim.org(ORG).contacts[contact]
    assert held["EmailAddress"] == "accounts@example.com" and held["Phones"][0]["PhoneNumber"] == "08 8000 0000"
    assert held["Addresses"][0]["City"] == "Adelaide"

    b.write(request(3, invoice(b, "CD-3"), "110.00", details))  # the same details: no call
    assert len(b.calls("POST", "/Contacts")) == 1
    b.write(request(4, invoice(b, "CD-4"), "110.00", {**details, "EmailAddress": "ap@example.com"}))
    assert len(b.calls("POST", "/Contacts")) == 2
    assert b.sim.org(ORG).contacts[contact]["EmailAddress"] == "ap@example.com"
    assert [b.results(n)[0]["outcome"] for n in (1, 2, 3, 4)] == ["CREATED"] * 4


def test_in_a_shadow_run_a_change_to_a_written_document_reports_update_and_writes_nothing(books):
    b = books
    b.write(request(1, invoice(b, "UP-1"), "110.00"), request(2, invoice(b, "UP-2"), "110.00"),
            request(3, invoice(b, "UP-3"), "110.00"))
    written = {n: b.results(n)[0]["xero_id"] for n in (1, 2, 3)}
    assert [b.results(n)[0]["outcome"] for n in (1, 2, 3)] == ["CREATED"] * 3
    ledger_before = b.rows("select cw_id, xero_id, xero_status, written_hash, last_outcome from xero_ledger"
                           " order by cw_id")

    b.settings(mode="shadow")
    edited = invoice(b, "UP-1", amount="150.00")  # edited in ConnectWise
    remapped = invoice(b, "UP-2")
    remapped["LineItems"][0]["AccountCode"] = "210"  # the sales account mapping changed
    changes = [request(1, edited, "165.00"), request(2, remapped, "110.00"),
               request(3, invoice(b, "UP-3"), "110.00")]  # delivered again, as it was written
    before = copy.deepcopy(b.sim.org(ORG).invoices)
    writes_before = len(b.calls("PUT")) + len(b.calls("POST"))
    published_before = len(b.published)
    b.write(*changes)

    assert len(b.calls("PUT")) + len(b.calls("POST")) == writes_before  # nothing written to Xero
    assert b.sim.org(ORG).invoices == before
    assert len(b.published) == published_before  # no result, no exception: only the report
    report = {r[0]: r[1:] for r in b.rows("select cw_id, outcome, detail, message, xero_id, total"
                                          " from shadow_outcomes where organisation_id = %s", ORG)}
    assert report["1"] == ("update", None, "would update the invoice in Xero", written[1], Decimal("165.00"))
    assert report["2"] == ("update", None, "would update the invoice in Xero", written[2], Decimal("110.00"))
    assert report["3"][:2] == ("skip", "unchanged") and report["3"][3] == written[3]
    notes = dict(b.rows("select cw_id, last_error from sync_records where status = 'shadow'"))
    assert notes["1"] == notes["2"] == "shadow run: would update the invoice in Xero"
    # The ledger still holds what was written, so going live updates rather than creates.
    assert b.rows("select cw_id, xero_id, xero_status, written_hash, last_outcome from xero_ledger"
                  " order by cw_id") == ledger_before

    # Live: what the report said is what happens.
    b.settings(mode="live")
    b.write(*[dict_copy(r) for r in changes])
    assert [b.results(n)[-1]["outcome"] for n in (1, 2, 3)] == ["UPDATED", "UPDATED", "UNCHANGED"]
    held = {n: invoices_by_number(b.sim, ORG)[f"UP-{n}"] for n in (1, 2)}
    assert [d["InvoiceID"] for d in held[1] + held[2]] == [written[1], written[2]]
    assert held[1][0]["Total"] == Decimal("165.00") and held[2][0]["LineItems"][0]["AccountCode"] == "210"
