"""The record types the product syncs, as the admin API, settings and audit log name them."""

INVOICE, CREDIT_NOTE, PROCUREMENT, PAYMENT, XERO_PAYMENT = "invoice", "credit_note", "procurement", "payment", "xero_payment"
# ConnectWise to Xero first, then Xero payments back to ConnectWise.
RECORD_TYPES = (INVOICE, CREDIT_NOTE, PROCUREMENT, PAYMENT, XERO_PAYMENT)
