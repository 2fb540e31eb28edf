"""Registering this installation's callbacks with ConnectWise (`system/callbacks`),
idempotently: what is registered is looked up first, a callback of ours that is
missing is added, and one of ours that is stale (an old secret, a duplicate, a
type no longer wanted) is removed. "Ours" is any callback whose URL is under this
installation's public callback prefix; other integrations' callbacks are left alone.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from ..common.receiver_urls import CW_CALLBACK_PREFIX, CW_CALLBACK_TYPES, cw_callback_url, normalised_type
from ..integrations.connectwise.client import CwClient

log = logging.getLogger(__name__)
PATH = "system/callbacks"
DESCRIPTION = "Connect Zero: records changed"
TAGS = {"record_type": None}


@dataclass(frozen=True)
class Plan:
    add: list[dict]  # bodies to POST
    remove: list[int]  # ids to DELETE
    kept: list[int]


def wanted(url: str) -> list[dict]:
    return [
        {"url": url, "objectId": 0, "type": kind, "level": "All", "description": DESCRIPTION, "inactiveFlag": False}
        for kind in CW_CALLBACK_TYPES.values()
    ]


def is_ours(callback: dict, base: str) -> bool:
    return str(callback.get("url", "")).startswith(base.rstrip("/") + CW_CALLBACK_PREFIX)


def plan(existing: list[dict], base: str, secret: str) -> Plan:
    """Pure: what to add and remove so exactly one active callback of each wanted type points
    at the current callback URL."""
    url = cw_callback_url(base, secret)
    keep: dict[str, int] = {}
    remove: list[int] = []
    for callback in sorted((c for c in existing if is_ours(c, base)), key=lambda c: int(c["id"])):
        kind = normalised_type(callback.get("type", ""))
        current = (
            callback.get("url") == url
            and kind in CW_CALLBACK_TYPES
            and not callback.get("inactiveFlag")
            and not callback.get("objectId")
            and kind not in keep
        )
        if current:
            keep[kind] = int(callback["id"])
        else:
            remove.append(int(callback["id"]))
    add = [body for body in wanted(url) if normalised_type(body["type"]) not in keep]
    return Plan(add, remove, sorted(keep.values()))


def registered(client: CwClient) -> list[dict]:
    return list(client.all(PATH, tags=TAGS))


def register(client: CwClient, base: str, secret: str) -> Plan:
    """Makes ConnectWise's callbacks match `plan`; returns what it did."""
    todo = plan(registered(client), base, secret)
    for callback_id in todo.remove:
        client.request("DELETE", f"{PATH}/{callback_id}", tags=TAGS)
    for body in todo.add:
        # Not retried after a 5xx: a second POST could register twice (the next start removes a duplicate).
        client.request("POST", PATH, json_body=body, tags=TAGS)
    log.info(
        "ConnectWise callbacks: %d added, %d removed, %d already there", len(todo.add), len(todo.remove), len(todo.kept)
    )
    return todo


def unregister(client: CwClient, base: str) -> int:
    """Removes every callback of ours (callbacks off: the schedule alone finds changes)."""
    ours = [int(c["id"]) for c in registered(client) if is_ours(c, base)]
    for callback_id in ours:
        client.request("DELETE", f"{PATH}/{callback_id}", tags=TAGS)
    log.info("ConnectWise callbacks: %d removed", len(ours))
    return len(ours)


def keep_registered(
    client: CwClient, base: str, secret: str, stop: threading.Event, retry_seconds: float = 30.0
) -> None:
    """At start-up, in the background: registers, and tries again while ConnectWise cannot be reached."""
    while not stop.is_set():
        try:
            register(client, base, secret)
            return
        except Exception as exc:  # ConnectWise away or refusing: the schedule covers until it works
            log.warning("ConnectWise callbacks not registered yet (trying again in %.0fs): %s", retry_seconds, exc)
            stop.wait(retry_seconds)
