"""Entry point of the matcher service."""
from ..common.runtime import run_service


def work(settings, stop) -> None:
    stop.wait()


if __name__ == "__main__":
    run_service("matcher", work)
