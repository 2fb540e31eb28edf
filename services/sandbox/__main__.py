"""Entry point of the sandbox: the ConnectWise simulator on CZ_SANDBOX_CW_PORT and
the Xero simulator on CZ_SANDBOX_XERO_PORT, seeded from CZ_SANDBOX_SEED and
CZ_SANDBOX_SCALE, mutating every CZ_SANDBOX_MUTATE_SECONDS, until SIGTERM."""
from __future__ import annotations

import asyncio
import logging
import signal

from ..common.settings import load_settings
from .app import Sandbox
from .xero.ratelimit import Limits


async def _run() -> None:
    settings = load_settings()
    sandbox = Sandbox(settings.sandbox_seed, settings.sandbox_scale, host=settings.host,
                      cw_port=settings.sandbox_cw_port, xero_port=settings.sandbox_xero_port,
                      mutate_seconds=settings.sandbox_mutate_seconds,
                      limits=Limits(per_minute=settings.sandbox_xero_minute_limit,
                                    per_day=settings.sandbox_xero_day_limit))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logging.getLogger(__name__).info("sandbox starting: ConnectWise on port %s, Xero on port %s",
                                     settings.sandbox_cw_port, settings.sandbox_xero_port)
    await sandbox.serve(stop)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(_run())
    except OSError as exc:
        logging.getLogger(__name__).error("%s", exc)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
