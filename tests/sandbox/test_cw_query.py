"""List-query logic without I/O: parameters, ordering, pages, links, fields."""
import pytest

from services.sandbox.connectwise.errors import CwError
from services.sandbox.connectwise.query import (
    cut_page, link_header, parse_list_query, project, select)
from services.sandbox.connectwise.store import Collection


def collection(n: int) -> Collection:
    col = Collection("invoices", {("lastupdated",): ("_info", "lastUpdated")}, (("id",), ("company", "id")))
    for i in range(1, n + 1):
        col.put({"id": i, "name": f"n{i % 7}", "company": {"id": i % 3, "name": "c"}, "_info": {"lastUpdated": None}})
    return col


def test_page_size_limits_and_defaults():
    assert parse_list_query({}, {}).page_size == 25
    assert parse_list_query({"PageSize": "1000"}, {}).page_size == 1000
    with pytest.raises(CwError, match="pageSize must be between 1 and 1000"):
        parse_list_query({"pageSize": "1001"}, {})
    with pytest.raises(CwError, match="page must be a whole number"):
        parse_list_query({"page": "two"}, {})


def test_order_by_several_fields_and_directions():
    col = collection(20)
    rows = select(col, parse_list_query({"orderBy": "name desc, id asc"}, {}))
    keys = [(r["name"], r["id"]) for r in rows]
    assert keys == sorted(keys, key=lambda k: (-int(k[0][1:]), k[1]))
    with pytest.raises(CwError, match="orderBy"):
        parse_list_query({"orderBy": "name sideways"}, {})
    with pytest.raises(CwError, match="unknown field colour"):
        select(col, parse_list_query({"orderBy": "colour"}, {}))


def test_numbered_pages_and_links():
    rows = select(collection(95), parse_list_query({}, {}))
    first = cut_page(rows, parse_list_query({"pageSize": "10"}, {}))
    assert [r["id"] for r in first.rows] == list(range(1, 11))
    assert set(first.links) == {"next", "last"} and first.links["last"]["page"] == 10
    middle = cut_page(rows, parse_list_query({"pageSize": "10", "page": "5"}, {}))
    assert set(middle.links) == {"first", "prev", "next", "last"}
    last = cut_page(rows, parse_list_query({"pageSize": "10", "page": "10"}, {}))
    assert [r["id"] for r in last.rows] == list(range(91, 96)) and "next" not in last.links


def test_forward_only_pages_by_id():
    rows = select(collection(30), parse_list_query({"conditions": "company/id = 1"}, {}))
    query = parse_list_query({"pageSize": "4", "pageId": "10"}, {"pagination-type": "forward-only"})
    page = cut_page(rows, query)
    assert [r["id"] for r in page.rows] == [13, 16, 19, 22]
    assert page.links == {"next": {"pageId": 22, "pageSize": 4}}
    with pytest.raises(CwError, match="forward-only paging orders by id only"):
        cut_page(rows, parse_list_query({"orderBy": "name"}, {"pagination-type": "forward-only"}))


def test_link_header_keeps_other_parameters():
    header = link_header("http://h/x", {"conditions": 'a = "b"', "page": "2"}, {"next": {"page": 3, "pageSize": 5}})
    assert header == '<http://h/x?conditions=a+%3D+%22b%22&pageSize=5&page=3>; rel="next"'  # page last, as ConnectWise writes it


def test_index_narrowing_gives_the_same_answer_as_a_scan():
    col = collection(50)
    by_index = select(col, parse_list_query({"conditions": "company/id = 2 and id > 10"}, {}))
    by_scan = [r for r in col.all() if r["company"]["id"] == 2 and r["id"] > 10]
    assert by_index == by_scan and by_index


def test_project_keeps_only_requested_paths():
    record = {"id": 1, "total": 5, "company": {"id": 2, "name": "c"}, "_info": {"lastUpdated": "t"}}
    assert project(record, (("id",), ("company", "name"))) == {"id": 1, "company": {"name": "c"}}


def test_money_renders_with_its_cents_and_nulls_are_left_out():
    from datetime import datetime, timezone
    from decimal import Decimal

    from services.sandbox.connectwise.render import to_json
    text = to_json({"total": Decimal("12.50"), "credit": None, "balance": Decimal("-0.10"), "note": "12.50",
                    "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)}).decode()
    assert text == '{"total":12.50,"balance":-0.10,"note":"12.50","at":"2026-01-02T03:04:05Z"}'
