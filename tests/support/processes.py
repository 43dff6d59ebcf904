"""Service processes for integration tests: started, waited for, killed like in production."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from amqp.exceptions import AMQPError, ChannelError
from kombu import Connection

ROOT = Path(__file__).resolve().parents[2]


def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Retry until ``check`` returns something truthy; the last failure explains a timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
            last = result
        except AssertionError as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout}s; last: {last!r}")


def queue_consumers(amqp_uri: str, queue: str) -> int:
    with Connection(amqp_uri, connect_timeout=5) as conn:
        channel = conn.channel()
        try:
            _, _, consumers = channel.queue_declare(queue=queue, passive=True)
            return int(consumers)
        except ChannelError:  # no such queue (yet): the broker closed the channel
            return 0
        finally:
            with contextlib.suppress(AMQPError, OSError):
                channel.close()


class ServiceProcess:
    """One service (or ``module:Class``) run by the production runner in a subprocess."""

    def __init__(self, target: str, env: dict[str, str], log_dir: Path, label: str | None = None):
        self.target = target
        self.env = env
        self.label = label or target.rsplit(":", 1)[-1].replace(".", "_")
        self.log_path = log_dir / f"{self.label}-{int(time.time() * 1000)}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, **extra_env: str) -> ServiceProcess:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - open while the process runs
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shared.runner", self.target],
            cwd=ROOT,
            env={**self.env, **extra_env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_for_queue(self, queue: str, timeout: float = 90.0) -> ServiceProcess:
        eventually(lambda: self.alive() and queue_consumers(self.env["AMQP_URI"], queue) > 0, timeout)
        return self

    def alive(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"{self.label} is not running; log:\n{self.log()[-3000:]}")
        return True

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log is not None:
            self._log.close()

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)


class ProcessGroup:
    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.processes: list[ServiceProcess] = []

    def start(self, target: str, label: str | None = None, **extra_env: str) -> ServiceProcess:
        process = ServiceProcess(target, self.env, self.log_dir, label).start(**extra_env)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()
