"""The writer end to end: real broker, real Postgres, the Xero simulator, the writer as a process."""
from __future__ import annotations

import contextlib
import time
from collections import Counter
from types import SimpleNamespace

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from services.common.secrets import SecretBox
from services.sandbox.xero.ratelimit import Limits as SimLimits
from tests.writer.harness import TopicReader, WriterProcess, produce, wait_until, write_request, writer_env
from tests.integrations.xero.sim import ORG_IDS, add_organisations, invoice_body, invoices_by_number, running_simulator

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def writer_stack(kafka_bootstrap, fresh_database, codec, tmp_path, wrap=None, **env_extra):
    secret = Fernet.generate_key().decode()
    box = SecretBox(secret)
    suffix = f"-t{time.time_ns() % 10**9}"
    with running_simulator(limits=SimLimits(per_minute=600), wrap=wrap) as sim:
        orgs = add_organisations(fresh_database, box, sim, suffix=suffix)
        reader = TopicReader(kafka_bootstrap, codec, set(orgs.values()))
        env = writer_env(kafka_bootstrap, fresh_database, sim, secret, tmp_path, **env_extra)
        writer = WriterProcess(env, tmp_path / "writer.log").start()
        s = SimpleNamespace(sim=sim, db=fresh_database, orgs=orgs, reader=reader, writer=writer, codec=codec,
                            bootstrap=kafka_bootstrap, env=env, tmp=tmp_path)
        started = time.monotonic()
        try:
            yield s
        finally:
            print(f"writer stack used for {time.monotonic() - started:.1f}s")
            s.writer.stop()  # the test may have replaced it by a restarted one
            writer.stop()
            reader.close()
            log = (tmp_path / "writer.log").read_text()
            print("\n".join(line for line in log.splitlines() if "assigned" in line or "ready" in line or "started" in line))
            print(log[-3000:])


@pytest.fixture
def writer_parts(kafka_bootstrap, fresh_database, codec, tmp_path):
    """The writer process with its broker, Postgres and Xero simulator (not the session's whole stack)."""
    with writer_stack(kafka_bootstrap, fresh_database, codec, tmp_path) as s:
        yield s


def results_for(s, cw_ids: set[int]) -> dict[int, list[dict]]:
    s.reader.poll(0.3)
    out: dict[int, list[dict]] = {}
    for r in s.reader.results:
        if r["cw_id"] in cw_ids:
            out.setdefault(r["cw_id"], []).append(r)
    return out


def wait_results(s, cw_ids: set[int], count: int = 1, timeout: float = 60) -> dict[int, list[dict]]:
    wait_until(lambda: all(len(v) >= count for v in results_for(s, cw_ids).values())
               and set(results_for(s, cw_ids)) == cw_ids, timeout, what=f"results for {len(cw_ids)} records")
    return results_for(s, cw_ids)


def query(db, sql, *args):
    with psycopg.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def xero_headers(sim, short):
    token = sim.sign_in(short)["access_token"]
    return {"Authorization": f"Bearer {token}", "xero-tenant-id": ORG_IDS[short], "Accept": "application/json"}


