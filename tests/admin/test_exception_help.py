"""Every kind of exception the money paths raise has its own help in the console: what it
means and where it is fixed, never the generic text of a kind the console does not know."""
from __future__ import annotations

import inspect

import pytest

from services.admin.console.exception_help import HELP, fix_link, help_for
from services.mapper import money as mapper_money
from services.matcher import balance_check, engine, match

# Kind, and the module that raises it (so the list stays the one the code raises).
RAISED = [
    ("missing_payment_account", mapper_money), ("money_mismatch", mapper_money),
    ("document_not_synced", mapper_money), ("document_removed", mapper_money),
    ("unmatched_payment", match), ("overpayment", match), ("application_unsettled", engine),
    ("open_balance_difference", balance_check),
]


@pytest.mark.parametrize("kind, module", RAISED, ids=[k for k, _ in RAISED])
def test_each_money_exception_kind_has_its_own_help(kind, module):
    assert f'"{kind}"' in inspect.getsource(module), f"{module.__name__} no longer raises {kind}"
    helped = help_for(kind)
    assert kind in HELP and helped is HELP[kind]
    assert helped.title and helped.meaning and helped.fix and helped.fix_page


def test_an_unknown_kind_gets_the_generic_help_and_the_fix_pages_link_where_they_say():
    assert help_for("something_new").title == "Something new" and "something_new" not in HELP
    assert fix_link({"kind": "missing_payment_account", "organisation_id": "adelaide"}) == "/settings#payment-accounts"
    assert fix_link({"kind": "unmatched_payment"}) == "/payments"
    assert fix_link({"kind": "document_removed", "organisation_id": "adelaide"}) is None  # fixed on the record itself
