-- How a source's cycles have been failing, for the alerts service: failed cycles in a row (0 after
-- one that succeeds), since when, and why the last one failed (redacted text).
alter table sync_cursors add column if not exists failed_cycles integer not null default 0;
alter table sync_cursors add column if not exists failing_since timestamptz;
alter table sync_cursors add column if not exists last_error text;
