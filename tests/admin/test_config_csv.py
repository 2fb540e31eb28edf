"""CSV import and export through the API: a dry run reports every bad row by
line number and reason; an apply is all or nothing; export round-trips."""
from __future__ import annotations

import pytest

from .config_fixtures import AUTH, ORGS, make_client, make_settings, seed_orgs

CSV_HEADERS = dict(AUTH, **{"Content-Type": "text/csv"})
HEADER = "table,organisation_id,kind,caption,value,priority,side,source,source_kind,account_code,tax_type,category,option,company_identifier,contact_id\n"

GOOD = HEADER + """\
routing_rules,adelaide,location,,1,,,,,,,,,,
routing_rules,sydney,location,,2,,,,,,,,,,
routing_rules,holdings,tag,Xero Entity,Holdings,50,,,,,,,,,
routing_rules,sydney,member,,jsmith,,,,,,,,,,
routing_rules,holdings,default,,,,,,,,,,,,
accounts,adelaide,,,,,sales,*,,200,,,,,
accounts,adelaide,,,,,sales,Hardware,,210,,,,,
accounts,sydney,,,,,purchases,*,,300,,,,,
tax,adelaide,,,,,sales,GST,,,OUTPUT,,,,
tax,adelaide,,,,,sales,exempt,,,EXEMPTOUTPUT,,,,
tracking,adelaide,,,,,,1,location,,,Region,South Australia,,
tracking,sydney,,,,,,2,location,,,Region,New South Wales,,
contacts,sydney,,,,,,,,,,,,ACME,11111111-1111-1111-1111-111111111111
"""

# Line numbers count the header as line 1.
BAD = HEADER + """\
accounts,adelaide,,,,,sales,*,,200,,,,,
accounts,perth,,,,,sales,*,,200,,,,,
accounts,adelaide,,,,,sales,Hardware,,999,,,,,
tax,adelaide,,,,,sales,GST,,,VAT20,,,,
accounts,adelaide,,,,,sales,*,,210,,,,,
colours,adelaide,,,,,,,,,,,,,
accounts,adelaide,,,,,sales,Software
accounts,adelaide,,,,,income,Software,,200,,,,,
tracking,adelaide,,,,,,1,location,,,Region,Tasmania,,
tracking,adelaide,,,,,,1,floor,,,Region,South Australia,,
routing_rules,adelaide,location,,Adelaide,,,,,,,,,,
routing_rules,adelaide,tag,,Holdings,,,,,,,,,,
contacts,adelaide,,,,,,,,,,,,,c-1
accounts,adelaide,,,,,sales,Labour,,200,OUTPUT,,,,
routing_rules,adelaide,default,,,,,,,,,,,,
routing_rules,sydney,default,,,,,,,,,,,,
"""
EXPECTED_BAD_LINES = {
    3: "unknown organisation 'perth'",
    4: "unknown account code '999'",
    5: "unknown tax type 'VAT20'",
    6: "duplicate key adelaide/sales/* (first on line 2)",
    7: "unknown table 'colours'",
    8: "malformed row: 8 fields, the header has 15",
    9: "side: Input should be 'sales' or 'purchases'",
    10: "unknown tracking option 'Tasmania'",
    11: "source_kind: Input should be 'location', 'department', 'catalog_item' or 'product_class'",
    12: "value: a location rule needs a ConnectWise location id",
    13: "caption: a tag rule needs the custom field caption",
    14: "company_identifier: String should have at least 1 character",
    15: "columns not used by table accounts: tax_type",
    17: "duplicate key default// (first on line 16)",
}


@pytest.fixture
def client(fresh_database, tmp_path):
    with make_client(make_settings(fresh_database, tmp_path=tmp_path)) as c:
        seed_orgs(c)
        yield c


def state(client):
    tables = {t: client.get(f"/api/mappings/{t}", headers=AUTH).json() for t in ("accounts", "tax", "tracking", "contacts")}
    rules = [{k: r[k] for k in ("kind", "caption", "value", "organisation_id", "priority")}
             for r in client.get("/api/routing-rules", headers=AUTH).json()]
    return rules, tables


