"""Coalescing and cutting write requests into Xero batches."""
import json
from datetime import datetime, timedelta, timezone

import pytest

from services.writer.batching import BadWriteRequest, WriteRequest, batches, by_organisation, chunks, coalesce

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def req(cw_id, org="adelaide", seq=0, minutes=0, endpoint="Invoices", request_id=None):
    return WriteRequest(request_id or f"r{cw_id}-{seq}", org, "invoice", cw_id, f"h{seq}", "UPSERT", endpoint,
                        {"InvoiceNumber": str(cw_id)}, str(cw_id), mapped_at=T0 + timedelta(minutes=minutes), seq=seq)


def test_coalesce_keeps_the_newest_request_per_record():
    old, other, new = req(1, seq=0, minutes=0), req(2, seq=1), req(1, seq=2, minutes=5)
    kept, superseded = coalesce([old, other, new])
    assert kept == [other, new]
    assert superseded == [(old, new)]


def test_coalesce_prefers_mapped_at_over_arrival_and_arrival_on_ties():
    newer_first = req(1, seq=0, minutes=10)
    older_late = req(1, seq=1, minutes=1)
    kept, _ = coalesce([newer_first, older_late])
    assert kept == [newer_first]
    tie_a, tie_b = req(1, seq=0), req(1, seq=1)
    assert coalesce([tie_a, tie_b])[0] == [tie_b]


def test_same_cw_id_in_two_organisations_is_two_records():
    a, b = req(1, org="adelaide", seq=0), req(1, org="sydney", seq=1)
    kept, superseded = coalesce([a, b])
    assert kept == [a, b] and not superseded
    assert set(by_organisation(kept)) == {"adelaide", "sydney"}


def test_batches_of_at_most_fifty_per_key():
    items = [req(i, seq=i, endpoint="Invoices" if i % 3 else "CreditNotes") for i in range(130)]
    cut = batches(items, key=lambda r: r.endpoint)
    assert all(len(group) <= 50 for _, group in cut)
    assert sorted(r.cw_id for _, g in cut for r in g) == list(range(130))
    assert [(k, len(g)) for k, g in cut] == [("CreditNotes", 44), ("Invoices", 50), ("Invoices", 36)]
    with pytest.raises(ValueError, match="size"):
        chunks([1], 0)


def record(**changes):
    base = {"request_id": "r1", "organisation_id": "adelaide", "record_type": "invoice", "cw_id": 7,
            "content_hash": "abc", "operation": "UPSERT", "endpoint": "Invoices",
            "body": json.dumps({"InvoiceNumber": "7", "LineItems": [{"UnitAmount": "10.50"}]}),
            "natural_key": "7", "trigger": "FORCE_SYNC", "mapped_at": T0}
    base.update(changes)
    return base


def test_from_record_reads_the_avro_record_and_keeps_money_as_strings():
    r = WriteRequest.from_record(record(), seq=3)
    assert r.body["LineItems"][0]["UnitAmount"] == "10.50"
    assert (r.cw_id, r.trigger, r.seq, r.id_field) == (7, "FORCE_SYNC", 3, "InvoiceID")


@pytest.mark.parametrize("changes, field", [
    ({"endpoint": "Contacts"}, "endpoint"),
    ({"operation": "MERGE"}, "operation"),
    ({"body": "{not json"}, "body"),
    ({"body": "[1]"}, "body"),
    ({"organisation_id": ""}, "organisation_id"),
    ({"natural_key": " "}, "natural_key"),
])
def test_bad_requests_name_the_field(changes, field):
    with pytest.raises(BadWriteRequest, match=f"^{field}:"):
        WriteRequest.from_record(record(**changes))
