-- Each organisation's base currency, as Xero's GET Organisation says (read with its catalog), so money
-- about it is shown in its currency.
alter table organisations add column if not exists base_currency text;
