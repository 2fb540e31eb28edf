"""The Xero Accounting API client, its OAuth tokens and its rate-limit pacing."""
