-- The record lifecycle (services/common/lifecycle.py): which observation a status is about,
-- when it last changed, money held until its document exists ('waiting'), and refunds.
alter table sync_records add column if not exists status_observed_at timestamptz;
alter table sync_records add column if not exists status_changed_at timestamptz;
update sync_records set status_observed_at = coalesce(status_observed_at, emitted_at),
    status_changed_at = coalesce(status_changed_at, updated_at);
alter table sync_records drop constraint if exists sync_records_status_check;
alter table sync_records add constraint sync_records_status_check
    check (status in ('pending','mapped','waiting','synced','exception','failed','skipped'));

alter table record_type_settings drop constraint if exists record_type_settings_record_type_check;
alter table record_type_settings add constraint record_type_settings_record_type_check
    check (record_type in ('invoice','credit_note','procurement','payment','refund','xero_payment'));
insert into record_type_settings (record_type) values ('refund') on conflict do nothing;
