-- Where each ConnectWise record stands: what ingest last saw and what became of it.
create table if not exists sync_records (
    record_type text not null,
    cw_id text not null,
    record_number text,             -- invoice / PO number, for search
    customer text,                  -- ConnectWise company identifier or name
    content_hash text,              -- hash of the last emitted content
    last_updated timestamptz,       -- ConnectWise _info.lastUpdated
    status text not null default 'pending'
        check (status in ('pending','mapped','synced','exception','failed','skipped')),
    organisation_id text,
    xero_id text,
    xero_status text,
    last_error text,
    total numeric(20,4),
    emitted_at timestamptz,
    updated_at timestamptz not null default now(),
    primary key (record_type, cw_id)
);
create index if not exists sync_records_status on sync_records (record_type, status);

-- Incremental polling cursor per record type (and per organisation for Xero payments).
create table if not exists sync_cursors (
    source text primary key,        -- e.g. 'cw:invoice', 'xero:payments:<org id>'
    cursor_at timestamptz not null,
    last_cycle_started timestamptz,
    last_cycle_finished timestamptz,
    last_cycle_status text,
    updated_at timestamptz not null default now()
);

-- Writes to Xero: intent recorded before the call, outcome after (the idempotency ledger).
create table if not exists xero_ledger (
    organisation_id text not null,
    record_type text not null,
    cw_id text not null,
    xero_id text,
    xero_status text,
    natural_key text,               -- invoice / credit note number, or contact|number|date for bills
    written_hash text,              -- content hash last written successfully
    pending_request_id text,        -- set before a call, cleared after its outcome is stored
    pending_hash text,
    pending_since timestamptz,
    idempotency_key text,
    last_outcome text,
    last_error text,
    updated_at timestamptz not null default now(),
    primary key (organisation_id, record_type, cw_id)
);
create index if not exists xero_ledger_pending on xero_ledger (organisation_id) where pending_request_id is not null;

-- OAuth tokens per organisation credential, refresh token encrypted; rotation written atomically.
create table if not exists xero_tokens (
    credential_id text primary key,
    refresh_token_sealed text not null,
    access_token_sealed text,
    access_expires_at timestamptz,
    rotated_at timestamptz not null default now()
);

-- API budget used per organisation and day (for the roll-up view and pacing across restarts).
create table if not exists api_usage (
    organisation_id text not null,
    day date not null,
    calls integer not null default 0,
    primary key (organisation_id, day)
);
