"""Reading the states of documents from Xero, many per call: invoices (and bills) by
`IDs` (at most 50 GUIDs a call, as Xero asks), credit notes through `where`. A
webhook is a hint; what is recorded is what Xero answers."""

from __future__ import annotations

from dataclasses import dataclass

from ..common.record_kinds import CREDIT_NOTES, INVOICES, XeroDocument
from ..integrations.xero.client import XeroClient, XeroOrg, XeroRequestError

IDS_PER_CALL = 50
WHERE_PER_CALL = 25  # keeps the URL short
CATEGORIES = {"INVOICE": INVOICES, "CREDITNOTE": CREDIT_NOTES}  # webhook category -> Xero collection


@dataclass(frozen=True)
class Found:
    xero_id: str
    status: str
    number: str | None


def states(
    client: XeroClient, org: XeroOrg, document: XeroDocument, xero_ids: list[str], tags: dict | None = None
) -> dict[str, Found]:
    """Xero id (lower case) -> its state now, for those Xero has."""
    found: dict[str, Found] = {}
    size = IDS_PER_CALL if document is INVOICES else WHERE_PER_CALL
    for start in range(0, len(xero_ids), size):
        chunk = xero_ids[start : start + size]
        if document is INVOICES:
            params = {"IDs": ",".join(chunk)}
        else:
            params = {"where": " OR ".join(f'{document.id_field}==guid("{x}")' for x in chunk)}
        # A page holds them all: at most 50 ids are asked for at once.
        response = client.request(
            org, "GET", document.endpoint, params={**params, "page": "1", "pageSize": "1000"}, tags=tags
        )
        if response.status_code != 200:
            raise XeroRequestError(response.status_code, response.text[:300])
        for item in response.json().get(document.endpoint) or []:
            xero_id = str(item.get(document.id_field) or "")
            if xero_id:
                found[xero_id.lower()] = Found(
                    xero_id, str(item.get("Status") or ""), item.get(document.number_field) or None
                )
    return found
