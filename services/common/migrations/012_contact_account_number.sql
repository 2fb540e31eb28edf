-- A Xero contact's AccountNumber (the customer code people type in Xero) matches a
-- ConnectWise company identifier as well as ContactNumber does.
alter table xero_contacts add column if not exists account_number text;
