"""Contact matching: mapping, then ContactNumber, then exact name; never one of two."""
from services.mapping.contacts import ContactMatch, NoContact, match_contact
from services.mapping.model import Catalog, Contact

CONTACTS = [
    Contact("c1", "Acme Pty Ltd", "ACME"),
    Contact("c2", "Globex", "GLOBEX"),
    Contact("c3", "Initech", None),
    Contact("c4", "Twins Co", None),
    Contact("c5", "Twins Co", None),
    Contact("c6", "Gone Ltd", "GONE", status="ARCHIVED"),
    Contact("c7", "Acme Pty Ltd (old)", "ACME2"),
]


def test_mapping_wins_over_number_and_name():
    assert match_contact("ACME", "Acme Pty Ltd", {"ACME": "mapped-id"}, CONTACTS) == ContactMatch("mapped-id", "mapping")


def test_contact_number_wins_over_name():
    # The name points at c7's neighbour, but the number is the stronger key.
    assert match_contact("GLOBEX", "Acme Pty Ltd", {}, CONTACTS) == ContactMatch("c2", "contact_number")


def test_exact_name_when_no_number():
    assert match_contact("INITECH", "Initech", {}, CONTACTS) == ContactMatch("c3", "name")
    assert match_contact("INITECH", " Initech ", {}, CONTACTS) == ContactMatch("c3", "name")


def test_name_match_is_exact_not_fuzzy():
    found = match_contact("INI", "initech", {}, CONTACTS)
    assert isinstance(found, NoContact)
    assert "'INI'" in found.reason and "initech" in found.reason


def test_two_contacts_with_the_same_name_is_no_match():
    found = match_contact("TWINS", "Twins Co", {}, CONTACTS)
    assert isinstance(found, NoContact) and "2 Xero contacts are named 'Twins Co'" in found.reason


def test_archived_contacts_are_ignored():
    assert isinstance(match_contact("GONE", "Gone Ltd", {}, CONTACTS), NoContact)


def test_mapping_for_another_company_does_not_leak():
    assert match_contact("INITECH", "Initech", {"ACME": "x"}, CONTACTS) == ContactMatch("c3", "name")


def test_indexed_candidates_give_the_same_answers():
    catalog = Catalog(contacts=CONTACTS)
    for ident, name in [("ACME", "Acme Pty Ltd"), ("GLOBEX", "Acme Pty Ltd"), ("INITECH", "Initech"),
                        ("TWINS", "Twins Co"), ("GONE", "Gone Ltd"), ("ACME2", "Acme Pty Ltd (old)")]:
        assert match_contact(ident, name, {}, catalog.contact_candidates(ident, name)) == match_contact(ident, name, {}, CONTACTS)


def test_account_number_counts_like_contact_number():
    contacts = CONTACTS + [Contact("c8", "Wattle Dental Pty Ltd", None, account_number="WATTLEDENT")]
    assert match_contact("WATTLEDENT", "Wattle Dental", {}, contacts) == ContactMatch("c8", "contact_number")
    catalog = Catalog(contacts=contacts)
    assert match_contact("WATTLEDENT", "x", {}, catalog.contact_candidates("WATTLEDENT", "x")) == ContactMatch("c8", "contact_number")
