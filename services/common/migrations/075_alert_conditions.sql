-- Conditions of a whole system rather than of one record: an organisation's Xero credential lost,
-- ConnectWise failing cycle after cycle, a refresh token about to lapse. One row per episode: opened
-- when the condition starts to hold, resolved when it stops; one email for each end (services/alerts).
create table if not exists alert_conditions (
    id bigserial primary key,
    kind text not null,                -- xero_credential, connectwise_outage, xero_token_expiring
    subject text not null,             -- what it is about: an organisation id, or 'connectwise'
    message text not null,             -- what holds, in words, as last seen
    details jsonb not null default '{}'::jsonb,
    opened_at timestamptz not null default now(),
    last_seen timestamptz not null default now(),
    resolved_at timestamptz,
    notified_at timestamptz,           -- the email that said it began
    recovery_notified_at timestamptz   -- the email that said it ended (kinds that send one)
);
-- At most one open episode per kind and subject.
create unique index if not exists alert_conditions_one_open on alert_conditions (kind, subject) where resolved_at is null;
create index if not exists alert_conditions_recent on alert_conditions (opened_at desc);
