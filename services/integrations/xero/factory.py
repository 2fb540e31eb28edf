"""A Xero client as every service that calls Xero uses it: tokens rotated through
Postgres (one credential shared safely by the writer, ingest and the state reader),
paced per organisation from Xero's remaining-limit headers, each exchange recorded
for the audit log and each call counted in the organisation's day usage."""

from __future__ import annotations

from typing import Callable

import httpx

from ...common.exchanges import ExchangeRecorder
from ...common.secrets import SecretBox, secret_key
from ...common.settings import Settings
from .auth import PostgresTokenStore, TokenManager
from .client import PacerGate, XeroClient
from .pacing import Limits, Pacer


def xero_client(settings: Settings, recorder: ExchangeRecorder, count_call: Callable[[str], None]) -> XeroClient:
    http = httpx.Client(timeout=30, event_hooks=recorder.hooks())
    tokens = TokenManager(
        PostgresTokenStore(settings.postgres_url, SecretBox(secret_key(settings))),
        http,
        settings.xero_token_url,
        settings.xero_client_id,
        settings.xero_client_secret,
    )
    limits = Limits(
        settings.xero_limit_concurrent,
        settings.xero_limit_per_minute,
        settings.xero_limit_per_day,
        settings.xero_limit_app_per_minute,
    )
    return XeroClient(settings.xero_url, tokens, PacerGate(Pacer(limits)), recorder, http, on_call=count_call)
