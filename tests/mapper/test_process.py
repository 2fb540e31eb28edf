"""The mapper's per-record step against a real PostgreSQL: an outage raises before
anything is sent (the agent's error policy waits it out and tries again, see
tests/common/test_streams.py), and the record is mapped once it is back."""
from __future__ import annotations

import asyncio

import psycopg
import pytest

from services.common.consumer_policy import Verdict, verdict
from services.common.database import Database
from services.mapper.app import MappingSource, process

from ..mapping.records import invoice
from .test_mapper_stream import configure


class FlakySource(MappingSource):
    """The real source, whose first calls meet an unreachable database."""

    def __init__(self, url: str, failures: int):
        super().__init__(Database(url))
        self.failures = failures

    def current(self):
        if self.failures:
            self.failures -= 1
            with psycopg.connect("postgresql://nobody@127.0.0.1:1/none", connect_timeout=1):
                pass
        return super().current()


async def test_database_outage_delays_the_record_then_maps_it(fresh_database):
    configure(fresh_database)
    source = FlakySource(fresh_database, failures=2)
    sent = []

    async def send(topic, key, schema, event):
        sent.append((topic, key, schema, event))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    for _ in range(2):  # what the agent's policy does: the outage raises, the record is tried again
        with pytest.raises(psycopg.OperationalError):
            await process(invoice("INV-9", 9, location_id=1), source, send)
        assert sent == [] and verdict(psycopg.OperationalError()) is Verdict.RETRY
    decision = await process(invoice("INV-9", 9, location_id=1), source, send)
    assert source.failures == 0
    assert [(t, k, s) for t, k, s, _ in sent] == [("xero.writes.v1", b"adelaide", "xero_write_request")]
    assert decision.organisation_id == "adelaide"
    source.db.close()


async def test_a_bad_record_is_an_error_for_the_dead_letter_topic(fresh_database):
    configure(fresh_database)
    source = MappingSource(Database(fresh_database))
    broken = invoice()
    del broken["company_identifier"]

    async def send(*_):
        raise AssertionError("nothing may be sent for a broken record")

    with pytest.raises(KeyError):
        await process(broken, source, send)
    source.db.close()


async def test_deletion_is_sent_to_the_organisation_in_the_ledger(fresh_database):
    from services.common.db import connect

    configure(fresh_database)
    with connect(fresh_database, autocommit=True) as conn:
        conn.execute("insert into xero_ledger (organisation_id, record_type, cw_id, xero_id, natural_key)"
                     " values ('holdings', 'invoice', '31', 'x-31', 'INV-31')")
    source = MappingSource(Database(fresh_database))
    sent = []

    async def send(topic, key, schema, event):
        sent.append((key, event["operation"]))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    await process(dict(invoice("INV-31", 31, location_id=1), change="DELETED"), source, send)
    assert sent == [(b"holdings", "DELETE")]
    source.db.close()
