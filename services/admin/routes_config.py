"""Configuration routes of the admin API: organisations, routing rules, mapping
tables, CSV import/export, per-record-type settings, roll-up and change history.

Every change is written with its history row in one transaction, then the
pending history is published on config.changes.v1. The mapper compares the
history's latest seq before each record, so a change applies to the next one.
"""

from types import GenericAlias
from typing import Annotated, Any, Callable, Iterator, Literal

import httpx
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model

from ..common import alert_settings
from ..common.database import Database
from ..common.db import Conn
from ..common.http_app import (
    csv_download,
    api_router,
    BIGINT_MAX,
    NUL_REFUSED,
    Principal,
    Responses,
    UserAuth,
    error,
)
from ..common.secrets import SecretBox, secret_key
from ..common.settings import Settings
from ..mapping import catalog as catalog_store
from ..mapping import csv_io
from ..mapping import repository as repo
from ..mapping.changes import ChangePublisher
from ..mapping.history import record_change
from ..common.record_kinds import RECORD_TYPES, RecordTypeName
from .api_models import (
    AlertSettings,
    Catalog,
    CatalogCounts,
    ConfigChange,
    ImportResult,
    Organisation,
    RecordTypeSettings,
    Rollup,
    RoutePreview,
    RoutingRule,
    ok,
)
from ..mapping.model import Rule
from ..mapping.rollup import rollup
from ..mapping.routing import RoutingError, route
from ..mapping.rows import TABLES, MappingRow, RoutingRuleRow, TableSpec, check_row

OrgId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Organisation id (slug).")]
RecordType = Annotated[RecordTypeName, Path(description=f"One of {', '.join(RECORD_TYPES)}")]
RuleId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="Routing rule id.")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrganisationIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": "sydney", "name": "Harbour IT Sydney Pty Ltd", "tenant_id": "t-sydney", "create_contacts": False}
            ]
        }
    )
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Short id used in rules and CSV, e.g. adelaide.")
    name: str = Field(min_length=1, max_length=255)
    tenant_id: str = Field(min_length=1, max_length=64, description="Xero tenant id of the organisation.")
    refresh_token: SecretStr | None = Field(None, description="Xero refresh token; stored encrypted, never returned.")
    scopes: str = Field("", max_length=1000)
    status: Literal["connected", "disconnected", "disabled"] | None = None
    create_contacts: bool = Field(False, description="Create a missing contact in Xero (off by default).")
    payment_account_code: str | None = Field(
        None,
        min_length=1,
        max_length=10,
        description=(
            "Code of the Xero account ConnectWise payments and refunds go into: a bank account, or one that takes "
            "payments, in the organisation's catalog."
        ),
    )


class OrganisationUpdate(_In):
    name: str | None = Field(None, min_length=1, max_length=255)
    tenant_id: str | None = Field(None, min_length=1, max_length=64)
    refresh_token: SecretStr | None = Field(None, description="A new refresh token (reconnect).")
    scopes: str | None = Field(None, max_length=1000)
    status: Literal["connected", "disconnected", "disabled"] | None = None
    create_contacts: bool | None = None
    payment_account_code: str | None = Field(
        None,
        min_length=1,
        max_length=10,
        description=(
            "Code of the Xero account ConnectWise payments and refunds go into (checked against the catalog)."
        ),
    )


class TagIn(_In):
    caption: str = Field(min_length=1, max_length=255)
    value: str | None = Field(None, max_length=255)


