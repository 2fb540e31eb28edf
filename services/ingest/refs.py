"""Who manages a ConnectWise company, for routing per staff member.

An invoice names its company but not the company's account manager (its
`territoryManager`, or `accountManager` where a site has one), so ingest looks
companies up in bulk and keeps the answer for a while: managers change rarely,
and one lookup per page of invoices would double the calls of a cycle.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

from ..integrations.connectwise.client import CwClient


def manager_identifier(company: dict) -> str | None:
    for name in ("territoryManager", "accountManager"):
        ref = company.get(name)
        if isinstance(ref, dict) and ref.get("identifier"):
            return str(ref["identifier"])
    return None


class AccountManagers:
    def __init__(self, client: CwClient, ttl_seconds: float = 600.0, clock: Callable[[], float] = time.monotonic):
        self.client, self.ttl, self.clock = client, ttl_seconds, clock
        self._cache: dict[int, tuple[float, str | None]] = {}

    def lookup(self, company_ids: Iterable[int]) -> dict[int, str | None]:
        now = self.clock()
        ids = {int(i) for i in company_ids}
        stale = [i for i in ids if i not in self._cache or now - self._cache[i][0] > self.ttl]
        if stale:
            found = self.client.companies(stale, fields="id,territoryManager")
            for company_id in stale:
                self._cache[company_id] = (now, manager_identifier(found.get(company_id, {})))
        return {i: self._cache[i][1] for i in ids}
