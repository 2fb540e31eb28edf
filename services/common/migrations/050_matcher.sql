-- The matcher (services/matcher): Xero payments applied back onto ConnectWise invoices.

-- One row per application, so a payment moved in Xero keeps its reversed application (the
-- no-echo rule must still know that ConnectWise payment was the matcher's) beside the new one.
-- A payment has at most one live application.
alter table cw_payment_applications add column if not exists id bigserial;
alter table cw_payment_applications drop constraint if exists cw_payment_applications_pkey;
alter table cw_payment_applications add constraint cw_payment_applications_pkey primary key (id);
create unique index if not exists cw_payment_applications_live
    on cw_payment_applications (organisation_id, xero_payment_id) where state <> 'reversed';
create index if not exists cw_payment_applications_applied
    on cw_payment_applications (cw_invoice_id) where state = 'applied';
alter table cw_payment_applications add column if not exists xero_invoice_id text;
alter table cw_payment_applications add column if not exists payment_date date;
-- The highest ConnectWise payment id on the invoice when the intent was recorded: ConnectWise ids
-- only grow, so after a crash the application can only be a payment with a higher id.
alter table cw_payment_applications add column if not exists max_cw_payment_before bigint not null default 0;
alter table cw_payment_applications add column if not exists created_at timestamptz not null default now();

-- The newest version of each Xero payment the matcher decided on, and what it decided.
create table if not exists matcher_payments (
    organisation_id text not null,
    xero_payment_id text not null,
    xero_updated_at timestamptz not null,    -- Xero's UpdatedDateUTC: an older version is never decided again
    outcome text not null,                   -- the lifecycle event: written, skipped, raised, held
    exception_kind text,
    note text,
    cw_invoice_id bigint,                    -- the ConnectWise invoice it concerns, when one was found
    xero_invoice_id text,
    amount numeric(20,4) not null,
    money jsonb not null,                    -- the payment as decided, to decide again when its invoice has room
    decided_at timestamptz not null default now(),
    primary key (organisation_id, xero_payment_id)
);
create index if not exists matcher_payments_waiting on matcher_payments (cw_invoice_id) where outcome = 'raised';
create index if not exists matcher_payments_by_xero_invoice on matcher_payments (organisation_id, xero_invoice_id);

-- Payments on Xero invoices this product did not write are matched by number.
create index if not exists sync_records_by_number on sync_records (record_type, record_number);

-- Open balances on both sides, for GET /api/balances and the check after each payment cycle.
create table if not exists xero_invoice_balances (   -- kept by ingest's payment cycle (If-Modified-Since)
    organisation_id text not null,
    xero_invoice_id text not null,
    invoice_number text,
    contact_id text,
    contact_name text,
    status text not null,
    total numeric(20,4) not null,
    amount_due numeric(20,4) not null,
    updated_at_xero timestamptz not null,
    seen_at timestamptz not null default now(),
    primary key (organisation_id, xero_invoice_id)
);
create table if not exists cw_invoice_balances (     -- kept by the matcher's check (lastUpdated cursor)
    cw_invoice_id bigint primary key,
    invoice_number text,
    company_identifier text,
    company_name text,
    status text,
    total numeric(20,4),
    balance numeric(20,4) not null,
    last_updated timestamptz,
    seen_at timestamptz not null default now()
);
-- Differences found by the check; one exception each once it outlives a full payment cycle.
create table if not exists balance_differences (
    organisation_id text not null,
    cw_invoice_id bigint not null,
    cw_balance numeric(20,4) not null,
    xero_amount_due numeric(20,4) not null,
    cause text not null,
    first_seen timestamptz not null,
    last_seen timestamptz not null,
    checks integer not null default 1,       -- consecutive checks that found it
    raised_at timestamptz,
    primary key (organisation_id, cw_invoice_id)
);
create table if not exists balance_checks (
    organisation_id text primary key,
    cycle_finished_at timestamptz,           -- the payment cycle the check followed
    checked_at timestamptz not null,
    invoices integer not null,
    differences integer not null,
    difference_total numeric(20,4) not null
);
