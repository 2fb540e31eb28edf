-- The matcher's ledger: each Xero payment applied back in ConnectWise (intent before the call,
-- outcome after). The writer keeps the money it wrote into Xero in xero_ledger, like documents.
-- Both sides read each other's ledger through services/common/echo.py only (the no-echo rule).
create table if not exists cw_payment_applications (
    organisation_id text not null,
    xero_payment_id text not null,           -- Xero PaymentID
    cw_invoice_id bigint,                    -- the ConnectWise invoice it is applied to
    cw_payment_id bigint,                    -- the ConnectWise payment the application created; null until known
    amount numeric(20,4),                    -- what is (being) applied in ConnectWise
    state text not null check (state in ('applying', 'applied', 'reversing', 'reversed')),
    updated_at timestamptz not null default now(),
    primary key (organisation_id, xero_payment_id)
);
create index if not exists cw_payment_applications_cw_payment on cw_payment_applications (cw_payment_id);
create index if not exists cw_payment_applications_in_flight on cw_payment_applications (cw_invoice_id)
    where state in ('applying', 'reversing');
create index if not exists xero_ledger_by_xero_id on xero_ledger (organisation_id, xero_id);
