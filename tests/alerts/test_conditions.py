"""Which conditions hold, from facts, without a clock or a database."""
from datetime import datetime, timedelta, timezone

from services.alerts.conditions import (CONNECTWISE, CONNECTWISE_OUTAGE, XERO_CREDENTIAL, XERO_TOKEN_EXPIRING,
                                        CycleState, OrganisationState, connectwise_outage, credential_lost, holding,
                                        token_expiring)

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
DOWN = "ConnectWise GET https://cw/apis/3.0/finance/invoices failed with HTTP 503: no body"
REFUSED = "ConnectWise GET https://cw/apis/3.0/finance/invoices failed with HTTP 401: Unauthorized: bad keys"


def cycle(record_type="invoice", failed=0, error=None):
    return CycleState(record_type, failed, NOW - timedelta(minutes=10 * failed) if failed else None, error)


def org(**overrides):
    values = dict(organisation_id="sydney", name="Sydney Pty Ltd", status="connected", has_credential=True,
                  credential_updated_at=NOW - timedelta(days=3), last_credential_failure=None, credential_failure=None,
                  waiting_records=0, last_token_use=NOW - timedelta(hours=1))
    values.update(overrides)
    return OrganisationState(**values)


def test_connectwise_outage_begins_at_the_threshold_and_ends_when_every_type_has_succeeded():
    assert connectwise_outage([cycle(failed=2, error=DOWN), cycle("procurement")], 3, is_open=False) is None
    began = connectwise_outage([cycle(failed=3, error=DOWN), cycle("procurement", failed=1, error=DOWN)], 3, False)
    assert began.key == (CONNECTWISE_OUTAGE, CONNECTWISE)
    assert "is failing: 3 cycles in a row failed (invoice, procurement)" in began.message and "HTTP 503" in began.message
    assert began.details["failed_cycles"] == {"invoice": 3, "procurement": 1}
    # Invoices answer again, purchase orders not yet retried: still one outage, not an end and a new start.
    assert connectwise_outage([cycle(), cycle("procurement", failed=2, error=DOWN)], 3, is_open=True) is not None
    assert connectwise_outage([cycle(), cycle("procurement")], 3, is_open=True) is None


def test_rejected_keys_are_said_as_such():
    refused = connectwise_outage([cycle(failed=1, error=REFUSED)], 1, False)
    assert "rejects Connect Zero's API keys" in refused.message and refused.details["rejected_credentials"]


def test_a_credential_refused_by_xero_or_missing_for_records_since_the_last_connect():
    refused = credential_lost(org(status="disconnected", waiting_records=200, credential_failure="invalid_grant",
                                  last_credential_failure=NOW))
    assert refused.key == (XERO_CREDENTIAL, "sydney") and "200 records wait" in refused.message
    assert "Reconnect to Xero on its page in the console" in refused.message
    # No credential left (a person disconnected it) yet records are routed there: said once too.
    assert credential_lost(org(status="disconnected", has_credential=False, last_credential_failure=NOW)) is not None
    # Reconnected after the failures: the exceptions still open wait for their records, the condition is over.
    assert credential_lost(org(last_credential_failure=NOW - timedelta(days=4), waiting_records=5)) is None
    assert credential_lost(org(status="disabled", last_credential_failure=NOW)) is None
    assert credential_lost(org()) is None


def test_a_refresh_token_unused_for_53_days_warns_before_it_lapses():
    assert token_expiring(org(last_token_use=NOW - timedelta(days=52, hours=23)), NOW, 7) is None
    warned = token_expiring(org(last_token_use=NOW - timedelta(days=53)), NOW, 7)
    assert warned.key == (XERO_TOKEN_EXPIRING, "sydney") and "in 7 days" in warned.message
    assert warned.details["lapses_at"].startswith("2026-12-02T09:00")
    assert "already" in token_expiring(org(last_token_use=NOW - timedelta(days=61)), NOW, 7).message
    # Said as a finance person acts in the console, not as an API call.
    assert "Run now for Xero payments on the console's Overview" in warned.message and "/api/" not in warned.message
    assert token_expiring(org(status="disconnected", last_token_use=NOW - timedelta(days=59)), NOW, 7) is None


def test_holding_gathers_every_condition():
    found = holding([cycle(failed=3, error=DOWN)],
                    [org(), org(organisation_id="perth", status="disconnected", last_credential_failure=NOW),
                     org(organisation_id="adelaide", last_token_use=NOW - timedelta(days=58))], NOW, 3, 7, set())
    assert sorted(c.key for c in found) == [(CONNECTWISE_OUTAGE, CONNECTWISE), (XERO_CREDENTIAL, "perth"),
                                            (XERO_TOKEN_EXPIRING, "adelaide")]
