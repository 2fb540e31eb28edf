"""The audit store against real chdb: inserts, every filter, paging, export, retention."""
import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from services.audit.entries import entry_from_message
from services.audit.search import Sql, page_sql, parse_query
from services.audit.store import TABLE, ChdbStore, create_table_sql

from .factories import exchange, sync_exception, write_result

pytestmark = pytest.mark.integration

BASE = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def seed(store) -> list[dict]:
    """Forty exchanges over four days, two customers, two organisations, mixed statuses; plus events."""
    rows = []
    for i in range(40):
        record = exchange(
            exchange_id=f"x{i:02d}", started_at=BASE - timedelta(hours=2 * i),
            customer="Acme Pty Ltd" if i % 2 == 0 else "Globex Corporation",
            organisation_id="org-a" if i % 4 < 2 else "org-b",
            record_type="invoice" if i % 3 else "credit_note", record_id=str(1000 + i),
            status=[200, 429, 503, 201][i % 4],
            response_body=json.dumps({"InvoiceNumber": f"INV-{1000 + i}"}),
        )
        rows.append(entry_from_message("api.exchanges.v1", "api_exchange", record, b"", None))
    rows.append(entry_from_message("sync.exceptions.v1", "sync_exception",
                                   sync_exception(raised_at=BASE + timedelta(minutes=5), record_id="2001"), b"e1", None))
    rows.append(entry_from_message("xero.write_results.v1", "xero_write_result",
                                   write_result(written_at=BASE + timedelta(minutes=6)), b"e2", None))
    store.insert(rows)
    return rows


def ids(page) -> list[str]:
    return [e["entry_id"] for e in page["entries"]]


def all_pages(store, params) -> list[str]:
    got, cursor = [], None
    while True:
        page = store.page(parse_query({**params, **({"cursor": cursor} if cursor else {})}))
        got += ids(page)
        cursor = page["next_cursor"]
        if not cursor:
            return got


def test_newest_first_and_cursor_paging_covers_everything_once(store):
    rows = seed(store)
    everything = sorted(rows, key=lambda r: (r["at"], r["entry_id"]), reverse=True)
    first = store.page(parse_query({"limit": "7"}))
    assert first["count"] == 7 and first["next_cursor"]
    assert ids(first) == [r["entry_id"] for r in everything[:7]]
    assert first["entries"][0]["at"].startswith("2026-11-20T12:06:00")
    assert all_pages(store, {"limit": "7"}) == [r["entry_id"] for r in everything]


def test_a_page_is_stable_while_new_entries_arrive(store):
    seed(store)
    first = store.page(parse_query({"limit": "5"}))
    store.insert([entry_from_message("api.exchanges.v1", "api_exchange",
                                     exchange(exchange_id="newest", started_at=BASE + timedelta(days=1)), b"", None)])
    second = store.page(parse_query({"limit": "5", "cursor": first["next_cursor"]}))
    assert "newest" not in ids(second) and not set(ids(first)) & set(ids(second))


def test_each_filter(store):
    rows = seed(store)
    by_id = {r["entry_id"]: r for r in rows}

    def check(params, predicate):
        got = set(all_pages(store, params))
        want = {r["entry_id"] for r in rows if predicate(r)}
        assert got == want and want, params

    check({"from": "2026-11-19T12:00:00Z", "to": "2026-11-20T00:00:00Z"},
          lambda r: datetime(2026, 11, 19, 12, tzinfo=timezone.utc) <= r["at"] < datetime(2026, 11, 20, tzinfo=timezone.utc))
    check({"to": "2026-11-18"}, lambda r: r["at"] < datetime(2026, 11, 19, tzinfo=timezone.utc))
    check({"record_type": "credit_note"}, lambda r: r["record_type"] == "credit_note")
    check({"customer": "globex"}, lambda r: "Globex" in r["customer"])
    check({"organisation": "org-b"}, lambda r: r["organisation_id"] == "org-b")
    check({"status": "429"}, lambda r: r["status"] == "429")
    check({"status": "5xx,4xx"}, lambda r: r["status"] in ("429", "503"))
    check({"status": "2xx"}, lambda r: r["status"] in ("200", "201"))
    check({"status": "failed"}, lambda r: r["status"] == "FAILED")
    check({"status": "exception"}, lambda r: r["status"] == "EXCEPTION")
    check({"q": "INV-1004"}, lambda r: "INV-1004" in r["response_body"])
    check({"q": "inv-1004 acme"}, lambda r: r["entry_id"] == "x04")
    check({"q": "no xero contact"}, lambda r: r["topic"] == "sync.exceptions.v1")
    check({"customer": "acme", "organisation": "org-a", "record_type": "invoice", "status": "2xx"},
          lambda r: "Acme" in r["customer"] and r["organisation_id"] == "org-a" and r["record_type"] == "invoice"
          and r["status"] in ("200", "201"))
    assert store.page(parse_query({"customer": "Initech"}))["entries"] == []
    assert by_id  # seeded