class RoutePreviewIn(_In):
    """The facts of a ConnectWise record that routing looks at."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"location_id": 2, "member": "jsmith", "tags": [{"caption": "Xero Entity", "value": "Holdings"}]}
            ]
        }
    )

    location_id: int | None = None
    member: str | None = Field(None, max_length=100, description="The invoice's member identifier.")
    account_manager: str | None = Field(None, max_length=100, description="The company's account manager identifier.")
    tags: list[TagIn] = Field(default_factory=list, description="Custom fields: caption and value.")


class SettingsIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"cadence_minutes": 120, "create_status": "AUTHORISED", "alert_mode": "digest"}]
        }
    )
    cadence_minutes: int | None = Field(None, ge=60, le=1440, description="Minutes between cycles, 60 to 1440.")
    create_status: Literal["DRAFT", "AUTHORISED"] | None = None
    alert_mode: Literal["immediate", "digest"] | None = None


class AlertSettingsIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"digest_hour_utc": 7, "recipients": "finance@harbour.example, ops@harbour.example"}]
        }
    )
    digest_hour_utc: int = Field(ge=0, le=23, description="Hour (UTC) the daily digest is sent.")
    recipients: str = Field(min_length=3, max_length=2000, description="Comma-separated email addresses.")


class CatalogAccount(_In):
    code: str = Field(min_length=1, max_length=10)
    name: str = ""
    class_: Literal["ASSET", "EQUITY", "EXPENSE", "LIABILITY", "REVENUE", ""] = Field("", alias="class")
    status: str = "ACTIVE"
    type: str = ""
    payments_enabled: bool = False


class CatalogTaxRate(_In):
    tax_type: str = Field(min_length=1)
    name: str = ""
    rate: str | None = Field(
        None, pattern=r"^-?\d{1,5}(\.\d{1,4})?$", description="Percent: up to 5 digits and 4 decimals, as it is kept."
    )
    applies_to: list[str] = []
    status: str = "ACTIVE"


class CatalogTracking(_In):
    category: str = Field(min_length=1)
    option: str = Field(min_length=1)
    status: str = "ACTIVE"


class CatalogContact(_In):
    contact_id: str = Field(min_length=1)
    contact_number: str | None = None
    account_number: str | None = None
    name: str = Field(min_length=1)
    status: str = "ACTIVE"


class CatalogIn(_In):
    """An organisation's Xero catalog, for setting one up without calling Xero."""

    accounts: list[CatalogAccount] = []
    tax_rates: list[CatalogTaxRate] = []
    tracking: list[CatalogTracking] = []
    contacts: list[CatalogContact] = []


# What identifies an entry of each list of a catalog: Xero holds one of each.
CATALOG_KEYS = {
    "accounts": ("code",),
    "tax_rates": ("tax_type",),
    "tracking": ("category", "option"),
    "contacts": ("contact_id",),
}


def _listed_twice(body: CatalogIn) -> tuple[list, str] | None:
    """The first catalog entry whose key an earlier entry of its list has: where it is and what it repeats."""
    for name, key in CATALOG_KEYS.items():
        seen: dict[tuple, int] = {}
        for index, entry in enumerate(getattr(body, name)):
            values = tuple(getattr(entry, k) for k in key)
            if values in seen:
                field = f"{name}.{index}.{key[-1]}"
                return [name, index, key[-1]], (
                    f"{field}: {'/'.join(values)!r} is listed twice (also at "
                    f"{name}.{seen[values]}); Xero holds one of each"
                )
            seen[values] = index
    return None


def xero_exchange_recorder(settings: Settings):
    """() -> the recorder of the admin service's Xero calls (catalog, connections) for the audit log,
    made on first use."""
    recorders: list = []

    def recorder():
        if not settings.kafka_bootstrap:
            return None
        if not recorders:
            from ..common.codec import Codec
            from ..common.exchanges import ExchangeRecorder
            from ..common.kafka import make_producer

            recorders.append(
                ExchangeRecorder("xero", "admin", Codec.from_directory(), make_producer(settings.kafka_bootstrap))
            )
        return recorders[0]

    return recorder


def change_alert_settings(conn, settings: Settings, digest_hour_utc: int, recipients: list[str], actor: str) -> dict:
    """Stores the alert settings with their history row (the caller commits both at once)."""
    before = alert_settings.effective(conn, settings).as_json()
    alert_settings.store(conn, digest_hour_utc, recipients, actor)
    after = alert_settings.effective(conn, settings).as_json()
    record_change(conn, "alert_settings", "alerts", "update", actor, before, after)
    return after


