"""A minimal Faust worker on the stream base, run as a subprocess by test_streams.py.

It decodes sync commands and appends each command id to the file named by
PROBE_OUT; a command whose requested_by is "explode" makes the handler raise.
"""
import os
import sys

from services.common.codec import Codec
from services.common.settings import load_settings
from services.common.streams import decoded_agent, make_app
from services.common.topics import SYNC_COMMANDS

settings = load_settings()
app = make_app("probe", settings)
out_path = os.environ["PROBE_OUT"]


async def handle(name, record, ctx):
    if record["requested_by"] == "explode":
        raise RuntimeError(f"cannot handle command {record['command_id']}")
    with open(out_path, "a") as out:
        out.write(f"{record['command_id']}\n")


decoded_agent(app, SYNC_COMMANDS, Codec.from_directory(), handle, "probe")

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker", "-l", "warn", "--without-web"]
    app.main()