def test_requests_become_invoices_in_the_right_organisation_exactly_once(writer_parts):
    s = writer_parts
    requests, expected = [], {}
    for n, short in enumerate(ORG_IDS):
        for i in range(20):
            cw_id = (n + 1) * 1000 + i
            number = f"{short[:3].upper()}-{i}"
            expected.setdefault(short, set()).add(number)
            requests.append(write_request(s.orgs[short], cw_id, invoice_body(s.sim, short, number, f"{100 + i}.25")))
    requests += [dict(r, request_id=r["request_id"] + "-again") for r in requests[:5]]  # redelivered duplicates
    bad = invoice_body(s.sim, "adelaide", "ADE-BAD")
    bad["LineItems"][0]["AccountCode"] = "999"
    requests.append(write_request(s.orgs["adelaide"], 999, bad))
    produce(s.bootstrap, s.codec, requests)

    cw_ids = {r["cw_id"] for r in requests}
    results = wait_results(s, cw_ids)
    for short, numbers in expected.items():
        in_xero = invoices_by_number(s.sim, short)
        assert {n: len(v) for n, v in in_xero.items() if n in numbers} == {n: 1 for n in numbers}
        others = set().union(*(expected[o] for o in expected if o != short))
        assert not others & set(in_xero)  # nothing landed in the wrong organisation
    assert "ADE-BAD" not in invoices_by_number(s.sim, "adelaide")

    outcomes = Counter(r["outcome"] for v in results.values() for r in v)
    assert outcomes["CREATED"] == 60 and outcomes["REJECTED"] == 1
    assert all(r["outcome"] in ("CREATED", "UNCHANGED", "REJECTED") for v in results.values() for r in v)
    created = results[1000][0]
    inv = s.sim.org("adelaide").invoices[created["xero_id"].lower()]
    assert inv["InvoiceNumber"] == "ADE-0" and str(created["total"]) == "110.2800"  # 100.25 + GST 10.03 (rounded per line, as Xero does)

    wait_until(lambda: any(e["record_id"] == "999" for e in s.reader.exceptions), 10, what="the exception")
    exc = next(e for e in s.reader.exceptions if e["record_id"] == "999")
    assert exc["kind"] == "xero_validation" and "Account code '999'" in exc["message"]
    rows = {r[0]: r[1:] for r in query(s.db, "select cw_id, status, organisation_id, xero_id, last_error "
                                             "from sync_records where record_type='invoice'")}
    synced = {cw: v for cw, v in rows.items() if v[0] == "synced" and v[2]}
    assert len(synced) == 60 and synced["2001"][1] == s.orgs["sydney"]
    assert rows["999"][0] == "exception" and "Account code '999'" in rows["999"][3]

    # The same content again: nothing is written, no Xero call is spent.
    calls_before = query(s.db, "select sum(calls) from api_usage")[0][0]
    again = [dict(r, request_id=r["request_id"] + "-third") for r in requests[:60]]
    produce(s.bootstrap, s.codec, again)
    wait_results(s, {r["cw_id"] for r in again}, count=2)
    assert query(s.db, "select sum(calls) from api_usage")[0][0] == calls_before
    latest = {cw: v[-1]["outcome"] for cw, v in results_for(s, {r["cw_id"] for r in again}).items()}
    assert set(latest.values()) == {"UNCHANGED"}


def test_updates_flow_through_and_xero_status_rules_hold(writer_parts):
    s = writer_parts
    org = s.orgs["sydney"]
    first = [write_request(org, 1, invoice_body(s.sim, "sydney", "SYD-1", "100.00")),
             write_request(org, 2, invoice_body(s.sim, "sydney", "SYD-2", "50.00", status="AUTHORISED")),
             write_request(org, 3, invoice_body(s.sim, "sydney", "SYD-3", "70.00"))]
    produce(s.bootstrap, s.codec, first)
    created = wait_results(s, {1, 2, 3})
    ids = {cw: v[0]["xero_id"] for cw, v in created.items()}
    assert {v[0]["outcome"] for v in created.values()} == {"CREATED"}

    # Someone approves SYD-1 in Xero; then ConnectWise changes its amount (still DRAFT there).
    headers = xero_headers(s.sim, "sydney")
    approve = httpx.post(f"{s.sim.api_url}/Invoices/{ids[1]}", headers=headers,
                         json={"Invoices": [{"InvoiceID": ids[1], "Status": "AUTHORISED"}]})
    assert approve.status_code == 200, approve.text
    produce(s.bootstrap, s.codec, [write_request(org, 1, invoice_body(s.sim, "sydney", "SYD-1", "150.00")),
                                   write_request(org, 2, {}, operation="VOID"),
                                   write_request(org, 3, {}, operation="DELETE")])
    after = wait_results(s, {1, 2, 3}, count=2)
    assert [after[1][-1]["outcome"], after[2][-1]["outcome"], after[3][-1]["outcome"]] == ["UPDATED", "VOIDED", "DELETED"]
    inv = s.sim.org("sydney").invoices[ids[1].lower()]
    assert inv["Status"] == "AUTHORISED" and inv["Total"] == pytest.approx(165)  # approval kept, amount changed
    assert s.sim.org("sydney").invoices[ids[2].lower()]["Status"] == "VOIDED"
    assert s.sim.org("sydney").invoices[ids[3].lower()]["Status"] == "DELETED"

    # A payment lands in Xero; a further edit can no longer be applied: one exception, no retry loop.
    account = next(a["Code"] for a in s.sim.org("sydney").accounts.values() if a["Type"] == "BANK")
    paid = httpx.put(f"{s.sim.api_url}/Payments", headers=headers, json={"Payments": [
        {"Invoice": {"InvoiceID": ids[1]}, "Account": {"Code": account}, "Amount": "20.00", "Date": "2026-11-10"}]})
    assert paid.status_code == 200, paid.text
    produce(s.bootstrap, s.codec, [write_request(org, 1, invoice_body(s.sim, "sydney", "SYD-1", "175.00"))])
    final = wait_results(s, {1}, count=3)
    assert final[1][-1]["outcome"] == "REJECTED"
    time.sleep(2)
    assert len(results_for(s, {1})[1]) == 3  # rejected once, not retried
    exc = [e for e in s.reader.exceptions if e["record_id"] == "1"]
    assert len(exc) == 1 and exc[0]["kind"] == "xero_validation"
    assert s.sim.org("sydney").invoices[ids[1].lower()]["Total"] == pytest.approx(165)
    assert query(s.db, "select status from sync_records where cw_id='1'")[0][0] == "exception"


