"""What a Xero state reported by a webhook means for a record we wrote. Pure, one row per case."""
import pytest

from services.common.written import Held
from services.xero_status.decide import decide


def held(status, record_type="invoice"):
    return Held("adelaide", record_type, "42", "x-1", status, "INV-0042", False)


# (ledger's state, Xero's state now) -> (recorded?, books disagree?, approved?)
CASES = {
    "our own write coming back": ("AUTHORISED", "AUTHORISED", None),
    "paid in Xero": ("AUTHORISED", "PAID", (True, False, False)),
    "approved in Xero": ("DRAFT", "AUTHORISED", (True, False, True)),
    "submitted for approval in Xero": ("DRAFT", "SUBMITTED", (True, False, False)),
    "approved and paid before we looked": ("SUBMITTED", "PAID", (True, False, True)),
    "voided in Xero": ("AUTHORISED", "VOIDED", (True, True, False)),
    "a draft deleted in Xero": ("DRAFT", "DELETED", (True, True, False)),
    "a payment removed in Xero": ("PAID", "AUTHORISED", (True, False, False)),
    "voided by us, deleted later (not ours to raise)": ("VOIDED", "DELETED", (True, False, False)),
    "a state we never knew, now approved": (None, "AUTHORISED", (True, False, True)),
    "no state in Xero's answer": ("AUTHORISED", "", None),
    "something Xero does not call a state": ("AUTHORISED", "ARCHIVED", None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_decide(case):
    before, now, expected = CASES[case]
    change = decide(held(before), now)
    if expected is None:
        assert change is None
        return
    assert (change is not None, change.disagreement is not None, change.approved) == expected
    assert change.status == now.upper() and change.previous == before


def test_the_disagreement_names_the_record_the_organisation_and_what_to_do():
    change = decide(held("AUTHORISED", "credit_note"), "VOIDED", "CN-0007")
    assert change.exception_kind == "voided_in_xero"
    assert "credit note CN-0007 (ConnectWise id 42) was VOIDED in Xero (organisation adelaide)" in change.disagreement
    assert "void it in ConnectWise too" in change.disagreement
