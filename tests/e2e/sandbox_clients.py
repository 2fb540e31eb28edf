"""Clients for the sandbox as a test sees it: ConnectWise with the API member's
keys, and Xero with a token that reaches every organisation."""
from __future__ import annotations

import base64
import time

import httpx


def connectwise(info: dict) -> httpx.Client:
    cw = info["connectwise"]
    basic = base64.b64encode(f"{cw['company']}+{cw['public_key']}:{cw['private_key']}".encode()).decode()
    return httpx.Client(base_url=cw["url"], timeout=30,
                        headers={"Authorization": f"Basic {basic}", "clientId": cw["client_id"]})


class XeroReader:
    def __init__(self, info: dict):
        xero = info["xero"]
        root = xero["token_url"].rsplit("/connect/token", 1)[0]
        code = httpx.get(f"{root}/_sandbox/authorize", timeout=10).json()["code"]
        token = httpx.post(xero["token_url"], data={"grant_type": "authorization_code", "code": code,
                                                    "redirect_uri": "http://localhost/cb"},
                           auth=(xero["client_id"], xero["client_secret"]), timeout=10).json()["access_token"]
        self.client = httpx.Client(base_url=xero["url"], timeout=30,
                                   headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        self.organisations = xero["organisations"]

    def call(self, method: str, path: str, short: str, **kw) -> dict:
        """A call that waits out the organisation's rate limit, which the product's own calls share:
        Xero answers 429 with Retry-After (before acting, so a retry is safe), and a good client
        honours it. Any other answer but 200 fails the test with Xero's words."""
        for _ in range(10):
            resp = self.client.request(method, path, headers={"xero-tenant-id": self.tenant(short)}, **kw)
            if resp.status_code != 429:
                assert resp.status_code == 200, f"{method} {path}: {resp.status_code} {resp.text[:1000]}"
                return resp.json()
            time.sleep(min(float(resp.headers.get("Retry-After", "5")), 30))
        raise AssertionError(f"{method} {path}: still rate limited")

    def get(self, path: str, short: str, params: dict | None = None) -> dict:
        return self.call("GET", path, short, params=params)

    def tenant(self, short: str) -> str:
        return next(o["tenant_id"] for o in self.organisations
                    if o.get("short") == short or short.lower() in o["name"].lower())

    def invoices(self, short: str, number: str) -> list[dict]:
        return self.get("/Invoices", short, {"InvoiceNumbers": number})["Invoices"]

    def credit_notes(self, short: str, number: str) -> list[dict]:
        return self.get("/CreditNotes", short, {"where": f'CreditNoteNumber=="{number}"'})["CreditNotes"]

    def one(self, short: str, endpoint: str, xero_id: str) -> dict:
        return self.get(f"/{endpoint}/{xero_id}", short)[endpoint][0]

    def payments(self, short: str, where: str) -> list[dict]:
        return self.get("/Payments", short, {"where": where})["Payments"]

    def anywhere(self, number: str) -> dict[str, list[dict]]:
        """Invoices with this number in every organisation (to prove nothing went astray)."""
        return {short: self.invoices(short, number) for short in ("adelaide", "sydney", "holdings")}


def adelaide_customer(msp):
    """A customer of the Adelaide office, untagged, with a Xero contact in Adelaide."""
    with_contact = {c.company_id for c in msp.xero_contacts if c.organisation == "adelaide"}
    return next(c for c in msp.companies if not c.is_vendor and c.location_id == 1 and not c.xero_entity
                and c.id in with_contact)


def new_invoice(cw: httpx.Client, company_id: int, lines: list[tuple[int, str, str]], kind: str = "Standard") -> dict:
    """An invoice (or credit memo) made in ConnectWise with its product lines; as ConnectWise now has it."""
    resp = cw.post("/finance/invoices", json={"type": kind, "company": {"id": company_id}, "location": {"id": 1},
                                              "taxCode": {"id": 1}})
    assert resp.status_code == 201, resp.text
    invoice = resp.json()
    for item_id, quantity, price in lines:
        added = cw.post("/procurement/products", json={"invoice": {"id": invoice["id"]}, "catalogItem": {"id": item_id},
                                                      "quantity": quantity, "price": price})
        assert added.status_code == 201, added.text
    return cw.get(f"/finance/invoices/{invoice['id']}").json()


def record(admin: httpx.Client, record_type: str, cw_id) -> dict | None:
    """The record as GET /api/records shows it."""
    items = admin.get("/api/records", params={"record_type": record_type, "q": str(cw_id)}).json()["items"]
    return next((r for r in items if str(r["cw_id"]) == str(cw_id)), None)
