-- Xero's state of each record (DRAFT ... PAID, VOIDED, DELETED) and when it last changed, as the
-- writer's outcomes and Xero's webhooks report it (services/common/record_status.py).
alter table sync_records add column if not exists xero_status_changed_at timestamptz;
