"""Filter parsing and SQL building, without a database."""
from datetime import datetime, timezone

import pytest

from services.audit.search import SEARCH_TEXT, AuditQuery, Cursor, QueryError, page_result, page_sql, parse_query, where


def test_dates_are_utc_and_a_bare_to_date_covers_the_whole_day():
    query = parse_query({"from": "2026-11-01", "to": "2026-11-02"})
    assert query.start == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert query.end == datetime(2026, 11, 3, tzinfo=timezone.utc)
    offset = parse_query({"from": "2026-11-01T10:00:00 02:00"})  # "+" arrived unencoded as a space
    assert offset.start == datetime(2026, 11, 1, 8, tzinfo=timezone.utc)
    assert parse_query({"from": "2026-11-01T10:00:00Z"}).start == datetime(2026, 11, 1, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("params,field", [
    ({"from": "yesterday"}, "from"),
    ({"to": "2026-13-01"}, "to"),
    ({"from": "2026-11-02", "to": "2026-11-01"}, "to"),
    ({"record_type": "invoices"}, "record_type"),
    ({"status": "2xx;drop table"}, "status"),
    ({"limit": "0"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"cursor": "%%%"}, "cursor"),
    ({"cursor": Cursor(1, "x").encode()[:-2]}, "cursor"),
    ({"q": " ".join("w" * 9)}, "q"),
])
def test_bad_filters_name_the_parameter(params, field):
    with pytest.raises(QueryError) as caught:
        parse_query(params)
    assert caught.value.name == field


def test_values_travel_as_parameters_never_in_the_sql():
    sneaky = "x' OR 1=1 --"
    sql = where(parse_query({"customer": sneaky, "q": sneaky.split()[0], "organisation": sneaky}))
    assert sneaky not in sql.text and "OR 1=1" not in sql.text
    assert sneaky in sql.params.values()


def test_status_accepts_codes_classes_and_outcomes():
    sql = where(parse_query({"status": "429,5xx,failed"}))
    assert "startsWith(status" in sql.text
    assert set(sql.params.values()) == {"429", "5", "failed"}


def test_every_q_word_must_match_somewhere_and_its_wildcards_are_literal():
    sql = where(parse_query({"q": "INV-1 acme"}))
    assert sql.text.count(" AND ") == 1 and sql.text.count(f"{SEARCH_TEXT} LIKE concat('%', lowerUTF8(") == 2
    assert set(sql.params.values()) == {"INV-1", "acme"}
    odd = where(parse_query({"q": "100% a_b c\\d"}))
    assert set(odd.params.values()) == {"100\\%", "a\\_b", "c\\\\d"}


def test_cursor_round_trips_and_pages_say_whether_there_is_more():
    cursor = Cursor(1764000000123, "abc-def")
    assert Cursor.decode(cursor.encode()) == cursor
    rows = [{"entry_id": f"e{i}", "at_ms": 1000 - i} for i in range(3)]
    page = page_result([dict(r) for r in rows], limit=2)
    assert page["count"] == 2 and Cursor.decode(page["next_cursor"]) == Cursor(999, "e1")
    assert "at_ms" not in page["entries"][0]
    assert page_result([dict(r) for r in rows], limit=3)["next_cursor"] is None


def test_page_sql_is_newest_first_and_fetches_one_extra_row():
    sql = page_sql(AuditQuery(limit=10), "audit.entries")
    assert "ORDER BY at DESC, entry_id DESC LIMIT 11" in sql.text


def test_a_page_drops_an_unmerged_duplicate_and_still_offers_the_next_page():
    rows = [{"entry_id": "a", "at_ms": 5}, {"entry_id": "a", "at_ms": 5}, {"entry_id": "b", "at_ms": 4}]
    page = page_result(rows, limit=2)
    assert [r["entry_id"] for r in page["entries"]] == ["a", "b"] and page["count"] == 2
    assert Cursor.decode(page["next_cursor"]) == Cursor(4, "b")  # fetched limit + 1: there may be more
