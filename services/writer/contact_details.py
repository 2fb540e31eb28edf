"""Keeps a Xero contact's billing email, address and phone following the ConnectWise
company's billing contact, for organisations that ask for it (the mapper puts the
details on the document's write request; `mapper/customer_details.py`).

Before a batch of documents is written, each contact named by their requests whose
details differ from what was last sent (`xero_contact_details`, a hash per contact) is
updated with one POST /Contacts of up to 50. Unchanged details cost no call. A contact
Xero refuses to update (a duplicate name, an archived contact) never holds up the
document: it is logged, and tried again the next time the details come.
"""

from __future__ import annotations

import hashlib
import json
import logging

from ..integrations.xero.client import XeroClient, XeroOrg, XeroRequestError
from . import status
from .batching import MAX_BATCH, WriteRequest, chunks, idempotency_key
from .ledger import Ledger

log = logging.getLogger(__name__)


def wanted(requests: list[WriteRequest]) -> dict[str, tuple[dict, str]]:
    """ContactID -> (the Contact element, its hash), the newest request's for each contact."""
    out: dict[str, tuple[dict, str]] = {}
    for req in sorted(requests, key=lambda r: (r.mapped_at, r.seq)):
        if not req.contact_details:
            continue
        try:
            element = json.loads(req.contact_details)
        except ValueError:
            log.warning("contact details of %s %s are not JSON; left out", req.record_type, req.cw_id)
            continue
        if isinstance(element, dict) and element.get("ContactID"):
            canonical = json.dumps(element, sort_keys=True)
            out[str(element["ContactID"])] = (element, hashlib.sha256(canonical.encode()).hexdigest())
    return out


class ContactDetailsWriter:
    def __init__(self, client: XeroClient, ledger: Ledger):
        self.client, self.ledger = client, ledger

    def write(self, org: XeroOrg, requests: list[WriteRequest]) -> int:
        """Updates the contacts whose details changed; returns how many Xero accepted."""
        details = wanted(requests)
        if not details:
            return 0
        with self.ledger.db.connection() as conn:
            sent = {
                r["contact_id"]: r["details_hash"]
                for r in conn.execute(
                    "select contact_id, details_hash from xero_contact_details where organisation_id = %s"
                    " and contact_id = any(%s)",
                    (org.organisation_id, list(details)),
                ).fetchall()
            }
        changed = [(cid, element, digest) for cid, (element, digest) in details.items() if sent.get(cid) != digest]
        accepted = []
        for group in chunks(changed, MAX_BATCH):
            key = idempotency_key([f"{cid}:{digest}" for cid, _, digest in group], "POST", "Contacts")
            try:
                answered = self.client.write(
                    org, "Contacts", "POST", [e for _, e, _ in group], key, {"record_type": "contact_details"}
                )
            except XeroRequestError as exc:
                log.warning(
                    "Xero refused the contact details of %d contacts of %s: %s",
                    len(group),
                    org.organisation_id,
                    exc.message,
                )
                continue
            for (cid, _, digest), element in zip(group, answered, strict=True):  # the client checks the count
                if status.element_failed(element):
                    log.warning(
                        "Xero refused the details of contact %s of %s: %s",
                        cid,
                        org.organisation_id,
                        "; ".join(status.element_errors(element)),
                    )
                else:
                    accepted.append((org.organisation_id, cid, digest))
        if accepted:
            with self.ledger.db.unit_of_work() as conn, conn.cursor() as cur:
                cur.executemany(
                    "insert into xero_contact_details (organisation_id, contact_id, details_hash) values (%s, %s, %s)"
                    " on conflict (organisation_id, contact_id) do update set details_hash = excluded.details_hash,"
                    " updated_at = now()",
                    accepted,
                )
        return len(accepted)
