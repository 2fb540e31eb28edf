"""Generated requests over the whole admin API, from its own OpenAPI document (schemathesis).

The admin app runs as a real HTTP server over a throwaway stack (`servers.py`). Schemathesis runs its
phases over every route in the document, destructive ones included, with the installation's admin token:
coverage (each parameter's boundaries and wrong types), fuzzing (random valid and invalid requests) and
stateful (sequences that feed one answer into the next call: create an organisation, then read, change
and delete it). A bounded number of examples per route keeps it to about a minute.

It fails on any 5xx, on any answer the document does not describe (its status code, its content type,
its headers or its body), on a route that answers without the token, and on a resource that is still there
after its DELETE or missing after its creation. A failure prints schemathesis's report with a curl line per
problem; CZ_FUZZ_SEED and CZ_FUZZ_EXAMPLES look further.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .servers import fuzz_stack

pytestmark = pytest.mark.integration

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance",
          # and what a sequence shows: a deleted resource stays gone, a created one can be read back, and a route
          # that needs the token refuses a request without it or with a wrong one
          "use_after_free", "ensure_resource_availability", "ignored_auth")
PHASES = ("examples", "coverage", "fuzzing", "stateful")
MAX_EXAMPLES = int(os.environ.get("CZ_FUZZ_EXAMPLES", "30"))  # per route and phase
SEED = os.environ.get("CZ_FUZZ_SEED", "20261127")  # fixed, so a run repeats; set another to look further


@pytest.mark.timeout(900)
def test_no_server_error_and_no_schema_violation(kafka_bootstrap, fresh_database, tmp_path):
    with fuzz_stack(kafka_bootstrap, fresh_database, tmp_path) as stack:
        cmd = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{stack.url}/openapi.json",
               "--header", f"Authorization: Bearer {stack.token}",
               "--checks", ",".join(CHECKS), "--phases", ",".join(PHASES),
               "--max-examples", str(MAX_EXAMPLES), "--seed", SEED, "--workers", "1",
               "--request-timeout", "60", "--suppress-health-check", "all"]
        # In the test's own directory: schemathesis keeps its cache there, and reads no stray config file.
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=840, cwd=tmp_path,
                                env={**os.environ, "NO_COLOR": "1"})
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"schemathesis found problems (seed {SEED}):\n{report[-60000:]}"
    assert " 0 selected" not in report and "Stateful" in report, report[-5000:]
