"""What the conditions are decided from, read from Postgres: how ConnectWise cycles have
been going (ingest records each one in `sync_cursors`), and each organisation's Xero
connection (its row, its records' open `xero_credential` exceptions, and when its
refresh token was last spent, in `xero_tokens`)."""

from __future__ import annotations

import logging

from ..common.db import Conn
from ..common.secrets import SecretBox
from ..integrations.xero.auth import PostgresTokenStore
from .conditions import CycleState, OrganisationState

log = logging.getLogger(__name__)
CW_SOURCE_PREFIX = "cw:"  # ingest's cursor of each ConnectWise record type: cw:<record type>


def connectwise_cycles(conn: Conn) -> list[CycleState]:
    rows = conn.execute(
        "select source, failed_cycles, failing_since, last_error from sync_cursors where source like %s",
        (CW_SOURCE_PREFIX + "%",),
    ).fetchall()
    return [
        CycleState(r["source"].removeprefix(CW_SOURCE_PREFIX), r["failed_cycles"], r["failing_since"], r["last_error"])
        for r in rows
    ]


def organisations(conn: Conn, box: SecretBox) -> list[OrganisationState]:
    rows = conn.execute(
        "select o.id, o.name, o.status, o.credential_sealed is not null as has_credential, o.credential_updated_at,"
        " f.last_failure, f.waiting, f.message"
        " from organisations o left join lateral ("
        "   select max(last_seen) as last_failure, count(*) as waiting,"
        "          (array_agg(message order by last_seen desc))[1] as message"
        "   from exceptions e where e.status = 'open' and e.kind = 'xero_credential' and e.organisation_id = o.id"
        " ) f on true order by o.id"
    ).fetchall()
    tokens = PostgresTokenStore("", box)  # only its credential look-up is used, on this connection
    found = []
    for r in rows:
        found.append(
            OrganisationState(
                r["id"],
                r["name"],
                r["status"],
                r["has_credential"],
                r["credential_updated_at"],
                r["last_failure"],
                r["message"],
                r["waiting"] or 0,
                _last_token_use(conn, tokens, r["id"], r["credential_updated_at"]) if r["has_credential"] else None,
            )
        )
    return found


def _last_token_use(conn: Conn, tokens: PostgresTokenStore, organisation_id: str, connected_at):
    """When the refresh token was last spent: its working copy's last rotation, or, before the
    first use, when it was connected. None when the credential cannot be read (a changed key)."""
    try:
        credential_id, _seed = tokens.credential_of(conn, organisation_id)
    except Exception as exc:  # noqa: BLE001 - a credential that cannot be opened is the writer's to report
        log.debug(
            "organisation %s: credential unreadable (%s); its token age is unknown", organisation_id, type(exc).__name__
        )
        return None
    row = conn.execute("select rotated_at from xero_tokens where credential_id = %s", (credential_id,)).fetchone()
    return row["rotated_at"] if row else connected_at