def test_one_entry_in_full(store):
    seed(store)
    entry = store.get("x03")
    assert entry["response_body"] == json.dumps({"InvoiceNumber": "INV-1003"})
    assert entry["request_headers"] == {"Content-Type": "application/json"}
    assert entry["status"] == "201" and entry["method"] == "POST"
    assert store.get("no-such-entry") is None


def test_a_redelivered_batch_does_not_double_entries(store):
    rows = seed(store)
    store.insert(rows[:10])
    assert store.count() == len(rows)
    assert len(all_pages(store, {"limit": "1000"})) == len(rows)
    assert len(all_pages(store, {"limit": "3"})) == len(rows)
    exported = list(csv.DictReader(io.StringIO(b"".join(store.export_csv(parse_query({}))).decode())))
    assert sorted(r["entry_id"] for r in exported) == sorted(r["entry_id"] for r in rows)


def test_csv_export_has_every_matching_row_and_column(store):
    rows = seed(store)
    data = b"".join(store.export_csv(parse_query({"customer": "acme", "status": "5xx,4xx"}))).decode()
    table = list(csv.DictReader(io.StringIO(data)))
    want = sorted((r for r in rows if "Acme" in r["customer"] and r["status"] in ("429", "503")),
                  key=lambda r: r["at"], reverse=True)
    assert [t["entry_id"] for t in table] == [r["entry_id"] for r in want]
    assert table[0]["response_body"] == want[0]["response_body"] and table[0]["at"].endswith("Z")
    assert list(table[0]) == list(rows[0])  # every column, in table order


def test_export_is_not_limited_to_one_page(store):
    now = datetime.now(timezone.utc)
    for batch in range(5):  # five parts: the stream comes in several blocks
        store.insert([entry_from_message("api.exchanges.v1", "api_exchange",
                                         exchange(exchange_id=f"bulk{i}", started_at=now - timedelta(seconds=i)), b"", None)
                      for i in range(batch * 500, batch * 500 + 500)])
    chunks = list(store.export_csv(parse_query({})))
    assert len(chunks) > 2
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert [r["entry_id"] for r in rows] == [f"bulk{i}" for i in range(2500)]  # one header, every row, newest first


def test_retention_is_declared_and_follows_the_setting(store):
    assert store.retention_days() == 90
    create = store._rows(Sql("SHOW CREATE TABLE audit.entries"))
    assert "TTL toDateTime(at) + toIntervalDay(90)" in json.dumps(create)
    store.set_retention(30)
    assert store.retention_days() == 30


def test_expired_entries_are_deleted(store):
    store.set_retention(30)
    old = datetime.now(timezone.utc) - timedelta(days=31)
    store.insert([entry_from_message("api.exchanges.v1", "api_exchange", exchange(exchange_id="old", started_at=old), b"", None),
                  entry_from_message("api.exchanges.v1", "api_exchange", exchange(exchange_id="recent"), b"", None)])
    store._command("OPTIMIZE TABLE audit.entries FINAL")  # TTL applies on merge; force one now
    assert store.get("old") is None and store.get("recent") is not None


def test_export_defuses_spreadsheet_formulas_but_search_sees_the_real_text(store):
    store.insert([entry_from_message("api.exchanges.v1", "api_exchange",
                                     exchange(exchange_id="f1", customer="=HYPERLINK(\"http://evil\")",
                                              error="-2+3", response_body="@SUM(A1)"), b"", None),
                  entry_from_message("api.exchanges.v1", "api_exchange",
                                     exchange(exchange_id="f2", customer="Acme = Co"), b"", None)])
    rows = {r["entry_id"]: r for r in csv.DictReader(io.StringIO(
        b"".join(store.export_csv(parse_query({"customer": "=hyperlink"}))).decode()))}
    assert list(rows) == ["f1"]  # the filter matched the stored text, not the defused one
    assert rows["f1"]["customer"] == "'=HYPERLINK(\"http://evil\")"
    assert rows["f1"]["error"] == "'-2+3" and rows["f1"]["response_body"] == "'@SUM(A1)"
    assert rows["f1"]["status"] == "200" and rows["f1"]["duration_ms"] == "42"
    plain = list(csv.DictReader(io.StringIO(b"".join(store.export_csv(parse_query({"customer": "acme"}))).decode())))
    assert plain[0]["customer"] == "Acme = Co"
    assert store.get("f1")["customer"] == "=HYPERLINK(\"http://evil\")"  # the entry itself is unchanged


