-- Real books (docs/real-books.md): records dated before an organisation's go-live date, and records
-- decided in a shadow run, have statuses of their own.
alter table sync_records drop constraint if exists sync_records_status_check;
alter table sync_records add constraint sync_records_status_check
    check (status in ('pending','mapped','waiting','synced','exception','failed','skipped','before_go_live','shadow'));

-- How each organisation's books are kept, set by the operator (GET/PUT /api/organisations/{id}/sync-settings).
create table if not exists organisation_sync_settings (
    organisation_id text primary key references organisations(id) on delete cascade,
    go_live_date date,                 -- records dated before it are never written
    mode text not null default 'live' check (mode in ('live','shadow')),
    shadow_since timestamptz,          -- when the current shadow run began
    lock_date_treatment text not null default 'exception'
        check (lock_date_treatment in ('exception','first_open_day')),
    rounding_account_code text,        -- where a rounding line goes when per-line tax cannot make up a difference
    customer_details boolean not null default false,  -- the Xero contact follows the company's billing contact
    updated_at timestamptz not null default now()
);

-- What Xero says of each organisation, read with its catalog: its lock dates and its currencies.
alter table organisations add column if not exists period_lock_date date;
alter table organisations add column if not exists end_of_year_lock_date date;
create table if not exists xero_currencies (
    organisation_id text not null references organisations(id) on delete cascade,
    code text not null,
    description text not null default '',
    primary key (organisation_id, code)
);

-- The shadow report: for each record routed to an organisation in shadow, what would happen.
create table if not exists shadow_outcomes (
    organisation_id text not null,
    record_type text not null,
    cw_id text not null,
    outcome text not null check (outcome in ('create','update','adopt','void','delete','skip','wait','exception')),
    detail text,                       -- the exception's kind, or why nothing would be written
    message text,
    record_number text,
    customer text,
    total numeric(20,4),               -- what ConnectWise says the document totals
    xero_id text,                      -- the Xero document it would update or adopt
    observed_at timestamptz,
    decided_at timestamptz not null default now(),
    primary key (organisation_id, record_type, cw_id)
);
create index if not exists shadow_outcomes_outcome on shadow_outcomes (organisation_id, outcome);

-- Contact details last sent to Xero per contact, so an unchanged billing contact costs no call.
create table if not exists xero_contact_details (
    organisation_id text not null,
    contact_id text not null,
    details_hash text not null,
    updated_at timestamptz not null default now(),
    primary key (organisation_id, contact_id)
);
