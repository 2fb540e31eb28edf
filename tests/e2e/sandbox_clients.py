"""Clients for the sandbox as a test sees it: ConnectWise with the API member's
keys, and Xero with a token that reaches all three organisations."""
from __future__ import annotations

import base64

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
        self.tenants = {o["name"]: o["tenant_id"] for o in xero["organisations"]}

    def tenant(self, short: str) -> str:
        return next(t for name, t in self.tenants.items() if short.lower() in name.lower())

    def invoices(self, short: str, number: str) -> list[dict]:
        resp = self.client.get("/Invoices", params={"InvoiceNumbers": number}, headers={"xero-tenant-id": self.tenant(short)})
        resp.raise_for_status()
        return resp.json()["Invoices"]

    def credit_notes(self, short: str, number: str) -> list[dict]:
        resp = self.client.get("/CreditNotes", params={"where": f'CreditNoteNumber=="{number}"'},
                               headers={"xero-tenant-id": self.tenant(short)})
        resp.raise_for_status()
        return resp.json()["CreditNotes"]

    def anywhere(self, number: str) -> dict[str, list[dict]]:
        """Invoices with this number in every organisation (to prove nothing went astray)."""
        return {short: self.invoices(short, number) for short in ("adelaide", "sydney", "holdings")}
