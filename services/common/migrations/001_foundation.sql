-- Per-record-type settings: cadence, status on create, alert mode.
create table if not exists record_type_settings (
    record_type text primary key check (record_type in ('invoice','credit_note','procurement','payment','xero_payment')),
    cadence_minutes integer not null default 360 check (cadence_minutes between 60 and 1440),
    create_status text not null default 'DRAFT' check (create_status in ('DRAFT','AUTHORISED')),
    alert_mode text not null default 'immediate' check (alert_mode in ('immediate','digest')),
    updated_at timestamptz not null default now()
);
insert into record_type_settings (record_type) values
    ('invoice'), ('credit_note'), ('procurement'), ('payment'), ('xero_payment')
on conflict do nothing;
