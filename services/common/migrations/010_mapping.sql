-- Multi-organisation mapping: organisations, routing rules, per-organisation mapping
-- tables, each organisation's Xero catalog, and the history of every configuration change.

create table if not exists organisations (
    id text primary key check (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name text not null unique,
    tenant_id text not null unique,
    credential_sealed text,            -- refresh token, Fernet-encrypted; never returned by the API
    credential_updated_at timestamptz,
    scopes text not null default '',
    status text not null default 'disconnected' check (status in ('connected','disconnected','disabled')),
    create_contacts boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- First match wins in (priority, id) order; a `default` rule applies only when nothing else matched.
create table if not exists routing_rules (
    id bigserial primary key,
    kind text not null check (kind in ('location','member','tag','default')),
    caption text not null default '',  -- custom field caption, for tag rules only
    value text not null default '',    -- location id, member identifier or tag value
    organisation_id text not null references organisations(id) on delete cascade,
    priority integer not null default 100,
    created_at timestamptz not null default now(),
    unique (kind, caption, value)
);
create unique index if not exists routing_rules_one_default on routing_rules (kind) where kind = 'default';

-- side: 'sales' (invoices, credit notes) or 'purchases' (purchase orders); source '*' is the fallback.
create table if not exists account_mappings (
    organisation_id text not null references organisations(id) on delete cascade,
    side text not null check (side in ('sales','purchases')),
    source text not null,              -- ConnectWise product class (or GL class)
    account_code text not null,
    primary key (organisation_id, side, source)
);

create table if not exists tax_mappings (
    organisation_id text not null references organisations(id) on delete cascade,
    side text not null check (side in ('sales','purchases')),
    source text not null,              -- ConnectWise tax code, 'exempt' for non-taxable lines, '*' fallback
    tax_type text not null,
    primary key (organisation_id, side, source)
);

create table if not exists tracking_mappings (
    organisation_id text not null references organisations(id) on delete cascade,
    source_kind text not null check (source_kind in ('location','department')),
    source text not null,
    category text not null,
    option text not null,
    primary key (organisation_id, source_kind, source)
);

create table if not exists contact_mappings (
    organisation_id text not null references organisations(id) on delete cascade,
    company_identifier text not null,  -- ConnectWise company identifier
    contact_id text not null,          -- Xero ContactID
    primary key (organisation_id, company_identifier)
);

-- Each organisation's Xero catalog, refreshed from GET Accounts, TaxRates, TrackingCategories, Contacts.
create table if not exists xero_accounts (
    organisation_id text not null references organisations(id) on delete cascade,
    code text not null,
    name text not null default '',
    class text not null default '',    -- ASSET, EQUITY, EXPENSE, LIABILITY, REVENUE
    status text not null default 'ACTIVE',
    primary key (organisation_id, code)
);
create table if not exists xero_tax_rates (
    organisation_id text not null references organisations(id) on delete cascade,
    tax_type text not null,
    name text not null default '',
    rate numeric(9,4),
    applies_to text[] not null default '{}',  -- account classes the rate may be used with
    status text not null default 'ACTIVE',
    primary key (organisation_id, tax_type)
);
create table if not exists xero_tracking_options (
    organisation_id text not null references organisations(id) on delete cascade,
    category text not null,
    option text not null,
    status text not null default 'ACTIVE',
    primary key (organisation_id, category, option)
);
create table if not exists xero_contacts (
    organisation_id text not null references organisations(id) on delete cascade,
    contact_id text not null,
    contact_number text,
    name text not null,
    status text not null default 'ACTIVE',
    primary key (organisation_id, contact_id)
);

-- Who changed what, when, before and after. Its highest seq is also the configuration
-- version the mapper compares to know when to reload.
create table if not exists config_changes (
    seq bigserial primary key,
    change_id uuid not null unique,
    table_name text not null,
    key text not null,
    action text not null,
    actor text,
    before jsonb,
    after jsonb,
    changed_at timestamptz not null default now(),
    published_at timestamptz           -- set once on config.changes.v1 (an outbox: nothing is lost if Kafka is down)
);
create index if not exists config_changes_changed_at on config_changes (changed_at desc);
create index if not exists config_changes_unpublished on config_changes (seq) where published_at is null;
