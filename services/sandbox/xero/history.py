"""Books with a history: the invoices and credit notes an organisation already held before
Connect Zero was installed, written by hand or by the tool the MSP is leaving. A test or
the demo sets them up with

    POST /_sandbox/xero/history {"organisation": "adelaide", "invoices": [...], "credit_notes": [...]}

each element as Xero's `PUT /Invoices` (or `/CreditNotes`) takes it: a contact by
`ContactID` or `Name`, lines with account and tax type, `Status` DRAFT, SUBMITTED or
AUTHORISED. They are validated and saved exactly as such a PUT with
`summarizeErrors=false` would save them (numbers unique, lock dates, currencies), so the
answer lists every element with its `StatusAttributeString`. What happened before is not
news: it spends none of the organisation's rate limits and sends no webhook.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from .api_support import json_response
from .control import body, named_organisation
from .documents import CREDIT_NOTE, INVOICE, Kind, save_batch

COLLECTIONS: dict[str, Kind] = {"invoices": INVOICE, "credit_notes": CREDIT_NOTE}


def history_control_router(runtime: Any) -> APIRouter:
    api = APIRouter(prefix="/_sandbox/xero")
    state = runtime.state

    @api.post("/history")
    async def history(request: Request) -> Response:
        try:
            data = await body(request)
            org = named_organisation(state, data)
            for name in COLLECTIONS:
                if not isinstance(data.get(name, []), list):
                    raise ValueError(f"{name}: must be a list of {COLLECTIONS[name].plural} elements")
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        answer: dict[str, Any] = {"organisation": org.short}
        with state.lock:
            listeners, state.listeners = state.listeners, []  # long delivered, if ever
            try:
                for name, kind in COLLECTIONS.items():
                    _, elements, _ = save_batch(state, org, kind, data.get(name) or [], method="PUT", summarize=False)
                    answer[kind.plural] = elements
            finally:
                state.listeners = listeners
        answer["saved"] = sum(
            1
            for name in COLLECTIONS
            for e in answer[COLLECTIONS[name].plural]
            if e.get("StatusAttributeString") == "OK"
        )
        return json_response(answer)

    return api