def test_dry_run_reports_every_bad_row_by_line_and_changes_nothing(client):
    before = state(client)
    resp = client.post("/api/mappings/import", params={"dry_run": "true"}, content=BAD, headers=CSV_HEADERS)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["dry_run"] is True and body["valid"] is False and body["applied"] == {}
    found = {e["line"]: e["reason"] for e in body["errors"]}
    assert set(found) == set(EXPECTED_BAD_LINES), found
    for line, reason in EXPECTED_BAD_LINES.items():
        assert reason in found[line], (line, found[line])
    assert state(client) == before


def test_apply_with_bad_rows_is_422_and_applies_nothing(client):
    before = state(client)
    resp = client.post("/api/mappings/import", content=BAD, headers=CSV_HEADERS)
    assert resp.status_code == 422
    assert {e["line"] for e in resp.json()["detail"]["errors"]} == set(EXPECTED_BAD_LINES)
    assert "nothing applied" in resp.json()["detail"]["message"]
    assert state(client) == before
    assert client.get("/api/config/changes", params={"table": "mappings.accounts"}, headers=AUTH).json() == []


def test_good_file_dry_run_then_apply_then_export_round_trips(client, fresh_database, tmp_path):
    dry = client.post("/api/mappings/import", params={"dry_run": "true"}, content=GOOD, headers=CSV_HEADERS).json()
    assert dry["valid"] is True and dry["rows"] == 13 and state(client)[1]["accounts"] == []
    applied = client.post("/api/mappings/import", content=GOOD, headers=CSV_HEADERS)
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"] == {"routing_rules": 5, "accounts": 3, "tax": 2, "tracking": 2, "contacts": 1}
    rules, tables = state(client)
    assert {(r["kind"], r["value"], r["organisation_id"], r["priority"]) for r in rules} == {
        ("location", "1", "adelaide", 300), ("location", "2", "sydney", 300), ("tag", "Holdings", "holdings", 50),
        ("member", "jsmith", "sydney", 200), ("default", "", "holdings", 1000)}
    assert tables["tracking"][0]["option"] == "South Australia"
    history = client.get("/api/config/changes", params={"limit": 1000}, headers=AUTH).json()
    assert sum(1 for c in history if c["table"].startswith("mappings.") or c["table"] == "routing_rules") == 13

    exported = client.get("/api/mappings/export.csv", headers=AUTH)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    # Importing the export again changes nothing and records no history.
    again = client.post("/api/mappings/import", content=exported.text, headers=CSV_HEADERS)
    assert again.status_code == 200 and state(client) == (rules, tables)
    assert len(client.get("/api/config/changes", params={"limit": 1000}, headers=AUTH).json()) == len(history)
    # And it rebuilds the same configuration in another installation.
    import psycopg
    from services.common.db import migrate

    other = fresh_database + "_copy"
    with psycopg.connect(fresh_database.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'create database "{other.rsplit("/", 1)[1]}"')
    migrate(other)
    with make_client(make_settings(other, tmp_path=tmp_path)) as copy:
        seed_orgs(copy)
        assert copy.post("/api/mappings/import", content=exported.text, headers=CSV_HEADERS).status_code == 200
        assert state(copy) == (rules, tables)
        assert copy.get("/api/mappings/export.csv", headers=AUTH).text == exported.text


def test_file_level_errors(client):
    for content, reason in [
        ("", "empty file"),
        ("table,organisation,colour\n", "unknown: organisation, colour"),
        (HEADER + 'accounts,adelaide,,,,,sales,"Hard\n', "malformed"),
    ]:
        resp = client.post("/api/mappings/import", params={"dry_run": "true"}, content=content, headers=CSV_HEADERS)
        assert resp.status_code == 200 and resp.json()["valid"] is False
        assert reason in resp.json()["errors"][0]["reason"], resp.json()
    latin = client.post("/api/mappings/import", content=HEADER.encode() + "accounts,adelaide,,,,,sales,Caf\xe9,,200,,,,,\n".encode("latin-1"),
                        headers=CSV_HEADERS)
    assert latin.status_code == 422 and "UTF-8" in str(latin.json())


def test_export_of_one_organisation(client):
    client.post("/api/mappings/import", content=GOOD, headers=CSV_HEADERS)
    text = client.get("/api/mappings/export.csv", params={"organisation_id": "sydney"}, headers=AUTH).text
    lines = text.strip().split("\n")
    assert lines[0] == HEADER.strip() and len(lines) == 1 + 5
    assert all(",sydney," in line for line in lines[1:])
