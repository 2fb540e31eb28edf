"""A ConnectWise invoice, credit memo or purchase order -> the Xero element to write.

Input is the record as decoded from cw_invoice_changed / cw_purchase_order_changed
plus one organisation's mapping tables and catalog. The output is either an
`XeroDocument` (the element, with money as strings) or the list of every
`MappingProblem` found, each naming the field and value that could not be
mapped, so one exception tells finance everything to fix at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from ..common.natural_key import NaturalKey
from ..common.record_kinds import RecordKind
from .contacts import ContactMatch, match_contact
from .currency import currency_fields
from .lock_dates import Dating, dating
from .model import MappingProblem, OrgMapping, side_of
from .rounding import xero_line_amount
from .totals import settle_lines

__all__ = [
    "MappingProblem",
    "XeroDocument",
    "deletion",
    "money",
    "natural_key",
    "record_date",
    "record_kind",
    "record_label",
    "translate",
]

CENT = Decimal("0.01")
ZERO = Decimal("0")
CREATE_STATUSES = ("DRAFT", "AUTHORISED")
ACCOUNT_CLASS_OF_SIDE = {"sales": "REVENUE", "purchases": "EXPENSE"}


@dataclass(frozen=True)
class XeroDocument:
    endpoint: str  # Invoices | CreditNotes
    element: dict
    natural_key: str
    subtotal: Decimal
    total_tax: Decimal
    total: Decimal
    contact_method: str


@dataclass(frozen=True)
class _Line:
    field: str  # where it came from, e.g. "lines[2]"
    description: str
    quantity: Decimal
    unit: Decimal
    catalog_item: str | None
    product_class: str | None
    taxable: bool


def money(value: Decimal) -> str:
    """Two decimals, or four when the amount really has sub-cent precision."""
    two = value.quantize(CENT, ROUND_HALF_UP)
    return str(two if two == value else value.quantize(Decimal("0.0001"), ROUND_HALF_UP))


def record_kind(record: dict) -> RecordKind:
    if "po_number" in record:
        return RecordKind.PROCUREMENT
    if record.get("record_type") == RecordKind.CREDIT_NOTE or record.get("invoice_type") == "CreditMemo":
        return RecordKind.CREDIT_NOTE
    return RecordKind.INVOICE


def record_label(record: dict) -> str:
    kind = record_kind(record)
    number = record.get("po_number") if kind is RecordKind.PROCUREMENT else record.get("invoice_number")
    return f"{kind.label} {number} (ConnectWise id {record.get('cw_id')})"


def _iso_date(value: str | None, field: str, problems: list) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        problems.append(MappingProblem("bad_record", field, value, f"{field} {value!r} is not a date"))
        return None


def _lines(record: dict, kind: str) -> list[_Line]:
    if kind is RecordKind.PROCUREMENT:
        record_taxed = record["sales_tax"] != ZERO
        lines = [
            _Line(
                f"lines[{i}]",
                line["description"],
                line["quantity"],
                line["unit_cost"],
                line.get("product"),
                line.get("product_class"),
                line["tax"] != ZERO if line.get("tax") is not None else record_taxed,
            )
            for i, line in enumerate(record.get("lines") or [])
            if not line.get("canceled")
        ]
        if record.get("freight_cost"):
            lines.append(
                _Line("freight_cost", "Freight", Decimal(1), record["freight_cost"], None, "freight", record_taxed)
            )
    else:
        lines = [
            _Line(
                f"lines[{i}]",
                line["description"],
                line["quantity"],
                line["price"],
                line.get("catalog_item"),
                line.get("product_class"),
                line.get("taxable", True),
            )
            for i, line in enumerate(record.get("lines") or [])
        ]
    if not lines:
        # An invoice without product lines (an agreement invoice, say) still carries its subtotal.
        lines = [
            _Line(
                "subtotal",
                f"ConnectWise {record_label(record)}",
                Decimal(1),
                record["subtotal"],
                None,
                None,
                record["sales_tax"] != ZERO,
            )
        ]
    if kind is RecordKind.CREDIT_NOTE and record["total"] < ZERO:
        # ConnectWise credit memos carry negative amounts; Xero credit notes carry positive ones.
        lines = [
            _Line(
                line.field,
                line.description,
                line.quantity,
                -line.unit,
                line.catalog_item,
                line.product_class,
                line.taxable,
            )
            for line in lines
        ]
    return lines


def _account(org: OrgMapping, side: str, line: _Line, problems: list) -> str | None:
    """Catalog item first (the finest grain), then product class, then the '*' fallback."""
    source = line.product_class or ""
    code = (
        (line.catalog_item and org.accounts.get((side, line.catalog_item)))
        or org.accounts.get((side, source))
        or org.accounts.get((side, "*"))
    )
    item = f"catalog item {line.catalog_item!r}, " if line.catalog_item else ""
    if code is None:
        problems.append(
            MappingProblem(
                "unknown_account",
                f"{line.field}.product_class",
                source,
                f"no {side} account mapped for {item}product class {source!r} (and no '*' fallback) in organisation "
                f"{org.organisation_id}",
            )
        )
        return None
    account = org.catalog.accounts.get(code)
    if account is None or account.status != "ACTIVE":
        problems.append(
            MappingProblem(
                "unknown_account",
                f"{line.field}.product_class",
                source,
                f"account code {code} (mapped from {item}product class {source!r}) is not an active account in Xero "
                f"organisation {org.organisation_id}",
            )
        )
        return None
    return code


def _tax(org: OrgMapping, side: str, tax_code: str | None, line: _Line, code: str | None, problems: list):
    source = (tax_code or "") if line.taxable else "exempt"
    tax_type = org.tax.get((side, source)) or org.tax.get((side, "*"))
    if tax_type is None:
        problems.append(
            MappingProblem(
                "tax_mismatch",
                "tax_code" if line.taxable else f"{line.field}.taxable",
                source,
                f"no {side} Xero tax type mapped for ConnectWise tax code {source!r} in organisation "
                f"{org.organisation_id}",
            )
        )
        return None, None
    rate = org.catalog.tax_rates.get(tax_type)
    if rate is None or rate.status != "ACTIVE":
        problems.append(
            MappingProblem(
                "tax_mismatch",
                "tax_code",
                source,
                f"tax type {tax_type} (mapped from {source!r}) is not an active tax rate in Xero organisation "
                f"{org.organisation_id}",
            )
        )
        return None, None
    account = org.catalog.accounts.get(code) if code else None
    if account and rate.applies_to and account.account_class and account.account_class not in rate.applies_to:
        problems.append(
            MappingProblem(
                "tax_mismatch",
                "tax_code",
                source,
                f"tax type {tax_type} cannot be used with account {code} ({account.account_class}) in organisation "
                f"{org.organisation_id}",
            )
        )
        return None, None
    return tax_type, rate.rate


def _track(org: OrgMapping, sources: list[tuple[str, object, str]], chosen: dict, problems: list) -> None:
    """Adds the (category, option) each (source kind, value, field) maps to into `chosen`."""
    for kind, value, field in sources:
        if value is None or kind not in org.tracked_kinds:
            continue  # this organisation does not track by this source
        mapped = org.tracking.get((kind, str(value))) or org.tracking.get((kind, "*"))
        if mapped is None:
            problems.append(
                MappingProblem(
                    "missing_tracking_option",
                    field,
                    str(value),
                    f"no tracking option mapped for {kind.replace('_', ' ')} {value} in organisation "
                    f"{org.organisation_id}",
                )
            )
            continue
        category, option = mapped
        if option not in org.catalog.tracking.get(category, frozenset()):
            problems.append(
                MappingProblem(
                    "missing_tracking_option",
                    field,
                    str(value),
                    f"tracking option {category}/{option} (mapped from {kind.replace('_', ' ')} {value}) is not an "
                    "active "
                    f"option in Xero organisation {org.organisation_id}",
                )
            )
            continue
        chosen.setdefault(category, option)


def _line_tracking(org: OrgMapping, record_chosen: dict, line: "_Line", problems: list) -> list[dict]:
    chosen = dict(record_chosen)
    _track(
        org,
        [
            ("catalog_item", line.catalog_item, f"{line.field}.catalog_item"),
            ("product_class", line.product_class, f"{line.field}.product_class"),
        ],
        chosen,
        problems,
    )
    if len(chosen) > 2:
        problems.append(
            MappingProblem(
                "missing_tracking_option",
                "tracking",
                ", ".join(chosen),
                f"Xero allows at most 2 tracking categories per line; the mapping gives {len(chosen)} "
                f"({', '.join(chosen)})",
            )
        )
    return [{"Name": c, "Option": o} for c, o in chosen.items()]


def _contact(record: dict, kind: str, org: OrgMapping, problems: list) -> tuple[dict, str] | None:
    """(the element's Contact, how it was found) or None with a problem noted."""
    prefix = "vendor_company" if kind is RecordKind.PROCUREMENT else "company"
    ident, name = record[f"{prefix}_identifier"], record[f"{prefix}_name"]
    found = match_contact(ident, name, org.contacts, org.catalog.contact_candidates(ident, name))
    if isinstance(found, ContactMatch):
        return {"ContactID": found.contact_id}, found.method
    if org.create_contacts and not found.ambiguous:
        # Xero creates a contact named in a document when none has that name; never when the match was ambiguous.
        return {"Name": name.strip(), "ContactNumber": ident.strip()[:50]}, "create"
    problems.append(MappingProblem("missing_contact", f"{prefix}_identifier", ident, found.reason))
    return None


def translate(record: dict, org: OrgMapping, create_status: str = "DRAFT") -> XeroDocument | list[MappingProblem]:
    kind = record_kind(record)
    side = side_of(kind)
    if create_status not in CREATE_STATUSES:
        raise ValueError(f"create_status must be DRAFT or AUTHORISED, not {create_status!r}")
    problems: list[MappingProblem] = []
    contact = _contact(record, kind, org, problems)
    record_tracking: dict[str, str] = {}
    _track(org, [(k, record.get(f"{k}_id"), f"{k}_id") for k in ("location", "department")], record_tracking, problems)
    items, amounts, rates = [], [], []
    for line in _lines(record, kind):
        code = _account(org, side, line, problems)
        tax_type, rate = _tax(org, side, record.get("tax_code"), line, code, problems)
        item = {
            "Description": line.description,
            "Quantity": format(line.quantity.normalize(), "f"),
            "UnitAmount": money(line.unit),
            "AccountCode": code,
            "TaxType": tax_type,
        }
        amounts.append(xero_line_amount(line.quantity, Decimal(item["UnitAmount"])))  # as Xero reads what is sent
        rates.append(rate)
        tracking = _line_tracking(org, record_tracking, line, problems)
        if tracking:
            item["Tracking"] = tracking
        items.append(item)
    currency = _checked(currency_fields(record, org.facts, org.organisation_id), problems)
    when = _iso_date(record_date_text(record), "date", problems)
    dated = _checked(dating(when, org.facts, org.settings, org.organisation_id), problems) if when else None
    totals = None
    if not problems and None not in rates:
        totals = _checked(settle_lines(record, org, side, items, amounts, rates), problems)
    if problems:
        unique = {(p.kind, p.value, p.message): p for p in problems}
        return list(unique.values())
    if totals is None:  # a rate Xero did not tell: ConnectWise's tax is taken as it is
        totals = (sum(amounts, ZERO), abs(record["sales_tax"]))
    return _document(record, kind, contact, items, dated or Dating(None), currency, create_status, *totals)


def _checked(result, problems: list):
    """The result, or None with its problem noted."""
    if isinstance(result, MappingProblem):
        problems.append(result)
        return None
    return result


def record_date_text(record: dict) -> str | None:
    """The date the record's Xero document carries: a bill's vendor invoice date (else its PO date)."""
    if record_kind(record) is RecordKind.PROCUREMENT:
        return record.get("vendor_invoice_date") or record.get("po_date")
    return record.get("date")


def record_date(record: dict) -> date | None:
    try:
        text = record_date_text(record)
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def _document(
    record, kind, contact, items, dated: Dating, currency: dict, create_status, subtotal, tax
) -> XeroDocument:
    when = dated.date
    element = {"Contact": contact[0], "Date": when, "LineAmountTypes": "Exclusive", "LineItems": items, **currency}
    if subtotal + tax == ZERO:
        # Xero marks an approved document of nothing PAID at once, and then refuses every change to it:
        # it stays a draft until ConnectWise gives it an amount.
        create_status = "DRAFT"
    moved = f" (ConnectWise date {dated.moved_from})" if dated.moved_from else ""
    if kind is RecordKind.PROCUREMENT:
        element.update(Type="ACCPAY", Reference=f"PO {record['po_number']}{moved}", Status="DRAFT")
    elif kind is RecordKind.CREDIT_NOTE:
        element.update(Type="ACCRECCREDIT", Reference=f"CW#{record['cw_id']}{moved}", Status=create_status)
    else:
        due = max(_iso_date(record.get("due_date"), "due_date", []) or when, when) if when else None
        element.update(Type="ACCREC", Reference=f"CW#{record['cw_id']}{moved}", DueDate=due, Status=create_status)
    xero, number = kind.xero, document_number(record, kind)
    element[xero.number_field] = number
    key = natural_key(kind, number, contact[0], when)
    return XeroDocument(xero.endpoint, element, str(key), subtotal, tax, subtotal + tax, contact[1])


def document_number(record: dict, kind: RecordKind) -> str:
    """The number the Xero document carries: a bill's is the vendor's invoice number, else its PO number."""
    if kind is RecordKind.PROCUREMENT:
        return record.get("vendor_invoice_number") or record["po_number"]
    return record["invoice_number"]


def natural_key(kind: RecordKind, number: str, contact: dict, when: str | None) -> NaturalKey:
    """What finds the document in Xero before its id is known. Bills by contact, number and date
    (Xero does not keep their numbers unique): the contact by its id, or by the name Xero creates it
    from, since a bill of a new contact may share its number with another supplier's."""
    if kind is RecordKind.PROCUREMENT and when:
        if contact.get("ContactID"):
            return NaturalKey.bill(contact["ContactID"], number, when)
        if contact.get("Name"):
            return NaturalKey.named_bill(contact["Name"], number, when)
    return NaturalKey(number)


def deletion(record: dict) -> tuple[str, dict, str]:
    """(endpoint, body, natural key) for a record deleted in ConnectWise; the writer
    decides between DELETED and VOIDED from the status Xero holds."""
    kind = record_kind(record)
    xero, number = kind.xero, document_number(record, kind)
    return xero.endpoint, {xero.number_field: number, "Status": "DELETED"}, number
