"""What the writer's ledger tells the other services, read against real Postgres."""
from __future__ import annotations

from services.common.db import connect
from services.common.written import writes_in_flight


def test_a_write_is_in_flight_until_its_outcome_is_stored_in_any_organisation(fresh_database):
    with connect(fresh_database, autocommit=True) as conn:
        conn.execute(
            "insert into xero_ledger (organisation_id, record_type, cw_id, pending_request_id) values"
            " ('o1', 'invoice', '1', 'r1'), ('o1', 'invoice', '2', null), ('o2', 'invoice', '2', 'r2'),"
            " ('o1', 'invoice', '3', null), ('o1', 'credit_note', '4', 'r4')"
        )
        assert writes_in_flight(conn, ("invoice",), ["1", "2", "3", "4"]) == {"1", "2"}
        assert writes_in_flight(conn, ("invoice", "credit_note"), ["4", "5"]) == {"4"}
        assert writes_in_flight(conn, ("invoice",), []) == set()
