"""Xero's status rules applied before a write."""
from decimal import Decimal

import pytest

from services.writer.status import element_errors, element_failed, outcome_of, plan

BODY = {"Type": "ACCREC", "InvoiceNumber": "100", "Status": "DRAFT", "LineItems": []}


def test_new_record_is_created_as_sent():
    d = plan("UPSERT", {**BODY, "InvoiceID": "stale"}, "InvoiceID", None, None)
    assert d.action == "CREATE" and d.element["Status"] == "DRAFT" and "InvoiceID" not in d.element


def test_update_targets_the_xero_id():
    d = plan("UPSERT", {**BODY, "Status": "AUTHORISED"}, "InvoiceID", "x1", "DRAFT")
    assert d.action == "UPDATE" and d.element["InvoiceID"] == "x1" and d.element["Status"] == "AUTHORISED"


def test_an_approved_record_never_goes_back_to_draft():
    d = plan("UPSERT", BODY, "InvoiceID", "x1", "AUTHORISED")
    assert d.action == "UPDATE" and d.element["Status"] == "AUTHORISED"


def test_a_draft_update_leaves_the_status_to_xero():
    # If someone approved it in Xero since our last write, Xero keeps the approval.
    d = plan("UPSERT", BODY, "InvoiceID", "x1", "DRAFT")
    assert d.action == "UPDATE" and "Status" not in d.element


def test_a_paid_record_cannot_be_changed():
    # An AUTHORISED one with some payments is Xero's to refuse (tests/writer/test_money_writer.py).
    d = plan("UPSERT", BODY, "InvoiceID", "x1", "PAID")
    assert d.action == "REJECT" and "payments" in d.reason


def test_an_approved_record_is_never_brought_to_nothing():
    # Xero would mark it paid at once and refuse every change after.
    d = plan("UPSERT", BODY, "InvoiceID", "x1", "AUTHORISED", total=Decimal("0.00"))
    assert d.action == "REJECT" and "totals 0.00" in d.reason and "void it in Xero" in d.reason
    assert plan("UPSERT", BODY, "InvoiceID", "x1", "DRAFT", total=Decimal("0.00")).action == "UPDATE"
    assert plan("UPSERT", BODY, "InvoiceID", "x1", "AUTHORISED", total=Decimal("0.01")).action == "UPDATE"
    assert plan("UPSERT", BODY, "InvoiceID", None, None, total=Decimal("0.00")).action == "CREATE"


@pytest.mark.parametrize("status", ["VOIDED", "DELETED"])
def test_a_voided_or_deleted_record_cannot_be_changed(status):
    d = plan("UPSERT", BODY, "InvoiceID", "x1", status)
    assert d.action == "REJECT" and status in d.reason


def test_void_only_authorised_not_paid():
    assert plan("VOID", BODY, "InvoiceID", "x1", "AUTHORISED").element == {"InvoiceID": "x1", "Status": "VOIDED"}
    assert plan("VOID", BODY, "InvoiceID", "x1", "PAID").action == "REJECT"


@pytest.mark.parametrize("operation", ["VOID", "DELETE"])
@pytest.mark.parametrize("status", ["DRAFT", "SUBMITTED"])
def test_drafts_are_deleted(operation, status):
    d = plan(operation, BODY, "CreditNoteID", "c1", status)
    assert d.action == "DELETE" and d.element == {"CreditNoteID": "c1", "Status": "DELETED"}


def test_delete_of_an_authorised_record_voids_it():
    assert plan("DELETE", BODY, "InvoiceID", "x1", "AUTHORISED").action == "VOID"


def test_nothing_to_remove_is_skipped():
    assert plan("VOID", BODY, "InvoiceID", None, None).action == "SKIP"
    assert plan("DELETE", BODY, "InvoiceID", "x1", "DELETED").action == "SKIP"


def test_unknown_operation_is_refused():
    with pytest.raises(ValueError, match="operation"):
        plan("ARCHIVE", BODY, "InvoiceID", None, None)


def test_element_outcomes():
    ok = {"StatusAttributeString": "OK", "InvoiceID": "x"}
    bad = {"StatusAttributeString": "ERROR", "ValidationErrors": [{"Message": "Account code '999' is not valid"}]}
    assert not element_failed(ok) and element_failed(bad)
    assert element_errors(bad) == ["Account code '999' is not valid"]
    assert [outcome_of(a) for a in ("CREATE", "UPDATE", "VOID", "DELETE")] == ["CREATED", "UPDATED", "VOIDED", "DELETED"]
