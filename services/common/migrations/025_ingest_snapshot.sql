-- What ingest last knew of a record's routing facts (company, location, members, tags, number),
-- so a record deleted in ConnectWise can still be routed to the organisation that holds it.
alter table sync_records add column if not exists snapshot jsonb;
