"""The alert emails: in immediate mode one per kind of exception at each check (one exception
alone gets its own), or one digest a day.

Each exception says what is wrong, with which record, in which organisation,
and links to its audit entry and to force-sync the record once it is fixed.
"""

from __future__ import annotations

import email.policy
from collections import defaultdict
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..common.links import pages
from ..common.record_kinds import RECORD_TYPES, RecordKind

SUBJECT_PREFIX = "[Connect Zero]"


def kind_label(record_type: str) -> str:
    return RecordKind(record_type).label if record_type in RECORD_TYPES else record_type


def record_label(exc: dict) -> str:
    return f"{kind_label(exc['record_type'])} {exc['record_id']}"


def utc_text(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, datetime) else str(value)


def describe(exc: dict, admin_url: str) -> str:
    """The block of text for one exception."""
    link = pages(admin_url, exc)
    lines = [
        f"Kind:          {exc['kind']}",
        f"Record:        {record_label(exc)}" + (f" ({exc['customer']})" if exc.get("customer") else ""),
        f"Organisation:  {exc.get('organisation_id') or 'not routed yet'}",
        f"Problem:       {exc['message']}",
        f"First seen:    {utc_text(exc['first_seen'])}"
        + (
            f" (seen {exc['occurrences']} times, last {utc_text(exc['last_seen'])})"
            if exc.get("occurrences", 1) > 1
            else ""
        ),
    ]
    if link["exception"]:
        lines.append(f"Open it:       {link['exception']}")
    lines += [
        f"Record page:   {link['record']}  (Force sync is on that page)",
        f"Audit entry:   {link['audit_entry'] or 'none recorded'}",
    ]
    return "\n".join(lines)


_FOOTER = (
    "Fix the cause (for example add the missing contact or mapping), then press Force sync on the\n"
    "record's page, or wait for the next cycle. The links open the Connect Zero console; after signing\n"
    "in you land on the page the link points to.\n"
)


# Subjects with a long record id would fold before the first word at 78 columns
# and reach some readers with a leading space; RFC 5322 allows lines to 998.
_POLICY = email.policy.default.clone(max_line_length=200)


def new_message(subject: str, body: str, sender: str, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(body)
    return msg


def immediate_email(exc: dict, admin_url: str, sender: str, recipients: list[str]) -> EmailMessage:
    subject = f"{SUBJECT_PREFIX} {record_label(exc)}: {exc['kind']}"
    body = f"Connect Zero could not sync a record.\n\n{describe(exc, admin_url)}\n\n{_FOOTER}"
    return new_message(subject, body, sender, recipients)


def digest_email(exceptions: list[dict], day: date, admin_url: str, sender: str, recipients: list[str]) -> EmailMessage:
    by_type: dict[str, list[dict]] = defaultdict(list)
    for exc in exceptions:
        by_type[exc["record_type"]].append(exc)
    counts = ", ".join(f"{len(items)} {kind_label(rt)}" for rt, items in sorted(by_type.items()))
    noun = "exception" if len(exceptions) == 1 else "exceptions"
    subject = f"{SUBJECT_PREFIX} Daily digest {day.isoformat()}: {len(exceptions)} {noun} ({counts})"
    sections = [f"Connect Zero daily digest for {day.isoformat()}: {len(exceptions)} open {noun} not reported before."]
    for record_type, items in sorted(by_type.items()):
        title = f"{kind_label(record_type).capitalize()} ({len(items)})"
        sections.append(f"{title}\n{'=' * len(title)}\n\n" + "\n\n".join(describe(e, admin_url) for e in items))
    sections.append(_FOOTER)
    return new_message(subject, "\n\n".join(sections), sender, recipients)


MAX_DESCRIBED = 50  # a burst email describes this many in full and names the rest


def kind_email(kind: str, exceptions: list[dict], admin_url: str, sender: str, recipients: list[str]) -> EmailMessage:
    """All the exceptions of one kind found at one check, in one email: a backfill that
    raises a hundred missing contacts sends one email, not a hundred."""
    if len(exceptions) == 1:
        return immediate_email(exceptions[0], admin_url, sender, recipients)
    shown, rest = exceptions[:MAX_DESCRIBED], exceptions[MAX_DESCRIBED:]
    labels = ", ".join(record_label(e) for e in exceptions[:3]) + (", ..." if len(exceptions) > 3 else "")
    subject = f"{SUBJECT_PREFIX} {len(exceptions)} records: {kind} ({labels})"
    sections = [f"Connect Zero could not sync {len(exceptions)} records, each for the same reason: {kind}."]
    sections += [describe(e, admin_url) for e in shown]
    if rest:
        sections.append(f"And {len(rest)} more: " + ", ".join(record_label(e) for e in rest))
    sections.append(_FOOTER)
    return new_message(subject, "\n\n".join(sections), sender, recipients)
