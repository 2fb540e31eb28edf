"""Paging through more than 10,000 invoices over a real socket, both ways,
following the Link header as a client does."""
import re
import time

import httpx
import pytest

from services.sandbox.connectwise.app import create_app
from services.sandbox.connectwise.state import CwState
from tests.sandbox.cw_support import ManualClock, Server, auth_headers

pytestmark = pytest.mark.integration

LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


def links(response: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}


@pytest.fixture(scope="module")
def server():
    state = CwState.from_seed(7, 34, clock=ManualClock())  # 10,200 invoices
    with Server(create_app(state)) as srv:
        srv.state = state
        yield srv


def test_numbered_pages_follow_link_next_to_the_end(server):
    expected = len(server.state.c["invoices"])
    assert expected >= 10_000
    seen, url, pages = [], f"{server.base}/finance/invoices?pageSize=1000&orderBy=id%20asc", 0
    started = time.monotonic()
    with httpx.Client(headers=auth_headers(), timeout=30) as client:
        first = client.get(url)
        assert set(links(first)) == {"next", "last"}
        assert links(first)["last"].endswith("&page=11") and "orderBy=id+asc" in links(first)["last"]
        response = first
        while True:
            assert response.status_code == 200
            seen += [row["id"] for row in response.json()]
            pages += 1
            nxt = links(response).get("next")
            if nxt is None:
                break
            response = client.get(nxt)
        assert "prev" in links(response) and "first" in links(response)
    elapsed = time.monotonic() - started
    assert pages == 11 and len(seen) == expected and len(set(seen)) == expected and seen == sorted(seen)
    assert elapsed < 20, f"paging 10,000 invoices took {elapsed:.1f}s"


def test_forward_only_pages_follow_page_id(server):
    expected = sorted(server.state.c["invoices"].ids)
    headers = {**auth_headers(), "pagination-type": "forward-only"}
    seen, url = [], f"{server.base}/finance/invoices?pageSize=700&fields=id,total"
    with httpx.Client(headers=headers, timeout=30) as client:
        while url:
            response = client.get(url)
            assert response.status_code == 200
            rows = response.json()
            assert all(set(r) == {"id", "total"} for r in rows)
            seen += [r["id"] for r in rows]
            url = links(response).get("next")
            if url:
                assert f"pageId={rows[-1]['id']}" in url and "fields=id%2Ctotal" in url
                assert set(links(response)) == {"next"}
    assert seen == expected


def test_forward_only_with_conditions_and_a_record_added_mid_way(server):
    headers = {**auth_headers(), "pagination-type": "forward-only"}
    conditions = 'type = "Agreement"'
    with httpx.Client(base_url=server.base, headers=headers, timeout=30) as client:
        first = client.get("/finance/invoices", params={"conditions": conditions, "pageSize": 500})
        # An invoice raised while the client pages is picked up: it has a higher id.
        added = client.post("/finance/invoices", json={"type": "Agreement", "company": {"id": 250}})
        assert added.status_code == 201
        seen = [r["id"] for r in first.json()]
        url = links(first).get("next")
        while url:
            response = client.get(url)
            seen += [r["id"] for r in response.json()]
            url = links(response).get("next")
        total = client.get("/finance/invoices/count", params={"conditions": conditions}).json()["count"]
    assert added.json()["id"] in seen and len(seen) == total == len(set(seen))


def test_page_beyond_the_end_is_empty(server):
    with httpx.Client(base_url=server.base, headers=auth_headers()) as client:
        response = client.get("/finance/invoices", params={"page": 500, "pageSize": 1000})
        assert response.status_code == 200 and response.json() == []
