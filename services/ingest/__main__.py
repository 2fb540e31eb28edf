"""Entry point of the ingest service."""

from ..common.runtime import run_service
from .app import work

if __name__ == "__main__":
    run_service("ingest", work)
