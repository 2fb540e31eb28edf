"""Callbacks delivered to a real local HTTP receiver when records change."""
import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random

import pytest

from services.sandbox.connectwise import mutator
from services.sandbox.connectwise.app import create_app
from services.sandbox.connectwise.state import CwState
from tests.sandbox.cw_support import ManualClock, Server

pytestmark = pytest.mark.integration


class Receiver:
    """A plain HTTP server that keeps every POSTed JSON body."""

    def __init__(self) -> None:
        self.received: queue.Queue = queue.Queue()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers["Content-Length"])
                outer.received.put((self.path, json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def take(self, timeout: float = 5.0):
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.close()


@pytest.fixture
def server():
    state = CwState.from_seed(3, 0, clock=ManualClock())
    app = create_app(state)
    with Server(app) as srv:
        srv.state, srv.app = state, app
        yield srv


def test_registered_callback_gets_added_updated_deleted(server, receiver):
    with server.client() as cw:
        reg = cw.post("/system/callbacks", json={"url": f"{receiver.url}/cw/invoices", "objectId": 0,
                                                 "type": "Invoice", "level": "All", "description": "sync"})
        assert reg.status_code == 201 and reg.json()["id"] >= 1
        assert cw.get("/system/callbacks").json()[0]["url"] == f"{receiver.url}/cw/invoices"
        created = cw.post("/finance/invoices", json={"company": {"id": 250}}).json()
        path, message = receiver.take()
        assert path == "/cw/invoices"
        assert message["Action"] == "added" and message["Type"] == "invoice" and message["ID"] == created["id"]
        entity = json.loads(message["Entity"])  # the record, as a JSON string
        assert entity["invoiceNumber"] == created["invoiceNumber"] and entity["_info"]["lastUpdated"]
        cw.patch(f"/finance/invoices/{created['id']}", json=[{"op": "replace", "path": "reference", "value": "x"}])
        assert receiver.take()[1]["Action"] == "updated"
        cw.delete(f"/finance/invoices/{created['id']}")
        assert receiver.take()[1]["Action"] == "deleted"
        assert cw.delete(f"/system/callbacks/{reg.json()['id']}").status_code == 204
        cw.post("/finance/invoices", json={"company": {"id": 250}})
    with pytest.raises(queue.Empty):
        receiver.take(timeout=0.5)


def test_owner_level_callback_only_for_its_record_and_mutator_edits_fire(server, receiver):
    with server.client() as cw:
        target = cw.get("/finance/invoices", params={"conditions": 'status/name = "Sent"', "pageSize": 1}).json()[0]
        cw.post("/system/callbacks", json={"url": receiver.url, "objectId": target["id"], "type": "invoice",
                                           "level": "Owner"})
        cw.post("/finance/invoices", json={"company": {"id": 250}})  # another record: no message
        with pytest.raises(queue.Empty):
            receiver.take(timeout=0.3)
        product = cw.get("/procurement/products", params={"conditions": f"invoice/id = {target['id']}"}).json()[0]
    server.state.clock.advance(minutes=3)
    server.state.update_product(product["id"], quantity=product["quantity"] + 1)
    message = receiver.take()[1]
    assert message["ID"] == target["id"] and message["Action"] == "updated"
    assert json.loads(message["Entity"])["total"] != target["total"]


def test_mutator_changes_reach_a_type_wide_callback(server, receiver):
    server.state.add_callback({"url": receiver.url, "objectId": 0, "type": "Invoice", "level": "All"})
    changes = [mutator.mutate_once(server.state, Random(5)) for _ in range(5)]
    ids = {json.loads(receiver.take()[1]["Entity"])["id"] for _ in range(5)}
    assert {c.get("invoiceId") for c in changes} & ids


def test_unreachable_callback_url_is_counted_and_does_not_block(server):
    with server.client() as cw:
        cw.post("/system/callbacks", json={"url": "http://127.0.0.1:9/nowhere", "type": "Invoice"})
        assert cw.post("/finance/invoices", json={"company": {"id": 250}}).status_code == 201
    dispatcher = server.app.state.callbacks
    dispatcher.join()
    assert dispatcher.failed >= 1


def test_bad_registration_names_the_field(server):
    with server.client() as cw:
        response = cw.post("/system/callbacks", json={"url": "ftp://x", "type": "Invoice"})
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == "url"
