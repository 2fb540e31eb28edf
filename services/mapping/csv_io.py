"""Bulk import and export of routing rules and mapping tables as one CSV file.

Format: UTF-8, comma-separated, a header row, then one row per rule or mapping.
The `table` column says what a row is; each table uses its own columns and
leaves the others empty:

| table           | columns used                                           | key (unique per file)                |
|-----------------|--------------------------------------------------------|--------------------------------------|
| `routing_rules` | kind, caption, value, organisation_id, priority        | kind, caption, value                 |
| `accounts`      | organisation_id, side, source, account_code            | organisation_id, side, source        |
| `tax`           | organisation_id, side, source, tax_type                | organisation_id, side, source        |
| `tracking`      | organisation_id, source_kind, source, category, option | organisation_id, source_kind, source |
| `contacts`      | organisation_id, company_identifier, contact_id        | organisation_id, company_identifier  |

`kind` is location, member, tag or default; `side` is sales or purchases;
`source_kind` is location, department, catalog_item or product_class.

`source` is a ConnectWise catalog item identifier or product class (accounts;
an item mapping wins over its class), tax code (tax; `exempt` for non-taxable
lines) or location/department id, catalog item or product class (tracking);
`*` is the fallback for anything unlisted. An empty `priority` takes the kind's default (tag 100,
member 200, location 300). Importing creates or replaces rows by key; rows not
in the file are left alone. Export writes every row in this format, so an
exported file imports back unchanged.

A dry run reports every bad row with its line number (the header is line 1)
and reason: malformed row, unknown table, bad field, unknown organisation,
account code / tax type / tracking option unknown in that Xero organisation,
or a key already used earlier in the file. An apply checks the same and
writes nothing unless every row is good, in one transaction.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from pydantic import ValidationError

from . import repository as repo
from .rows import RULES, TABLES, Known, MappingRow, RoutingRuleRow, TableSpec, check_row, row_key

COLUMNS = (
    "table",
    "organisation_id",
    "kind",
    "caption",
    "value",
    "priority",
    "side",
    "source",
    "source_kind",
    "account_code",
    "tax_type",
    "category",
    "option",
    "company_identifier",
    "contact_id",
)
SPECS: dict[str, TableSpec] = {"routing_rules": RULES, **TABLES}


@dataclass(frozen=True)
class RowError:
    line: int
    table: str
    reason: str


@dataclass
class ParsedFile:
    rows: list[tuple[int, str, MappingRow]] = field(default_factory=list)  # (line, table, validated row)
    errors: list[RowError] = field(default_factory=list)


def _field_errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def parse(text: str, known: Known) -> ParsedFile:
    """Validates every row against its table's shape and the known catalogs."""
    out = ParsedFile()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        out.errors.append(RowError(1, "", "empty file: expected a header row"))
        return out
    except csv.Error as exc:
        out.errors.append(RowError(1, "", f"malformed header: {exc}"))
        return out
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in COLUMNS]
    if "table" not in header or unknown:
        out.errors.append(
            RowError(
                1,
                "",
                f"header must have a 'table' column and only these: {', '.join(COLUMNS)}"
                + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
            )
        )
        return out
    seen: dict[tuple, int] = {}
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            out.errors.append(RowError(reader.line_num, "", f"malformed row: {exc}"))
            break  # the csv module cannot resynchronise after a broken quote
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            out.errors.append(RowError(line, "", f"malformed row: {len(cells)} fields, the header has {len(header)}"))
            continue
        values = {h: c.strip() for h, c in zip(header, cells, strict=True)}
        table = values.pop("table")
        spec = SPECS.get(table)
        if spec is None:
            out.errors.append(RowError(line, table, f"unknown table {table!r}: use one of {', '.join(SPECS)}"))
            continue
        used = set(spec.model.model_fields)
        stray = [k for k, v in values.items() if v and k not in used]
        if stray:
            out.errors.append(RowError(line, table, f"columns not used by table {table}: {', '.join(stray)}"))
            continue
        data = {k: v for k, v in values.items() if k in used and (v or k != "priority")}
        try:
            row = spec.model(**data)
        except ValidationError as exc:
            out.errors.append(RowError(line, table, _field_errors(exc)))
            continue
        problem = check_row(table, row, known)
        if problem:
            out.errors.append(RowError(line, table, problem[1]))
            continue
        key = (table, *row_key(spec, row))
        if key in seen:
            out.errors.append(
                RowError(line, table, f"duplicate key {'/'.join(map(str, key[1:]))} (first on line {seen[key]})")
            )
            continue
        seen[key] = line
        out.rows.append((line, table, row))
    return out


def import_csv(conn, text: str, actor: str, dry_run: bool) -> tuple[ParsedFile, dict, list[dict]]:
    """(parsed file, counts by table, changes recorded). Applies only with no errors and not dry_run."""
    parsed = parse(text, repo.load_known(conn))
    counts: dict[str, int] = {}
    changes: list[dict] = []
    if dry_run or parsed.errors:
        return parsed, counts, changes
    with conn.transaction():
        before = repo.config_version(conn)
        for _line, table, row in parsed.rows:
            if isinstance(row, RoutingRuleRow):
                repo.upsert_rule(conn, row, actor)
            else:
                repo.put_mapping(conn, TABLES[table], row, actor)
            counts[table] = counts.get(table, 0) + 1
        changes = repo.changes_since(conn, before)
    return parsed, counts, changes


def export_csv(conn, organisation_id: str | None = None) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for rule in repo.list_rules(conn):
        if organisation_id is None or rule["organisation_id"] == organisation_id:
            writer.writerow({"table": "routing_rules", **{k: rule[k] for k in RULES.model.model_fields}})
    for name, spec in TABLES.items():
        for row in repo.list_mappings(conn, spec, organisation_id):
            writer.writerow({"table": name, **row})
    return buf.getvalue()
