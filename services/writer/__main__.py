"""Entry point of the writer service."""

from ..common.runtime import run_service
from .app import run

if __name__ == "__main__":
    run_service("writer", run)
