"""The contract between ingest and the mapper: events built by ingest from the
ConnectWise simulator's JSON route to the organisation the synthetic MSP
intends and map to a write, or to a missing-contact exception exactly for the
customers the seed left without a Xero contact. (The configured stack comes
from the mapping tests' fixture: the demo mapping against the Xero simulator.)"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from services.common.db import connect
from services.ingest.invoices import to_invoice_event
from services.ingest.refs import manager_identifier
from services.mapper.decide import decide
from services.mapping import repository as repo
from services.sandbox.connectwise.render import to_json
from services.sandbox.connectwise.state import CwState
from tests.mapping.test_sandbox_config import configured  # noqa: F401 (the fixture)


def as_fetched(record: dict) -> dict:
    """A simulator record as the client receives it: JSON with Decimal numbers."""
    return json.loads(to_json(record), parse_float=Decimal)


def test_ingest_events_route_and_map_as_the_msp_intends(configured):  # noqa: F811
    msp, settings, _ = configured
    state = CwState(msp)
    with connect(settings.postgres_url, autocommit=True) as conn:
        snapshot = repo.load_snapshot(conn)
    has_contact = {(c.organisation, c.company_id) for c in msp.xero_contacts}
    seed = {i.id: i for i in msp.invoices}
    writes = exceptions = 0
    for inv_id, invoice in state.c["invoices"].by_id.items():
        products = [as_fetched(state.c["products"].by_id[p]) for p in state.products_of[inv_id]]
        company = as_fetched(state.c["companies"].by_id[invoice["company"]["id"]])
        event = to_invoice_event(as_fetched(invoice), products,
                                 extra_refs={"account_manager_identifier": manager_identifier(company)})
        company_seed = msp.company(seed[inv_id].company_id)
        expected = msp.organisation_for(company_seed, seed[inv_id].location_id)
        decision = decide(event, snapshot, datetime.now(timezone.utc))
        assert decision.organisation_id == expected, (event["invoice_number"], decision.reason)
        if (expected, company_seed.id) in has_contact:
            assert decision.writes and not decision.exceptions, (event["invoice_number"], decision.exceptions)
            writes += 1
        else:
            assert not decision.writes and decision.exceptions
            exceptions += 1
    assert writes > 0 and exceptions > 0 and writes + exceptions == len(msp.invoices)
