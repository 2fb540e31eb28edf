-- The alert settings a person sets at run time (the console, PUT /api/settings/alerts): the hour
-- the daily digest goes out and who receives alerts. One row; until it exists, CZ_ALERT_DIGEST_HOUR_UTC
-- and CZ_ALERT_EMAIL_TO apply (services/common/alert_settings.py).
create table if not exists alert_settings (
    id boolean primary key default true check (id),
    digest_hour_utc integer not null check (digest_hour_utc between 0 and 23),
    recipients text not null,
    set_by text not null,
    set_at timestamptz not null default now()
);