def test_q_finds_a_word_or_part_of_one_in_any_case_and_its_wildcards_are_plain_text(store):
    def body(i, text):
        return entry_from_message("api.exchanges.v1", "api_exchange",
                                  exchange(exchange_id=f"w{i}", response_body=text, customer="Société Générale SA"), b"", None)

    store.insert([body(1, '{"InvoiceNumber": "INV-100500"}'), body(2, '{"InvoiceNumber": "INV-100501"}'),
                  body(3, '{"Note": "100% paid, ref a_b"}'), body(4, '{"Note": "100 paid, ref axb"}')])

    def found(q):
        return sorted(ids(store.page(parse_query({"q": q}))))

    assert found("inv-100500") == ["w1"] and found("10050") == ["w1", "w2"]  # a part of a word is enough
    assert found("SOCIÉTÉ générale") == ["w1", "w2", "w3", "w4"]  # any case, beyond ASCII too
    assert found("100%") == ["w3"] and found("a_b") == ["w3"]  # % and _ are the characters, not wildcards
    assert found("AXB") == ["w4"]  # shorter than the index's pieces: still found, by reading every row
    assert found("INV-100500 paid") == []  # every word must appear


def test_q_searches_go_through_the_text_index(store):
    seed(store)
    sql = page_sql(parse_query({"q": "INV-1004"}), TABLE)
    assert "idx_search" in json.dumps(store._rows(Sql("EXPLAIN indexes = 1 " + sql.text, sql.params)))


def test_a_table_made_before_the_search_index_gets_it_and_searches_alike(tmp_path):
    old = ChdbStore(tmp_path / "chdb")
    old._command("CREATE DATABASE IF NOT EXISTS audit")
    old._command(create_table_sql(90))  # as an earlier release made it: no search index
    old.insert([entry_from_message("api.exchanges.v1", "api_exchange",
                                   exchange(exchange_id="before", response_body='{"InvoiceNumber": "INV-7"}'), b"", None)])
    assert "idx_search" not in json.dumps(old._rows(Sql(f"SHOW CREATE TABLE {TABLE}")))
    old.open(90)
    try:
        assert "idx_search" in json.dumps(old._rows(Sql(f"SHOW CREATE TABLE {TABLE}")))
        assert ids(old.page(parse_query({"q": "inv-7"}))) == ["before"]
    finally:
        old.close()


def test_control_characters_and_backslashes_in_what_is_searched_are_text(store):
    """An entry id or a filter holding a newline, tab or backslash finds what holds it, and errs on nothing
    (chdb reads query parameters escaped: unescaped, the query failed and the API answered 500)."""
    store.insert([entry_from_message("api.exchanges.v1", "api_exchange", exchange(
        exchange_id="odd", started_at=BASE, customer="Back\\slash\tand tab Pty Ltd"), b"", None)])
    for entry_id in ("a\nb", "tab\there", "back\\slash", "\x08\x1d\r\x0c", "\U000ee7de?\x084\n\x1d"):
        assert store.get(entry_id) is None
    assert ids(store.page(parse_query({"customer": "back\\slash\tand"}))) == ["odd"]
    assert ids(store.page(parse_query({"q": "back\\slash"}))) == ["odd"]
    assert ids(store.page(parse_query({"organisation": "line\nbreak"}))) == []


def test_dates_at_the_ends_of_the_calendar_are_answered_not_failed(store):
    import pytest

    from services.audit.search import QueryError

    rows = seed(store)
    assert len(all_pages(store, {"to": "9999-12-31"})) == len(rows)  # the whole last day: everything
    assert len(all_pages(store, {"from": "0001-01-01"})) == len(rows)
    for params in ({"from": "0001-01-01T00:00:00+01:00"}, {"to": "9999-12-31T23:59:59-01:00"}):
        with pytest.raises(QueryError, match="before year 1 or after 9999"):
            parse_query(params)
