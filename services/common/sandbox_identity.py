"""The sandbox's fixed identity: the credentials and organisations a client uses
to reach the simulators. Deterministic, so stack.json and tests agree. It is the
contract between the sandbox, which serves these, and the local stack, which
points the product at them; neither imports the other."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

_NS = uuid.UUID("6f1c3a52-3e0e-4c55-9a7e-0c0e5a1d7c10")

CW_COMPANY = "connectzero"
CW_PUBLIC_KEY = "czPublicKey01"
CW_PRIVATE_KEY = "czPrivateKey-sandbox-7f3e"
CW_CLIENT_ID = str(uuid.uuid5(_NS, "cw-client"))
XERO_CLIENT_ID = "CZSANDBOXCLIENT0000000000000001"
XERO_CLIENT_SECRET = "cz-sandbox-client-secret-3b9d1c"
XERO_WEBHOOK_KEY = "cz-sandbox-webhook-key"


@dataclass(frozen=True)
class SandboxOrganisation:
    name: str
    short: str
    tenant_id: str


ORGANISATIONS = tuple(
    SandboxOrganisation(name, short, str(uuid.uuid5(_NS, f"tenant-{short}")))
    for name, short in (
        ("Harbour IT Adelaide Pty Ltd", "adelaide"),
        ("Harbour IT Sydney Pty Ltd", "sydney"),
        ("Harbour IT Holdings Pty Ltd", "holdings"),
        ("Harbour IT New Zealand Ltd", "auckland"),  # the Auckland office's books; it bills in NZD
    )
)


def cw_base(host: str, port: int) -> str:
    return f"http://{host}:{port}/v4_6_release/apis/3.0"


def xero_endpoints(host: str, port: int) -> dict[str, str]:
    root = f"http://{host}:{port}"
    return {
        "url": f"{root}/api.xro/2.0",
        "token_url": f"{root}/connect/token",
        "connections_url": f"{root}/connections",
        "authorize_url": f"{root}/identity/connect/authorize",
    }
