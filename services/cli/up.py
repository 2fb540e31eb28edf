"""`connectzero up`: start the whole local stack, supervise it, stop it cleanly."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time

from rich.console import Console
from rich.progress import Progress

from ..common.logs import configure_logging
from ..common.settings import Settings
from ..stack.demo import drive_payment_cycles
from ..stack.stack import plan, resolve, stack_description, write_stack_file
from ..stack.supervisor import StartupError, Supervisor

console = Console(stderr=True, soft_wrap=True)


def configure_sandbox(description: dict, resolved: Settings) -> None:
    """The sandbox's operator configures the product through its admin API, in a process of
    its own (the product does not import the sandbox); then the demo's payment cycles run."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.sandbox.operator",
            "-",
            "--seed",
            str(resolved.sandbox_seed),
            "--scale",
            str(resolved.sandbox_scale),
        ],
        input=json.dumps(description),
        text=True,
        capture_output=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError((done.stderr or done.stdout).strip()[-2000:])
    if done.stdout.strip() == "configured":
        console.print("configured the sandbox's Xero organisations, routing rules and mappings")
    drive_payment_cycles(description)


def connect_sandbox_webhook(description: dict) -> None:
    """The Xero simulator keeps its webhook in memory: point it at the receivers on every start."""
    from ..stack.realtime import register_sandbox_webhook

    try:
        answer = register_sandbox_webhook(description)
    except Exception as exc:  # the schedule still syncs; say so rather than stop the stack
        answer = {"registered": False, "error": str(exc)}
    if answer.get("registered"):
        console.print("Xero simulator webhooks go to the receivers (ConnectWise callbacks are registered by ingest)")
    else:
        console.print(
            f"[yellow]Xero simulator webhooks not registered, Xero changes wait for the schedule: {answer}[/yellow]"
        )


def run_stack(settings: Settings) -> int:
    configure_logging("supervisor", settings.log_level, settings.log_json)
    started_at = time.monotonic()
    resolved = resolve(settings)
    specs = plan(settings, resolved)
    supervisor = Supervisor(resolved.data_dir / "logs", backoff_max=settings.restart_backoff_max)
    stop_requested = False

    def request_stop(signum, _frame):
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    resolved.stack_file.unlink(missing_ok=True)
    try:
        with Progress(console=console, transient=True, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("starting", total=len(specs))
            parts = [s for s in specs if s.kind == "part"]
            services = [s for s in specs if s.kind != "part"]
            for spec in parts:  # each part must be healthy before anything uses it
                progress.update(task, description=f"starting {spec.name}")
                supervisor.start(spec)
                supervisor.wait_healthy([spec.name], settings.startup_timeout)
                progress.advance(task)
                if stop_requested:
                    return 130
            for spec in services:
                supervisor.start(spec)
            progress.update(task, description="waiting for services")
            supervisor.wait_healthy([s.name for s in services], settings.startup_timeout)
            progress.update(task, completed=len(specs))
    except StartupError as exc:
        print(exc, file=sys.stderr, flush=True)  # plain: a log tail must not be re-wrapped
        supervisor.stop_all()
        return 1
    except BaseException:
        supervisor.stop_all()
        raise

    description = stack_description(resolved, {n: r.proc.pid for n, r in supervisor.running.items()})
    if resolved.sandbox and resolved.demo_setup:
        try:
            configure_sandbox(description, resolved)
        except Exception as exc:
            print(f"demo set-up failed: {exc}", file=sys.stderr, flush=True)
            supervisor.stop_all()
            return 1
    if resolved.sandbox and not settings.xero_url:
        connect_sandbox_webhook(description)
    elapsed = time.monotonic() - started_at
    description["startup_seconds"] = round(elapsed, 2)
    write_stack_file(resolved.stack_file, description)
    console.print(f"Connect Zero is up in {elapsed:.1f}s")
    console.print(f"  dashboard  {description['admin']['url']}/  (token in {resolved.stack_file})")
    console.print(f"  API docs   {description['admin']['docs']}")
    if resolved.sandbox:
        console.print(f"  ConnectWise sandbox  {resolved.cw_url}")
        console.print(f"  Xero sandbox         {resolved.xero_url}")
    console.print("Ctrl-C stops everything.")
    print(f"{description['admin']['url']}/", flush=True)
    try:
        while not stop_requested:
            supervisor.check_and_restart()
            restarts = {n: r.restarts for n, r in supervisor.running.items() if r.restarts}
            if restarts != description.get("restarts", {}):  # scripts and `connectzero status` read them here
                description.update(restarts=restarts, pids={n: r.proc.pid for n, r in supervisor.running.items()})
                write_stack_file(resolved.stack_file, description)
            time.sleep(0.5)
    finally:
        console.print("stopping...")
        supervisor.stop_all()
        resolved.stack_file.unlink(missing_ok=True)
        logging.getLogger("connectzero.supervisor").info("stack stopped")
    return 0
