"""ConnectWise as the matcher sees it: invoices with their balance, the payments
listed under an invoice, and applying or removing one. Every exchange goes
through `CwClient`, so it is retried as ConnectWise allows and lands in the
audit log tagged with the Xero payment it is about.

A POST is never repeated by the client after a 5xx or a lost answer (it could
apply a payment twice): the matcher settles from the invoice's payments first.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ..integrations.connectwise.client import CwApiError, CwClient, cond, in_
from .match import CwInvoice
from .ports import CwPayment, Refused, Unanswered

INVOICE_FIELDS = "id,invoiceNumber,type,status,company,balance,total"
CHUNK = 200  # ids per `id in (...)` condition: keeps the URL short


def to_invoice(record: dict) -> CwInvoice:
    company = record.get("company") or {}
    status = record.get("status")
    return CwInvoice(
        int(record["id"]),
        str(record.get("invoiceNumber") or record["id"]),
        Decimal(str(record.get("balance") or 0)),
        status=str((status.get("name") if isinstance(status, dict) else status) or ""),
        kind=str(record.get("type") or "Standard"),
        company_identifier=str(company.get("identifier") or ""),
        company_name=str(company.get("name") or ""),
    )


def to_payment(record: dict) -> CwPayment:
    paid = str(record.get("paymentDate") or "")[:10]
    return CwPayment(
        int(record["id"]),
        str(record.get("type") or ""),
        Decimal(str(record.get("amount") or 0)),
        date.fromisoformat(paid) if paid else None,
    )


def _unanswered(exc: CwApiError) -> bool:
    """No answer, a server error, or rate limits that outlasted the retries: it may yet work."""
    return exc.status == 0 or exc.status == 429 or exc.status >= 500


def _why(exc: CwApiError) -> str:
    """ConnectWise's own words: the field errors when it lists them, else its message."""
    fields = [
        f"{e.get('field') or e.get('resource') or ''}: {e.get('message', '')}".strip(": ")
        for e in exc.errors
        if isinstance(e, dict)
    ]
    return "; ".join(fields) or exc.message or f"HTTP {exc.status}"


class CwGateway:
    def __init__(self, client: CwClient):
        self.client = client

    def invoices(self, ids: list[int]) -> dict[int, CwInvoice]:
        found: dict[int, CwInvoice] = {}
        for start in range(0, len(ids), CHUNK):
            for record in self.client.all(
                "finance/invoices",
                conditions=in_("id", ids[start : start + CHUNK]),
                fields=INVOICE_FIELDS,
                tags={"record_type": "xero_payment"},
            ):
                found[int(record["id"])] = to_invoice(record)
        return found

    def by_number(self, number: str) -> CwInvoice | None:
        found = list(
            self.client.all(
                "finance/invoices",
                conditions=cond("invoiceNumber", "=", number),
                fields=INVOICE_FIELDS,
                tags={"record_type": "xero_payment"},
            )
        )
        return to_invoice(found[0]) if len(found) == 1 else None

    def payments(self, cw_invoice_id: int) -> list[CwPayment]:
        try:
            return [
                to_payment(p)
                for p in self.client.all(
                    f"finance/invoices/{int(cw_invoice_id)}/payments", tags={"record_type": "xero_payment"}
                )
            ]
        except CwApiError as exc:
            if exc.status == 404:  # the invoice is gone, and its payments with it
                return []
            raise

    def apply(self, cw_invoice_id: int, amount: Decimal, paid_on: date | None, tags: dict) -> int:
        # The amount goes as decimal text: json cannot write a Decimal, and a float could round.
        body = {"type": "Payment", "amount": f"{amount:.2f}"}
        if paid_on is not None:
            body["paymentDate"] = f"{paid_on.isoformat()}T00:00:00Z"
        try:
            response = self.client.request(
                "POST", f"finance/invoices/{int(cw_invoice_id)}/payments", json_body=body, tags=tags
            )
        except CwApiError as exc:
            if _unanswered(exc):
                raise Unanswered(str(exc)) from exc
            raise Refused(_why(exc)) from exc
        return int(response.json()["id"])

    def remove(self, cw_invoice_id: int, cw_payment_id: int, tags: dict) -> None:
        try:
            self.client.request(
                "DELETE", f"finance/invoices/{int(cw_invoice_id)}/payments/{int(cw_payment_id)}", tags=tags
            )
        except CwApiError as exc:
            if exc.status == 404:
                return  # gone already: what a reversal wants
            raise Unanswered(str(exc)) from exc
