"""Entry point of the sandbox: the ConnectWise simulator on CZ_SANDBOX_CW_PORT and
the Xero simulator on CZ_SANDBOX_XERO_PORT, seeded from CZ_SANDBOX_SEED and
CZ_SANDBOX_SCALE (or --seed / --scale), mutating every CZ_SANDBOX_MUTATE_SECONDS, until SIGTERM.

    python -m services.sandbox --scale 10    # ten times the default synthetic MSP
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from ..common.logs import configure_logging
from ..common.settings import Settings, load_settings
from .app import Sandbox
from .xero.ratelimit import Limits


async def _run(settings: Settings) -> None:
    sandbox = Sandbox(
        settings.sandbox_seed,
        settings.sandbox_scale,
        host=settings.host,
        cw_port=settings.sandbox_cw_port,
        xero_port=settings.sandbox_xero_port,
        mutate_seconds=settings.sandbox_mutate_seconds,
        limits=Limits(per_minute=settings.sandbox_xero_minute_limit, per_day=settings.sandbox_xero_day_limit),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logging.getLogger(__name__).info(
        "sandbox starting: ConnectWise on port %s, Xero on port %s",
        settings.sandbox_cw_port,
        settings.sandbox_xero_port,
    )
    await sandbox.serve(stop)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.sandbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, help="size of the synthetic MSP (default CZ_SANDBOX_SCALE)")
    parser.add_argument("--seed", type=int, help="seed of the synthetic data (default CZ_SANDBOX_SEED)")
    args = parser.parse_args()
    overrides = {k: v for k, v in (("sandbox_scale", args.scale), ("sandbox_seed", args.seed)) if v is not None}
    settings = load_settings(**overrides)
    configure_logging("sandbox", settings.log_level, settings.log_json)
    try:
        asyncio.run(_run(settings))
    except OSError as exc:
        logging.getLogger(__name__).error("%s", exc)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
