"""Starts processes in order, waits for each to be healthy, restarts those that
die (with backoff), and stops them all, process groups included, on request.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..common.metrics import RESTARTS
from .parts import ProcessSpec, tcp_open

log = logging.getLogger("connectzero.supervisor")


class StartupError(RuntimeError):
    def __init__(self, name: str, reason: str, log_tail: str):
        super().__init__(f"{name} failed to start: {reason}\n--- last lines of {name}'s log ---\n{log_tail}")
        self.name = name


@dataclass
class Running:
    spec: ProcessSpec
    proc: subprocess.Popen
    log_path: Path
    restarts: int = 0
    next_restart: float | None = None
    healthy_once: bool = False


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


@dataclass
class Supervisor:
    log_dir: Path
    backoff_max: float = 30.0
    running: dict[str, Running] = field(default_factory=dict)
    stopping: bool = False

    def _spawn(self, spec: ProcessSpec) -> subprocess.Popen:
        if spec.prepare:
            spec.prepare()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{spec.name}.log"
        out = open(log_path, "ab")
        env = {**os.environ, **spec.env}
        # Own session: stopping the stack signals the whole group, children of children included.
        proc = subprocess.Popen(
            spec.argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            user=spec.user,
        )
        out.close()
        return proc

    def start(self, spec: ProcessSpec) -> Running:
        if spec.port is not None and tcp_open("127.0.0.1", spec.port) is None:
            raise StartupError(spec.name, f"port {spec.port} is already in use by another process", "(not started)")
        run = Running(spec, self._spawn(spec), self.log_dir / f"{spec.name}.log")
        self.running[spec.name] = run
        return run

    def wait_healthy(self, names: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(names)
        reasons: dict[str, str] = {}
        while pending:
            for name in list(pending):
                run = self.running[name]
                if run.proc.poll() is not None:
                    raise StartupError(name, f"exited with code {run.proc.returncode}", log_tail(run.log_path))
                problem = run.spec.health()
                if problem is None:
                    pending.remove(name)
                    run.healthy_once = True
                    if run.spec.after_start:
                        run.spec.after_start()
                else:
                    reasons[name] = problem
            if pending and time.monotonic() > deadline:
                name = pending[0]
                raise StartupError(
                    name,
                    f"not healthy after {timeout:.0f}s: {reasons.get(name)}",
                    log_tail(self.running[name].log_path),
                )
            if pending:
                time.sleep(0.2)

    def check_and_restart(self) -> None:
        """Called periodically: restarts any process that died, with exponential backoff."""
        now = time.monotonic()
        for name, run in self.running.items():
            if self.stopping:
                return
            if run.proc.poll() is None:
                if not run.healthy_once and run.spec.health() is None:
                    self._after_start(run)
                continue
            if run.next_restart is None:
                delay = min(self.backoff_max, 0.5 * 2**run.restarts)
                run.next_restart = now + delay
                log.warning(
                    "%s exited with code %s; restarting in %.1fs",
                    name,
                    run.proc.returncode,
                    delay,
                    extra={"service": name, "restarts": run.restarts},
                )
            elif now >= run.next_restart:
                run.restarts += 1
                RESTARTS.labels(service=name).inc()
                run.proc = self._spawn(run.spec)
                run.next_restart = None
                run.healthy_once = False
                log.warning(
                    "restarted %s (restart %d)", name, run.restarts, extra={"service": name, "restarts": run.restarts}
                )

    def _after_start(self, run: Running) -> None:
        run.healthy_once = True
        if run.spec.after_start is None:
            return
        try:
            run.spec.after_start()
        except Exception as exc:  # e.g. the broker came back but is not ready yet: retry next tick
            run.healthy_once = False
            log.warning("after-start step of %s failed, will retry: %s", run.spec.name, exc)

    def stop_all(self, timeout: float = 10.0) -> None:
        self.stopping = True
        for run in reversed(list(self.running.values())):
            _signal_group(run.proc, signal.SIGINT if run.spec.name == "postgres" else signal.SIGTERM)
            # Services go first and must let go of the parts before the parts stop.
            try:
                run.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(run.proc, signal.SIGKILL)
                run.proc.wait(5)
            _signal_group(run.proc, signal.SIGKILL)  # anything left in its group


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
