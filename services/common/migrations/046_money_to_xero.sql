-- ConnectWise money into Xero: the bank account each organisation's payments go into, which
-- catalog accounts can take payments, and money held until the document it applies to is in Xero.
alter table organisations add column if not exists payment_account_code text;
alter table xero_accounts add column if not exists type text not null default '';
alter table xero_accounts add column if not exists payments_enabled boolean not null default false;

create table if not exists held_money (
    record_type text not null,               -- payment or refund
    cw_id text not null,
    document_type text not null,             -- invoice or credit_note: what it waits for
    document_cw_id text not null,
    event bytea not null,                     -- the event as it arrived (Avro, framed), decided again on release
    reason text not null,
    held_since timestamptz not null default now(),
    primary key (record_type, cw_id)
);

-- Ingest finds the money it emitted under a page of invoices by the invoice id in its snapshot.
create index if not exists sync_records_money_by_invoice on sync_records (record_type, ((snapshot->>'invoice_id')::bigint))
    where record_type in ('payment', 'refund');
create index if not exists held_money_by_document on held_money (document_type, document_cw_id);
