"""Shared setup for the configuration API tests: a FastAPI app with the config
router on a fresh database, and a catalog for the three Harbour IT organisations."""
from __future__ import annotations

import psycopg
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.common.database import Database
from services.admin.routes_config import config_router
from services.admin.users import token_hash
from services.common.settings import Settings

TOKEN = "test-admin-token"
# A named admin of its own (make_client adds it); the X-Actor header claims someone else, and the
# history must name the user the token belongs to, never what a header says.
FINANCE = "finance@harbour.example"
FINANCE_TOKEN = "czu_finance-harbour-test-token"
AUTH = {"Authorization": f"Bearer {FINANCE_TOKEN}", "X-Actor": "someone-else"}

CATALOG = {
    "accounts": [
        {"code": "200", "name": "Sales", "class": "REVENUE"},
        {"code": "210", "name": "Hardware sales", "class": "REVENUE"},
        {"code": "300", "name": "Purchases", "class": "EXPENSE"},
    ],
    "tax_rates": [
        {"tax_type": "OUTPUT", "name": "GST on Income", "rate": "10.0000", "applies_to": ["REVENUE"]},
        {"tax_type": "INPUT", "name": "GST on Expenses", "rate": "10.0000", "applies_to": ["EXPENSE", "ASSET"]},
        {"tax_type": "EXEMPTOUTPUT", "name": "GST Free Income", "rate": "0", "applies_to": ["REVENUE"]},
    ],
    "tracking": [
        {"category": "Region", "option": "South Australia"},
        {"category": "Region", "option": "New South Wales"},
    ],
    "contacts": [
        {"contact_id": "11111111-1111-1111-1111-111111111111", "contact_number": "ACME", "name": "Acme Pty Ltd"},
    ],
}

ORGS = [
    {"id": "adelaide", "name": "Harbour IT Adelaide Pty Ltd", "tenant_id": "t-adelaide"},
    {"id": "sydney", "name": "Harbour IT Sydney Pty Ltd", "tenant_id": "t-sydney"},
    {"id": "holdings", "name": "Harbour IT Holdings Pty Ltd", "tenant_id": "t-holdings"},
]


def make_settings(postgres_url: str, kafka_bootstrap: str = "", tmp_path=None) -> Settings:
    return Settings(postgres_url=postgres_url, admin_token=TOKEN, secret_key=Fernet.generate_key().decode(),
                    kafka_bootstrap=kafka_bootstrap, **({"data_dir": tmp_path} if tmp_path else {}))


def add_user(postgres_url: str, name: str, role: str, token: str) -> None:
    """A user with a token the test knows (POST /api/users answers a random one)."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("insert into users (name, role, token_hash, created_by) values (%s, %s, %s, 'tests')"
                     " on conflict (token_hash) do nothing",
                     (name, role, token_hash(token)))


def make_client(settings: Settings) -> TestClient:
    add_user(settings.postgres_url, FINANCE, "admin", FINANCE_TOKEN)
    app = FastAPI()
    app.include_router(config_router(settings, Database(settings.postgres_url)))
    return TestClient(app)


def seed_orgs(client: TestClient, orgs=ORGS) -> None:
    for org in orgs:
        assert client.post("/api/organisations", json=org, headers=AUTH).status_code == 201
        assert client.put(f"/api/organisations/{org['id']}/catalog", json=CATALOG, headers=AUTH).status_code == 200
