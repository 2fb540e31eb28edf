-- Progress of the running ingest cycle, for the dashboard: records read so far of those the window holds.
alter table sync_cursors add column if not exists progress_seen integer;
alter table sync_cursors add column if not exists progress_total integer;
