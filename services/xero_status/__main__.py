"""Entry point of xero_status: Xero webhook events become the Xero states of the records we wrote."""

from ..common.runtime import run_service
from .app import work

if __name__ == "__main__":
    run_service("xero_status", work)