# What a configuration route answers besides its success, route by route.
NO_ORG: Responses = {404: error("No organisation has this id")}
ORG_TAKEN: Responses = {409: error("Another organisation has this id, name or Xero tenant id")}
NO_RULE: Responses = {404: error("No routing rule has this id")}
RULE_TAKEN: Responses = {409: error("A routing rule of this kind and value (or a second default) exists")}


def _unprocessable(field: str, message: str, where: str = "body") -> HTTPException:
    return HTTPException(422, detail=[{"loc": [where, field], "msg": message, "type": "value_error"}])


def config_router(
    settings: Settings,
    database: Database,
    publisher: ChangePublisher | None = None,
    exchange_recorder=None,
    auth: UserAuth | None = None,
) -> APIRouter:
    from .users import user_auth

    auth = auth or user_auth(settings, database)
    router = api_router(auth, "configuration")
    box = SecretBox(secret_key(settings))
    publisher = publisher or ChangePublisher(settings.kafka_bootstrap)
    daily_limit = getattr(settings, "xero_limit_per_day", 5000)

    def db() -> Iterator[Conn]:
        with database.connection() as conn:
            yield conn

    Db = Annotated[Conn, Depends(db)]
    # Who makes a change, for the history: the authenticated user, never what a header claims.
    Admin = Annotated[Principal, Depends(auth.admin)]
    Operator = Annotated[Principal, Depends(auth.operator)]

    exchange_recorder = exchange_recorder or xero_exchange_recorder(settings)

    def committed(conn) -> None:
        publisher.kick(settings.postgres_url)

    # Changes left pending by an earlier run (Kafka was down, the process stopped) go out now.
    publisher.kick(settings.postgres_url)

    def run(conn, fn, *args):
        try:
            with conn.transaction():
                result = fn(conn, *args)
        except repo.NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except repo.Invalid as exc:
            raise _unprocessable(exc.field, str(exc)) from None
        except repo.Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        committed(conn)
        return result

    # ---- organisations ---------------------------------------------------------------
    @router.get(
        "/organisations",
        response_model=None,
        responses=ok(list[Organisation]),
        summary="Organisations (credentials never included)",
    )
    def list_orgs(conn: Db) -> list[dict]:
        return repo.list_organisations(conn)

    @router.post(
        "/organisations",
        status_code=201,
        response_model=None,
        responses={**ok(Organisation, status=201), **ORG_TAKEN},
        summary="Add an organisation; a refresh token connects it",
    )
    def create_org(body: OrganisationIn, conn: Db, who: Admin) -> dict:
        data = body.model_dump(exclude_none=True)
        if body.refresh_token:
            data["refresh_token"] = body.refresh_token.get_secret_value()
        return run(conn, repo.create_organisation, data, box, who.name)

    @router.get(
        "/organisations/{org_id}",
        response_model=None,
        responses={**ok(Organisation), **NO_ORG},
        summary="One organisation",
    )
    def get_org(org_id: OrgId, conn: Db) -> dict:
        try:
            return repo._public(repo.get_organisation(conn, org_id))
        except repo.NotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @router.put(
        "/organisations/{org_id}",
        response_model=None,
        responses={**ok(Organisation), **NO_ORG, **ORG_TAKEN},
        summary="Change an organisation; a refresh token reconnects it",
    )
    def update_org(org_id: OrgId, body: OrganisationUpdate, conn: Db, who: Admin) -> dict:
        data = body.model_dump(exclude_none=True)
        if body.refresh_token:
            data["refresh_token"] = body.refresh_token.get_secret_value()
        return run(conn, repo.update_organisation, org_id, data, box, who.name)

    @router.delete(
        "/organisations/{org_id}",
        status_code=204,
        summary="Remove an organisation and its mappings",
        response_class=Response,
        responses={**NO_ORG, 409: error("Routing rules still send records to the organisation")},
    )
    def delete_org(org_id: OrgId, conn: Db, who: Admin) -> Response:
        rules = [r["id"] for r in repo.list_rules(conn) if r["organisation_id"] == org_id]
        if rules:
            raise HTTPException(
                409, f"routing rules {', '.join(map(str, rules))} send records to {org_id}: change or delete them first"
            )
        run(conn, repo.delete_organisation, org_id, who.name)
        return Response(status_code=204)

    @router.get(
        "/organisations/{org_id}/rollup",
        response_model=None,
        responses={**ok(Rollup), **NO_ORG},
        summary="Records synced by type, amounts, open exceptions, last cycle, API budget",
    )
    def org_rollup(org_id: OrgId, conn: Db) -> dict:
        get_org(org_id, conn)
        return rollup(conn, org_id, daily_limit)

    @router.get(
        "/organisations/{org_id}/catalog",
        response_model=None,
        responses={**ok(Catalog), **NO_ORG},
        summary="The organisation's Xero accounts, tax rates, tracking options, contacts",
    )
    def get_catalog(org_id: OrgId, conn: Db) -> dict:
        get_org(org_id, conn)
        return catalog_store.read_catalog(conn, org_id)

    @router.put(
        "/organisations/{org_id}/catalog",
        response_model=None,
        responses={**ok(CatalogCounts), **NO_ORG},
        summary="Replace the organisation's Xero catalog",
    )
    def put_catalog(org_id: OrgId, body: CatalogIn, conn: Db, who: Admin) -> dict:
        get_org(org_id, conn)
        twice = _listed_twice(body)
        if twice:
            loc, message = twice
            raise HTTPException(422, detail=[{"loc": ["body", *loc], "msg": message, "type": "value_error"}])
        data = catalog_store.CatalogData(**{k: [r.model_dump(by_alias=True) for r in v] for k, v in body})
        return run(conn, catalog_store.store_catalog, org_id, data, who.name)

    @router.post(
        "/organisations/{org_id}/catalog/refresh",
        response_model=None,
        responses={
            **ok(CatalogCounts),
            **NO_ORG,
            409: error("The organisation has no working Xero credential: connect it again"),
            502: error("Xero refused the call or could not be reached"),
            503: error("The Xero API is not configured (CZ_XERO_URL)"),
        },
        summary="Reload accounts, tax rates, tracking and contacts from Xero with the organisation's credential",
    )
    def refresh_catalog(org_id: OrgId, conn: Db, who: Operator) -> dict:
        from ..integrations.xero.auth import CredentialError

        org = get_org(org_id, conn)
        if not settings.xero_url:
            raise HTTPException(503, "CZ_XERO_URL is not set: the Xero API is not configured")
        try:
            counts = catalog_store.refresh_from_xero(
                settings, settings.postgres_url, org_id, org["tenant_id"], who.name, exchange_recorder()
            )
        except CredentialError as exc:
            raise HTTPException(409, str(exc)) from None
        except httpx.HTTPStatusError as exc:
            raise HTTPException(502, f"Xero answered {exc.response.status_code} to {exc.request.url.path}") from None
        except httpx.TransportError as exc:
            raise HTTPException(502, f"Xero unreachable: {exc}") from None
        committed(conn)
        return counts

    # ---- routing rules ---------------------------------------------------------------
    @router.get(
        "/routing-rules",
        response_model=None,
        responses=ok(list[RoutingRule]),
        summary="Routing rules in the order they are tried",
    )
    def list_rules(conn: Db) -> list[dict]:
        return repo.list_rules(conn)

    @router.post(
        "/routing-rules",
        status_code=201,
        response_model=None,
        responses={**ok(RoutingRule, status=201), **RULE_TAKEN},
        summary="Add a routing rule",
    )
    def create_rule(body: RoutingRuleRow, conn: Db, who: Admin) -> dict:
        return run(conn, repo.create_rule, body, who.name)

    @router.post(
        "/routing-rules/preview",
        response_model=None,
        responses=ok(RoutePreview),
        summary="Which organisation a record with these facts would go to, and why",
    )
    def preview_route(body: RoutePreviewIn, conn: Db) -> dict:
        record = {
            "location_id": body.location_id,
            "member_identifier": body.member,
            "account_manager_identifier": body.account_manager,
            "custom_fields": [t.model_dump() for t in body.tags],
        }
        rules = [
            Rule(r["id"], r["kind"], r["value"], r["organisation_id"], r["priority"], r["caption"])
            for r in repo.list_rules(conn)
        ]
        try:
            chosen = route(record, rules, "a record")
        except RoutingError as exc:
            return {"organisation_id": None, "rule_id": None, "reason": str(exc)}
        return {"organisation_id": chosen.organisation_id, "rule_id": chosen.rule.id, "reason": chosen.reason}

    @router.get(
        "/routing-rules/{rule_id}",
        response_model=None,
        responses={**ok(RoutingRule), **NO_RULE},
        summary="One routing rule",
    )
    def get_rule(rule_id: RuleId, conn: Db) -> dict:
        try:
            return repo._rule(conn, rule_id)
        except repo.NotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @router.put(
        "/routing-rules/{rule_id}",
        response_model=None,
        responses={**ok(RoutingRule), **NO_RULE, **RULE_TAKEN},
        summary="Replace a routing rule",
    )
    def update_rule(rule_id: RuleId, body: RoutingRuleRow, conn: Db, who: Admin) -> dict:
        return run(conn, repo.update_rule, rule_id, body, who.name)

    @router.delete(
        "/routing-rules/{rule_id}",
        status_code=204,
        summary="Delete a routing rule",
        response_class=Response,
        responses=NO_RULE,
    )
    def delete_rule(rule_id: RuleId, conn: Db, who: Admin) -> Response:
        run(conn, repo.delete_rule, rule_id, who.name)
        return Response(status_code=204)

    # ---- CSV import / export (declared before /mappings/{table} routes) --------------------
    @router.post(
        "/mappings/import",
        summary="Import routing rules and mappings from CSV (see docs/mapping.md)",
        response_model=None,
        responses={
            **ok(ImportResult),
            422: error(
                "Bad rows, nothing applied: `detail` holds `message` and `errors` (line, table, reason), or a "
                "query parameter or the file's encoding is wrong"
            ),
        },
        openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
    )
    async def import_csv(
        request: Request,
        conn: Db,
        who: Admin,
        dry_run: Annotated[bool, Query(description="Only report bad rows; change nothing.")] = False,
    ):
        raw = await request.body()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _unprocessable("csv", f"the file is not UTF-8 text (byte {exc.start})") from None
        if "\x00" in text:
            line = text.count("\n", 0, text.index("\x00")) + 1
            raise _unprocessable("csv", f"line {line}: {NUL_REFUSED}")
        parsed, counts, _changes = csv_io.import_csv(conn, text, who.name, dry_run)
        errors = [{"line": e.line, "table": e.table, "reason": e.reason} for e in parsed.errors]
        if errors and not dry_run:
            raise HTTPException(422, detail={"message": f"{len(errors)} bad rows: nothing applied", "errors": errors})
        if not dry_run:
            committed(conn)
        return {
            "dry_run": dry_run,
            "rows": len(parsed.rows) + len(errors),
            "valid": not errors,
            "errors": errors,
            "applied": counts,
        }

    @router.get(
        "/mappings/export.csv",
        summary="Every routing rule and mapping as CSV (imports back unchanged)",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )
    def export_csv(conn: Db, organisation_id: str | None = None) -> Response:
        return csv_download(csv_io.export_csv(conn, organisation_id), "mappings.csv")

    for spec in TABLES.values():
        _mapping_routes(router, spec, Db, Admin, run)

    # ---- settings and history (the fixed /settings/... routes before /settings/{record_type}) ----
    @router.get(
        "/settings/alerts",
        response_model=None,
        responses=ok(AlertSettings),
        summary="Who receives alert emails and the hour (UTC) of the daily digest",
    )
    def get_alert_settings(conn: Db) -> dict:
        return alert_settings.effective(conn, settings).as_json()

    @router.put(
        "/settings/alerts",
        response_model=None,
        responses=ok(AlertSettings),
        summary="Set the alert recipients and the digest hour (UTC); the next check uses them",
    )
    def put_alert_settings(body: AlertSettingsIn, conn: Db, who: Admin) -> dict:
        try:
            recipients = alert_settings.parse_recipients(body.recipients)
        except ValueError as exc:
            raise _unprocessable("recipients", str(exc)) from None

        return run(conn, change_alert_settings, settings, body.digest_hour_utc, recipients, who.name)

    @router.get(
        "/settings",
        response_model=None,
        responses=ok(list[RecordTypeSettings]),
        summary="Settings of every record type",
    )
    def all_settings(conn: Db) -> list[dict]:
        return [repo.get_settings(conn, t) for t in RECORD_TYPES]

    @router.get(
        "/settings/{record_type}",
        response_model=None,
        responses=ok(RecordTypeSettings),
        summary="Cadence, status on create and alert mode of a record type",
    )
    def get_settings(record_type: RecordType, conn: Db) -> dict:
        return repo.get_settings(conn, record_type)

    @router.put(
        "/settings/{record_type}",
        response_model=None,
        responses=ok(RecordTypeSettings),
        summary="Change cadence (60-1440 min), DRAFT/AUTHORISED, alert mode",
    )
    def put_settings(record_type: RecordType, body: SettingsIn, conn: Db, who: Admin) -> dict:
        return run(conn, repo.put_settings, record_type, body.model_dump(exclude_none=True), who.name)

    @router.get(
        "/config/changes",
        response_model=None,
        responses=ok(list[ConfigChange]),
        summary="History of configuration changes, newest first",
    )
    def changes(
        conn: Db,
        table: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        before_seq: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    ) -> list[dict]:
        return repo.list_changes(conn, table, limit, before_seq)

    return router


