"""A minimal Faust worker on the stream base, run as a subprocess by test_streams.py.

It decodes sync commands and appends each command id to the file named by
PROBE_OUT. A command whose requested_by is "explode" makes the handler raise
every time; "outage" raises as an unreachable database would, twice; "flaky"
fails once. Every attempt is noted in PROBE_OUT + ".attempts".
"""
import os
import sys
from collections import Counter

import psycopg

from services.common.codec import Codec
from services.common.settings import load_settings
from services.common.streams import decoded_agent, make_app
from services.common.topics import SYNC_COMMANDS

settings = load_settings()
app = make_app("probe", settings)
out_path = os.environ["PROBE_OUT"]


attempts: Counter = Counter()


async def handle(name, record, ctx):
    command_id, kind = record["command_id"], record["requested_by"]
    attempts[command_id] += 1
    with open(out_path + ".attempts", "a") as noted:
        noted.write(f"{command_id}\n")
    if kind == "explode":
        raise RuntimeError(f"cannot handle command {command_id}")
    if kind == "outage" and attempts[command_id] <= 2:
        raise psycopg.OperationalError("connection refused (the database is down)")
    if kind == "flaky" and attempts[command_id] == 1:
        raise RuntimeError("a passing failure")
    with open(out_path, "a") as out:
        out.write(f"{record['command_id']}\n")


decoded_agent(app, SYNC_COMMANDS, Codec.from_directory(), handle, "probe")

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker", "-l", "warn", "--without-web"]
    app.main()
