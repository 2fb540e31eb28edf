"""Clients of the two APIs the product integrates: ConnectWise Manage and Xero
(transport, retries, pacing, OAuth). Services use them; they know no service."""