def _with_body(endpoint: Callable, model: type[MappingRow]) -> Callable:
    """FastAPI reads a route's body type from its annotations: the table's own row model (one
    function serves every mapping table, so its annotation names their common base)."""
    endpoint.__annotations__["body"] = model
    return endpoint


def _mapping_routes(router: APIRouter, spec: TableSpec, Db, Admin, run) -> None:  # noqa: N803 (dependency aliases)
    Row = spec.model
    key_fields: dict[str, Any] = {k: (Row.model_fields[k].annotation, ...) for k in spec.key}
    Key = create_model(f"{Row.__name__}Key", **key_fields)
    path = f"/mappings/{spec.name}"

    def checked(conn, body):
        problem = check_row(spec.name, body, repo.load_known(conn))
        if problem:
            raise _unprocessable(*problem)
        return body

    @router.get(
        path,
        summary=f"{spec.name} mappings",
        name=f"list_{spec.name}",
        response_model=None,
        responses=ok(GenericAlias(list, Row)),
    )  # list[Row], the table's own row model
    def list_rows(conn: Db, organisation_id: str | None = None) -> list[dict]:
        return repo.list_mappings(conn, spec, organisation_id)

    def create_row(body: MappingRow, conn: Db, who: Admin) -> dict:
        return run(conn, lambda c: repo.put_mapping(c, spec, checked(c, body), who.name, replace=False))

    router.post(
        path,
        status_code=201,
        summary=f"Add a {spec.name} mapping (409 if its key exists)",
        name=f"create_{spec.name}",
        response_model=None,
        responses={**ok(Row, status=201), 409: error(f"A {spec.name} mapping with this key exists (PUT replaces it)")},
    )(_with_body(create_row, Row))

    def put_row(body: MappingRow, conn: Db, who: Admin) -> dict:
        return run(conn, lambda c: repo.put_mapping(c, spec, checked(c, body), who.name))

    router.put(
        path,
        summary=f"Add or replace a {spec.name} mapping",
        name=f"put_{spec.name}",
        response_model=None,
        responses=ok(Row),
    )(_with_body(put_row, Row))

    @router.delete(
        path,
        status_code=204,
        summary=f"Delete a {spec.name} mapping by its key",
        name=f"delete_{spec.name}",
        response_class=Response,
        responses={404: error(f"No {spec.name} mapping has this key")},
    )
    def delete_row(key: Annotated[Key, Query()], conn: Db, who: Admin) -> Response:
        run(conn, lambda c: repo.delete_mapping(c, spec, key.model_dump(), who.name))
        return Response(status_code=204)
