"""Adopting what Xero already holds, before creating anything.

An MSP that installs Connect Zero has years of documents in Xero, written by hand or
by the tool it is leaving, and runs both side by side for a month-end before cutting
over. So before a document is created, the writer looks in Xero for one that already
stands for it: the same number (and, for a bill, whose numbers Xero does not keep
unique, the same contact). Read with Xero's filtered, paged reads (`InvoiceNumbers`,
`where CreditNoteNumber==`), as many numbers a call as fit its query, inside the pacer's budget.

- The same contact and a total within rounding (a cent a line, `mapping/rounding.py`),
  not voided: the record is linked to it (ADOPTED, nothing written). From then on it is
  updated like any document Connect Zero wrote.
- A candidate that differs (other contact, other total, other currency, voided): an
  `adoption_mismatch` exception showing both sides, and nothing written: never a
  second document.
- None: the document is created.

`judge` is pure; `find_candidates` does the reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ..common.record_kinds import RecordKind
from ..integrations.xero.client import XeroClient, XeroOrg, xero_date
from ..mapping.rounding import CENT, tolerance
from .batching import WriteRequest

KIND = "adoption_mismatch"
GONE = "DELETED"  # a deleted document no longer holds its number


@dataclass(frozen=True)
class Adopt:
    document: dict

    @property
    def xero_id(self) -> str:
        return str(self.document.get("InvoiceID") or self.document.get("CreditNoteID"))


@dataclass(frozen=True)
class Differs:
    document: dict
    differences: list[str]
    details: dict[str, str] = field(default_factory=dict)  # both sides, by name
    message: str = ""


def number_of(req: WriteRequest) -> str:
    return str(req.body.get(req.kind.xero.number_field) or "")


def _decimal(value) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


def _contact(doc: dict) -> tuple[str, str]:
    """(id, name) of a document's contact, lower-cased for comparing."""
    contact = doc.get("Contact") or {}
    return str(contact.get("ContactID") or "").lower(), str(contact.get("Name") or "").strip().lower()


def _same_contact(req: WriteRequest, doc: dict) -> bool:
    wanted_id, wanted_name = _contact(req.body)
    held_id, held_name = _contact(doc)
    return wanted_id == held_id if wanted_id else bool(wanted_name) and wanted_name == held_name


def _differences(req: WriteRequest, doc: dict) -> list[str]:
    found = []
    if not _same_contact(req, doc):
        found.append("contact")
    total = _decimal(doc.get("Total"))
    if req.total is not None and (
        total is None or abs(total - abs(req.total)) > tolerance(len(req.body.get("LineItems") or []))
    ):
        found.append("total")
    wanted_currency, held_currency = req.body.get("CurrencyCode"), doc.get("CurrencyCode")
    if wanted_currency and held_currency and wanted_currency != held_currency:
        found.append("currency")
    if doc.get("Status") == "VOIDED":
        found.append("status")
    return found


def _money(value: Decimal | None) -> str:
    return "" if value is None else str(abs(value).quantize(CENT, ROUND_HALF_UP))


def _sides(req: WriteRequest, doc: dict) -> dict[str, str]:
    contact = doc.get("Contact") or {}
    wanted = req.body.get("Contact") or {}
    return {
        "number": number_of(req),
        "xero_id": str(doc.get("InvoiceID") or doc.get("CreditNoteID") or ""),
        "connectwise_total": _money(req.total),
        "xero_total": _money(_decimal(doc.get("Total"))),
        "connectwise_contact": str(wanted.get("ContactID") or wanted.get("Name") or ""),
        "xero_contact": str(contact.get("ContactID") or ""),
        "xero_contact_name": str(contact.get("Name") or ""),
        "connectwise_date": str(req.body.get("Date") or ""),
        "xero_date": xero_date(doc.get("Date")) or "",
        "connectwise_currency": str(req.body.get("CurrencyCode") or ""),
        "xero_currency": str(doc.get("CurrencyCode") or ""),
        "xero_status": str(doc.get("Status") or ""),
    }


def _message(req: WriteRequest, org_id: str, differences: list[str], sides: dict[str, str], count: int) -> str:
    held_contact = sides["xero_contact_name"] or sides["xero_contact"]
    said = {
        "contact": f"contact {sides['connectwise_contact'] or '?'} in ConnectWise, {held_contact} in Xero",
        "total": f"total {sides['connectwise_total']} in ConnectWise, {sides['xero_total']} in Xero",
        "currency": f"currency {sides['connectwise_currency']} in ConnectWise, {sides['xero_currency']} in Xero",
        "status": "VOIDED in Xero",
        "several": f"{count} documents in Xero match it",
    }
    what = "; ".join(said[d] for d in differences)
    others = f" ({count} documents in Xero carry that number)" if count > 1 and "several" not in differences else ""
    label = req.kind.label[:1].upper() + req.kind.label[1:]
    return (
        f"{label} {sides['number']} (ConnectWise id {req.cw_id}) is already in Xero organisation "
        f"{org_id} as {sides['xero_id']}{others}, but it differs: {what}. Nothing was written, so Xero does not "
        "get a second one: correct it in ConnectWise or in Xero (or void or delete the one in Xero), "
        "then force-sync it"
    )


def judge(req: WriteRequest, candidates: list[dict], org_id: str) -> Adopt | Differs | None:
    """What to do instead of creating `req`, given the Xero documents carrying its number."""
    doc_type = req.body.get("Type")
    mine = [
        d
        for d in candidates
        if str(d.get(req.kind.xero.number_field) or "") == number_of(req)
        and d.get("Status") != GONE
        and (doc_type is None or d.get("Type") == doc_type)
    ]
    if req.kind.xero.number_unique is False:
        mine = [d for d in mine if _same_contact(req, d)]  # another supplier's bill may carry the same number
    if not mine:
        return None
    judged = [(d, _differences(req, d)) for d in mine]
    exact = [d for d, found in judged if not found]
    if len(exact) == 1:
        return Adopt(exact[0])
    doc, differences = min(judged, key=lambda pair: len(pair[1]))
    if not differences:  # several match: which one stands for it is not ours to guess
        differences = ["several"]
    sides = _sides(req, doc)
    return Differs(
        doc,
        differences,
        {**sides, "differences": ", ".join(differences)},
        _message(req, org_id, differences, sides, len(mine)),
    )


def find_candidates(client: XeroClient, org: XeroOrg, requests: list[WriteRequest]) -> dict[str, list[dict]]:
    """The Xero documents carrying each request's number, by number (filtered, paged reads)."""
    found: dict[str, list[dict]] = {}
    by_endpoint: dict[str, list[str]] = {}
    for req in requests:
        by_endpoint.setdefault(req.endpoint, []).append(number_of(req))
    for endpoint, numbers in by_endpoint.items():
        spec = RecordKind.INVOICE.xero if endpoint == "Invoices" else RecordKind.CREDIT_NOTE.xero
        unique = sorted({n for n in numbers if n})
        for doc in client.find_by_numbers(org, endpoint, unique, {"record_type": "adoption"}) if unique else []:
            found.setdefault(str(doc.get(spec.number_field) or ""), []).append(doc)
    return found
