"""Postgres access for organisations, routing rules, mapping tables, settings and
the history of every change to them.

Every mutating function takes an open connection inside the caller's
transaction and records its change in `config_changes` in that same
transaction, so a change and its history entry commit together. Credentials
are sealed with `SecretBox` before they reach the database; what this module
returns about an organisation never includes them (the writer's token manager
reads the sealed seed itself, see integrations/xero/auth.py).
"""

from __future__ import annotations

import psycopg

from ..common.secrets import SecretBox
from .history import changes_since, config_version, list_changes, record_change  # noqa: F401 (one place for callers)
from .rows import RULES, TABLES, MappingRow, RoutingRuleRow, TableSpec
from .snapshot import load_known, load_snapshot  # noqa: F401

ORG_PUBLIC = (
    "id",
    "name",
    "tenant_id",
    "scopes",
    "status",
    "create_contacts",
    "payment_account_code",
    "credential_updated_at",
    "created_at",
    "updated_at",
    "base_currency",
)
SETTINGS_FIELDS = ("cadence_minutes", "create_status", "alert_mode")


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


class Invalid(ValueError):
    """A value that names something that does not exist; `field` says which."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


# ---- organisations ---------------------------------------------------------------


def _public(row: dict) -> dict:
    out = {k: row[k] for k in ORG_PUBLIC}
    out["connected"] = row.get("credential_sealed") is not None
    return out


def list_organisations(conn) -> list[dict]:
    return [_public(r) for r in conn.execute("select * from organisations order by id")]


def get_organisation(conn, org_id: str, lock: bool = False) -> dict:
    row = conn.execute(
        "select * from organisations where id = %s" + (" for update" if lock else ""), (org_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no organisation {org_id!r}")
    return row


def check_payment_account(conn, org_id: str, code: str | None) -> None:
    """The payment account must be one of the organisation's Xero accounts that takes payments."""
    if code is None:
        return
    row = conn.execute(
        "select status, payments_enabled from xero_accounts where organisation_id = %s and code = %s", (org_id, code)
    ).fetchone()
    if row is None:
        raise Invalid(
            "payment_account_code",
            f"payment_account_code: organisation {org_id!r} has no Xero account "
            f"{code!r} in its catalog (refresh the catalog after adding it in Xero)",
        )
    if row["status"] != "ACTIVE" or not row["payments_enabled"]:
        raise Invalid(
            "payment_account_code",
            f"payment_account_code: Xero account {code!r} of {org_id!r} cannot take "
            "payments: choose an active bank account",
        )


def create_organisation(conn, data: dict, box: SecretBox, actor: str) -> dict:
    check_payment_account(conn, data["id"], data.get("payment_account_code"))
    token = data.pop("refresh_token", None)
    values = dict(data, credential_sealed=box.seal(token) if token else None)
    if token and values.get("status", "disconnected") == "disconnected":
        values["status"] = "connected"
    cols = list(values)
    try:
        row = conn.execute(
            f"insert into organisations ({', '.join(cols)}, credential_updated_at) values"
            f" ({', '.join('%s' for _ in cols)}, case when %s then now() end) returning *",
            [*values.values(), token is not None],
        ).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(f"an organisation with this id, name or tenant id exists: {exc.diag.message_detail}") from None
    after = _public(row)
    record_change(conn, "organisations", row["id"], "create", actor, None, after)
    return after


def update_organisation(conn, org_id: str, data: dict, box: SecretBox, actor: str) -> dict:
    before = get_organisation(conn, org_id, lock=True)
    check_payment_account(conn, org_id, data.get("payment_account_code"))
    token = data.pop("refresh_token", None)
    sets = {k: v for k, v in data.items() if v is not None and before.get(k) != v}
    if not sets and not token:
        return _public(before)  # nothing changes, nothing to record
    if token:
        sets["credential_sealed"] = box.seal(token)
        sets.setdefault("status", "connected")
    assignments = [f"{k} = %s" for k in sets] + ["updated_at = now()"]
    if token:
        assignments.append("credential_updated_at = now()")
    try:
        row = conn.execute(
            f"update organisations set {', '.join(assignments)} where id = %s returning *", [*sets.values(), org_id]
        ).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(f"another organisation has this name or tenant id: {exc.diag.message_detail}") from None
    after = _public(row)
    if token:  # the history shows that the credential changed, never the credential
        after = dict(after, credential="replaced")
    record_change(conn, "organisations", org_id, "update", actor, _public(before), after)
    return _public(row)


