"""Runs one ingest cycle in its own process (the crash test SIGKILLs it mid-page).

    python -m tests.ingest.cycle_proc <cw_url> <kafka_bootstrap> <postgres_url> <record_type>
"""
from __future__ import annotations

import sys

from services.common.database import Database
from services.common.codec import Codec
from services.integrations.connectwise.client import CwClient
from services.common.kafka import make_producer
from services.ingest.cycle import Emitter, Pipeline, run_cycle
from services.ingest.store import Store
from services.common import sandbox_identity as identity


def main(cw_url: str, bootstrap: str, postgres_url: str, record_type: str) -> None:
    codec = Codec.from_directory()
    client = CwClient(cw_url, identity.CW_COMPANY, identity.CW_PUBLIC_KEY, identity.CW_PRIVATE_KEY,
                      identity.CW_CLIENT_ID)
    pipeline = Pipeline(client, Store(Database(postgres_url)), Emitter(make_producer(bootstrap), codec))
    result = run_cycle(pipeline, record_type)
    print(f"emitted {result.emitted}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
