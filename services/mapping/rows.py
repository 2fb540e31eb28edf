"""The shape of each configuration row, shared by the admin API and CSV import,
and the checks against what an organisation's Xero catalog knows.

Pydantic validates the shape (so a bad payload names its field); `check_row`
validates meaning against the organisations and catalogs loaded in `Known`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .model import DEFAULT_PRIORITY

Text = Field(min_length=1, max_length=255)


class MappingRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RoutingRuleRow(MappingRow):
    kind: Literal["location", "member", "tag", "default"]
    organisation_id: str = Text
    value: str = Field(
        "", max_length=255, description="Location id, member identifier or tag value; empty for default."
    )
    caption: str = Field("", max_length=255, description="Custom field caption (tag rules only).")
    priority: int | None = Field(
        None, ge=0, le=100000, description="Lower is tried first; default by kind: tag 100, member 200, location 300."
    )

    @model_validator(mode="after")
    def _consistent(self):
        if self.kind == "default":
            if self.value or self.caption:
                raise ValueError("a default rule takes no value or caption")
        elif not self.value:
            raise ValueError(f"value: a {self.kind} rule needs a value")
        if self.kind == "tag" and not self.caption:
            raise ValueError("caption: a tag rule needs the custom field caption")
        if self.kind != "tag" and self.caption:
            raise ValueError("caption: only tag rules take a caption")
        if self.kind == "location" and not self.value.isdigit():
            raise ValueError(f"value: a location rule needs a ConnectWise location id (digits), not {self.value!r}")
        if self.priority is None:
            self.priority = DEFAULT_PRIORITY[self.kind]
        return self


class AccountRow(MappingRow):
    organisation_id: str = Text
    side: Literal["sales", "purchases"]
    source: str = Field(
        min_length=1, max_length=100, description="ConnectWise catalog item identifier or product class, or * for any."
    )
    account_code: str = Field(min_length=1, max_length=10)


class TaxRow(MappingRow):
    organisation_id: str = Text
    side: Literal["sales", "purchases"]
    source: str = Field(
        min_length=1, max_length=100, description="ConnectWise tax code, exempt for non-taxable lines, or *."
    )
    tax_type: str = Field(min_length=1, max_length=50)


class TrackingRow(MappingRow):
    organisation_id: str = Text
    source_kind: Literal["location", "department", "catalog_item", "product_class"]
    source: str = Field(
        min_length=1,
        max_length=100,
        description="ConnectWise location or department id, catalog item identifier or product class, or *.",
    )
    category: str = Field(min_length=1, max_length=100)
    option: str = Field(min_length=1, max_length=100)


class ContactRow(MappingRow):
    organisation_id: str = Text
    company_identifier: str = Field(min_length=1, max_length=100)
    contact_id: str = Field(min_length=1, max_length=64, description="Xero ContactID.")


@dataclass(frozen=True)
class TableSpec:
    name: str  # as in the API and CSV
    sql: str  # Postgres table
    model: type[MappingRow]
    key: tuple[str, ...]
    values: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.key + self.values


TABLES: dict[str, TableSpec] = {
    "accounts": TableSpec(
        "accounts", "account_mappings", AccountRow, ("organisation_id", "side", "source"), ("account_code",)
    ),
    "tax": TableSpec("tax", "tax_mappings", TaxRow, ("organisation_id", "side", "source"), ("tax_type",)),
    "tracking": TableSpec(
        "tracking",
        "tracking_mappings",
        TrackingRow,
        ("organisation_id", "source_kind", "source"),
        ("category", "option"),
    ),
    "contacts": TableSpec(
        "contacts", "contact_mappings", ContactRow, ("organisation_id", "company_identifier"), ("contact_id",)
    ),
}
RULES = TableSpec(
    "routing_rules", "routing_rules", RoutingRuleRow, ("kind", "caption", "value"), ("organisation_id", "priority")
)


@dataclass
class Known:
    """Organisations and their catalogs, loaded once to check many rows."""

    organisations: set[str] = field(default_factory=set)
    accounts: dict[str, set[str]] = field(default_factory=dict)  # org -> active codes
    tax_types: dict[str, set[str]] = field(default_factory=dict)
    tracking: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # org -> category -> options


def check_row(table: str, row: MappingRow, known: Known) -> tuple[str, str] | None:
    """(field, reason) a well-shaped row cannot be applied, or None."""
    values = row.model_dump()  # the table decides which fields the row has
    org = values["organisation_id"]
    if org not in known.organisations:
        return "organisation_id", f"unknown organisation {org!r}"
    if table == "accounts" and values["account_code"] not in known.accounts.get(org, set()):
        return "account_code", (
            f"unknown account code {values['account_code']!r} in Xero organisation {org!r}{_empty(known.accounts, org)}"
        )
    if table == "tax" and values["tax_type"] not in known.tax_types.get(org, set()):
        return "tax_type", (
            f"unknown tax type {values['tax_type']!r} in Xero organisation {org!r}{_empty(known.tax_types, org)}"
        )
    if table == "tracking":
        options = known.tracking.get(org, {})
        category, option = values["category"], values["option"]
        if category not in options:
            return "category", (
                f"unknown tracking category {category!r} in Xero organisation {org!r}{_empty(known.tracking, org)}"
            )
        if option not in options[category]:
            return "option", f"unknown tracking option {option!r} in category {category!r} of Xero organisation {org!r}"
    return None


def _empty(catalog: dict, org: str) -> str:
    return "" if catalog.get(org) else " (its Xero catalog is empty: refresh it first)"


def row_key(spec: TableSpec, row: MappingRow) -> tuple:
    return tuple(getattr(row, k) for k in spec.key)