def test_credit_notes_poison_and_a_revoked_credential(writer_parts):
    s = writer_parts
    contact = sorted(s.sim.org("holdings").contacts)[0]
    credit = {"Type": "ACCRECCREDIT", "CreditNoteNumber": "CM-1", "Contact": {"ContactID": contact},
              "Date": "2026-11-03", "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
              "LineItems": [{"Description": "Refund", "Quantity": "2.0000", "UnitAmount": "15.10",
                             "AccountCode": "200", "TaxType": "OUTPUT"}]}
    good = write_request(s.orgs["holdings"], 70, credit, endpoint="CreditNotes", record_type="credit_note")
    poison = dict(write_request(s.orgs["holdings"], 71, {}), body="{not json")
    produce(s.bootstrap, s.codec, [poison, good])
    [result] = wait_results(s, {70})[70]
    assert result["outcome"] == "CREATED" and str(result["total"]) == "33.2200"  # 30.20 + 3.02 GST
    note = s.sim.org("holdings").credit_notes[result["xero_id"].lower()]
    assert note["CreditNoteNumber"] == "CM-1" and note["Status"] == "AUTHORISED"
    assert 71 not in results_for(s, {71})  # the poison message was parked, not written

    # The organisation's Xero connection is revoked: one FAILED result and exception, no loop.
    s.sim.control("revoke-refresh-token")
    with psycopg.connect(s.db, autocommit=True) as conn:
        conn.execute("update xero_tokens set access_token_sealed = null, access_expires_at = null")
    s.writer.stop()
    s.writer = WriterProcess(s.env, s.tmp / "writer.log").start()  # a new process: no cached access token
    produce(s.bootstrap, s.codec, [write_request(s.orgs["sydney"], 72, invoice_body(s.sim, "sydney", "SYD-72"))])
    [failed] = wait_results(s, {72})[72]
    assert failed["outcome"] == "FAILED" and "reconnect" in failed["errors"][0]
    wait_until(lambda: any(e["record_id"] == "72" for e in s.reader.exceptions), 10, what="the exception")
    assert next(e for e in s.reader.exceptions if e["record_id"] == "72")["kind"] == "xero_credential"
    assert query(s.db, "select status from organisations where id = %s", s.orgs["sydney"])[0][0] == "disconnected"
    time.sleep(2)
    assert len(results_for(s, {72})[72]) == 1  # not retried in a loop


def test_an_organisation_at_its_day_limit_holds_up_no_other(writer_parts):
    s = writer_parts
    # Adelaide has used its day's calls (a busy day, or another tool): the writer waits for tomorrow there.
    query(s.db, "insert into api_usage (organisation_id, day, calls) values (%s, (now() at time zone 'utc')::date,"
                " 5000) returning calls", s.orgs["adelaide"])
    requests = [write_request(s.orgs[short], 60000 + n * 3 + i, invoice_body(s.sim, short, f"L-{short}-{n}"))
                for n in range(120) for i, short in enumerate(ORG_IDS)]
    started = time.monotonic()
    produce(s.bootstrap, s.codec, requests)
    others = {r["cw_id"] for r in requests if not r["organisation_id"].startswith("adelaide")}
    wait_results(s, others, timeout=90)
    took = time.monotonic() - started
    # Sydney and Holdings wrote everything (5 calls of 50 each, well inside their minute), Adelaide nothing yet.
    for short in ("sydney", "holdings"):
        assert sum(1 for n in invoices_by_number(s.sim, short) if str(n).startswith(f"L-{short}-")) == 120
    assert not [n for n in invoices_by_number(s.sim, "adelaide") if str(n).startswith("L-adelaide-")]
    adelaide = {r["cw_id"] for r in requests if r["organisation_id"].startswith("adelaide")}
    assert not set(results_for(s, adelaide))  # waiting, not failed: nothing lost, nothing reported yet
    # Later work for the others is not stuck behind Adelaide's wait either.
    later = [write_request(s.orgs[short], 70000 + n, invoice_body(s.sim, short, f"M-{short}-{n}"))
             for n in range(10) for short in ("sydney", "holdings")]
    produce(s.bootstrap, s.codec, later)
    wait_results(s, {r["cw_id"] for r in later}, timeout=60)
    print(f"two organisations wrote 240 invoices in {took:.1f}s while the third waited for its day limit")