def disconnect_organisation(conn, org_id: str, actor: str) -> dict:
    """Forgets the organisation's Xero credential (its mappings stay): nothing is written there until it is
    connected again."""
    before = get_organisation(conn, org_id, lock=True)
    row = conn.execute(
        "update organisations set credential_sealed = null, credential_updated_at = now(), "
        "status = 'disconnected', updated_at = now() where id = %s returning *",
        (org_id,),
    ).fetchone()
    after = dict(_public(row), credential="removed")
    record_change(conn, "organisations", org_id, "update", actor, _public(before), after)
    return _public(row)


def delete_organisation(conn, org_id: str, actor: str) -> None:
    before = get_organisation(conn, org_id, lock=True)
    conn.execute("delete from organisations where id = %s", (org_id,))
    record_change(conn, "organisations", org_id, "delete", actor, _public(before), None)


def open_credential(conn, org_id: str, box: SecretBox) -> str | None:
    sealed = get_organisation(conn, org_id)["credential_sealed"]
    return box.open(sealed) if sealed else None


# ---- routing rules and mapping tables ------------------------------------------------


def list_rules(conn) -> list[dict]:
    return conn.execute(
        "select id, kind, caption, value, organisation_id, priority from routing_rules order by priority, id"
    ).fetchall()


def _rule(conn, rule_id: int, lock: bool = False) -> dict:
    row = conn.execute(
        "select id, kind, caption, value, organisation_id, priority from routing_rules where id = %s"
        + (" for update" if lock else ""),
        (rule_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no routing rule {rule_id}")
    return row


def _check_org(conn, org_id: str) -> None:
    if conn.execute("select 1 from organisations where id = %s", (org_id,)).fetchone() is None:
        raise Invalid("organisation_id", f"unknown organisation {org_id!r}")


def create_rule(conn, rule: RoutingRuleRow, actor: str) -> dict:
    _check_org(conn, rule.organisation_id)
    try:
        row = conn.execute(
            "insert into routing_rules (kind, caption, value, organisation_id, priority) values (%s,%s,%s,%s,%s)"
            " returning id, kind, caption, value, organisation_id, priority",
            (rule.kind, rule.caption, rule.value, rule.organisation_id, rule.priority),
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(
            f"a {rule.kind} rule for {rule.caption + '=' if rule.caption else ''}{rule.value or 'default'} exists"
        ) from None
    record_change(conn, "routing_rules", str(row["id"]), "create", actor, None, row)
    return row


def update_rule(conn, rule_id: int, rule: RoutingRuleRow, actor: str) -> dict:
    before = _rule(conn, rule_id, lock=True)
    _check_org(conn, rule.organisation_id)
    try:
        row = conn.execute(
            "update routing_rules set kind=%s, caption=%s, value=%s, organisation_id=%s, priority=%s where id=%s"
            " returning id, kind, caption, value, organisation_id, priority",
            (rule.kind, rule.caption, rule.value, rule.organisation_id, rule.priority, rule_id),
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"another {rule.kind} rule has the same value") from None
    record_change(conn, "routing_rules", str(rule_id), "update", actor, before, row)
    return row


def upsert_rule(conn, rule: RoutingRuleRow, actor: str) -> dict:
    """Creates the rule, or updates the one with the same kind, caption and value."""
    existing = conn.execute(
        "select id, organisation_id, priority from routing_rules where kind=%s and caption=%s and value=%s",
        (rule.kind, rule.caption, rule.value),
    ).fetchone()
    if existing is None:
        return create_rule(conn, rule, actor)
    if (existing["organisation_id"], existing["priority"]) == (rule.organisation_id, rule.priority):
        return _rule(conn, existing["id"])
    return update_rule(conn, existing["id"], rule, actor)


def delete_rule(conn, rule_id: int, actor: str) -> None:
    before = _rule(conn, rule_id, lock=True)
    conn.execute("delete from routing_rules where id = %s", (rule_id,))
    record_change(conn, "routing_rules", str(rule_id), "delete", actor, before, None)


def list_mappings(conn, spec: TableSpec, organisation_id: str | None = None) -> list[dict]:
    return conn.execute(
        f"select {', '.join(spec.columns)} from {spec.sql} where (%(o)s::text is null or organisation_id = %(o)s)"
        f" order by {', '.join(spec.key)}",
        {"o": organisation_id},
    ).fetchall()


def _key_text(spec: TableSpec, key: dict) -> str:
    return "/".join(str(key[k]) for k in spec.key)


def get_mapping(conn, spec: TableSpec, key: dict, lock: bool = False) -> dict | None:
    where = " and ".join(f"{k} = %s" for k in spec.key)
    return conn.execute(
        f"select {', '.join(spec.columns)} from {spec.sql} where {where}" + (" for update" if lock else ""),
        [key[k] for k in spec.key],
    ).fetchone()


def put_mapping(conn, spec: TableSpec, row: MappingRow, actor: str, replace: bool = True) -> dict:
    values = row.model_dump()
    before = get_mapping(conn, spec, values, lock=True)
    if before is not None and not replace:
        raise Conflict(f"{spec.name} mapping {_key_text(spec, values)} exists (use PUT to replace it)")
    _check_org(conn, values["organisation_id"])
    updates = ", ".join(f"{c} = excluded.{c}" for c in spec.values)
    after = conn.execute(
        f"insert into {spec.sql} ({', '.join(spec.columns)}) values ({', '.join('%s' for _ in spec.columns)})"
        f" on conflict ({', '.join(spec.key)}) do update set {updates} returning {', '.join(spec.columns)}",
        [values[c] for c in spec.columns],
    ).fetchone()
    if before != after:
        record_change(
            conn,
            f"mappings.{spec.name}",
            _key_text(spec, values),
            "update" if before else "create",
            actor,
            before,
            after,
        )
    return after


def delete_mapping(conn, spec: TableSpec, key: dict, actor: str) -> dict:
    before = get_mapping(conn, spec, key, lock=True)
    if before is None:
        raise NotFound(f"no {spec.name} mapping {_key_text(spec, key)}")
    where = " and ".join(f"{k} = %s" for k in spec.key)
    conn.execute(f"delete from {spec.sql} where {where}", [key[k] for k in spec.key])
    record_change(conn, f"mappings.{spec.name}", _key_text(spec, key), "delete", actor, before, None)
    return before


# ---- settings ----------------------------------------------------------------------


def get_settings(conn, record_type: str) -> dict:
    row = conn.execute(
        f"select record_type, {', '.join(SETTINGS_FIELDS)}, updated_at from record_type_settings"
        " where record_type = %s",
        (record_type,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no settings for record type {record_type!r}")
    return row


def put_settings(conn, record_type: str, values: dict, actor: str) -> dict:
    before = get_settings(conn, record_type)
    sets = {k: v for k, v in values.items() if v is not None}
    if not sets:
        return before
    after = conn.execute(
        f"update record_type_settings set {', '.join(f'{k} = %s' for k in sets)}, updated_at = now()"
        f" where record_type = %s returning record_type, {', '.join(SETTINGS_FIELDS)}, updated_at",
        [*sets.values(), record_type],
    ).fetchone()
    strip = lambda r: {k: r[k] for k in ("record_type", *SETTINGS_FIELDS)}  # noqa: E731
    if strip(before) != strip(after):
        record_change(conn, "record_type_settings", record_type, "update", actor, strip(before), strip(after))
    return after


__all__ = [
    "RULES",
    "TABLES",
    "changes_since",
    "config_version",
    "list_changes",
    "load_known",
    "load_snapshot",
    "record_change",
]
