-- Exceptions finance must hear about: one row per open problem with a record,
-- however many times the cycle raises it again (occurrences counts them).
create table if not exists exceptions (
    id bigserial primary key,
    kind text not null,
    record_type text not null,
    record_id text not null,
    organisation_id text not null default '',
    customer text,
    message text not null,
    details jsonb not null default '{}'::jsonb,
    audit_entry_id text,
    source_topic text not null,
    status text not null default 'open' check (status in ('open', 'resolved')),
    first_seen timestamptz not null,
    last_seen timestamptz not null,
    occurrences integer not null default 1 check (occurrences > 0),
    notified_at timestamptz,  -- null until an email (immediate or digest) named it
    resolved_at timestamptz,
    resolved_by text
);
-- The dedupe rule: at most one open exception per record, kind and organisation.
create unique index if not exists exceptions_one_open
    on exceptions (record_type, record_id, kind, organisation_id) where status = 'open';
create index if not exists exceptions_pending on exceptions (first_seen) where status = 'open' and notified_at is null;
create index if not exists exceptions_by_status on exceptions (status, last_seen desc);

-- Each event seen once: a redelivered message does not count as a new occurrence.
create table if not exists exception_events (
    event_id text primary key,
    exception_id bigint not null references exceptions (id) on delete cascade,
    seen_at timestamptz not null default now()
);

-- Days whose digest went out, so a restart does not send it twice.
create table if not exists alert_digests (
    day date primary key,
    sent_at timestamptz not null default now(),
    exceptions integer not null
);
