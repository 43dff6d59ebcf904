"""What the gateway benchmarks share: the hall's processes, a light HTTP client, timings.

The throwaway database and vhost, the machine description and the raw INSERT come from
``bench/backbone.py``, so every benchmark measures its baseline the same way.
"""
from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.backbone import (  # noqa: F401  (re-exported for the gateway benchmarks)
    describe_machine,
    print_machine,
    raw_inserts,
    throwaway_database,
    throwaway_vhost,
)
from tests.support.gateway import DEMO_PASSWORD, free_port
from tests.support.processes import ProcessGroup, ServiceProcess, eventually

HTTP_TIMEOUT_SECONDS = 30.0


# -- timings ------------------------------------------------------------------------------


@dataclass
class Timings:
    """Durations of one kind of request, and the wall-clock window they ran in."""

    name: str
    seconds: list[float] = field(default_factory=list)
    errors: int = 0
    wall: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, duration: float) -> None:
        with self.lock:
            self.seconds.append(duration)

    def fail(self) -> None:
        with self.lock:
            self.errors += 1

    @property
    def count(self) -> int:
        return len(self.seconds)

    @property
    def per_second(self) -> float:
        return self.count / self.wall if self.wall else 0.0

    def percentile(self, p: float) -> float:
        if not self.seconds:
            return float("nan")
        if len(self.seconds) == 1:
            return self.seconds[0]
        cuts = statistics.quantiles(self.seconds, n=1000, method="inclusive")
        return cuts[min(int(p * 10) - 1, len(cuts) - 1)]

    @property
    def p50_ms(self) -> float:
        return self.percentile(50) * 1000

    @property
    def p99_ms(self) -> float:
        return self.percentile(99) * 1000


def timed(timings: Timings, call: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    try:
        result = call()
    except Exception:
        timings.fail()
        raise
    timings.add(time.perf_counter() - started)
    return result


def in_threads(threads: int, work: Callable[[int], None]) -> float:
    """Run ``work(index)`` in ``threads`` threads; re-raise the first failure; wall seconds."""
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            work(index)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            failures.append(exc)

    workers = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise failures[0]
    return time.perf_counter() - started


class Budget:
    """A shared allowance of ``count`` actions within ``seconds``, for bounded loops."""

    def __init__(self, count: int, seconds: float) -> None:
        self.left = count
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()

    def take(self) -> int | None:
        """The number of the next action, or None when the count or the time is spent."""
        with self.lock:
            if self.left <= 0 or time.monotonic() >= self.deadline:
                return None
            self.left -= 1
            return self.left


def connect(database_url: str, attempts: int = 20) -> Any:
    """An autocommit connection, waiting while the shared server is at max_connections."""
    import psycopg

    for attempt in range(attempts):
        try:
            return psycopg.connect(database_url, autocommit=True)
        except psycopg.OperationalError as exc:
            if "too many clients" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


# -- HTTP -----------------------------------------------------------------------------------


class HttpError(RuntimeError):
    pass


class Client:
    """One keep-alive HTTP/1.1 connection to the gateway: cheap on the client's CPU."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_SECONDS)

    def request(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, data = self._exchange(method, path, body)
        if status != expect:
            raise HttpError(f"{method} {path} → {status}: {data[:300]!r}")
        return json.loads(data) if data else None

    def _exchange(self, method: str, path: str, body: Any) -> tuple[int, bytes]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = None if body is None else json.dumps(body).encode()
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()  # the server closed an idle keep-alive connection
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def upload(self, name: str, content: bytes) -> str:
        boundary = "onetrip-bench-boundary"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }
        self.conn.request("POST", "/api/v1/files", body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 201:
            raise HttpError(f"upload {name} → {response.status}: {data[:300]!r}")
        return str(json.loads(data)["file_id"])

    def close(self) -> None:
        self.conn.close()


def login(port: int, username: str) -> str:
    client = Client(port)
    try:
        reply = client.request(
            "POST", "/api/v1/session", {"username": username, "password": DEMO_PASSWORD}
        )
        return str(reply["token"])
    finally:
        client.close()


# -- the hall's processes -------------------------------------------------------------------


def hall_env(database_url: str, amqp_uri: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ONETRIP_FAULT"}
    env.update(
        {
            "DATABASE_URL": database_url,
            "AMQP_URI": amqp_uri,
            "ONETRIP_ENV": "development",
            "ONETRIP_LOG_LEVEL": "WARNING",
            "ONETRIP_FILES_DIR": tempfile.mkdtemp(prefix="onetrip-bench-files-"),
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


@dataclass
class Hall:
    processes: ProcessGroup
    started: dict[str, ServiceProcess] = field(default_factory=dict)
    port: int = 0

    def service(self, name: str) -> ServiceProcess:
        process = self.processes.start(name)
        self.started[name] = process
        return process.wait_for_queue(f"rpc-{name}", timeout=60)

    def gateway(self) -> int:
        self.port = free_port()
        process = self.processes.start("gateway", PORT=str(self.port))
        self.started["gateway"] = process
        eventually(lambda: process.alive() and self._answers(), timeout=60)
        return self.port

    def _answers(self) -> bool:
        try:
            Client(self.port).request("GET", "/api/v1/departments")
            return True
        except (OSError, HttpError):
            return False

    def pid(self, name: str) -> int:
        proc = self.started[name].proc
        assert proc is not None
        return proc.pid


@contextmanager
def hall(env: dict[str, str]) -> Iterator[Hall]:
    """Service processes run by the production runner; all stopped (in parallel) at the end."""
    log_dir = Path(tempfile.mkdtemp(prefix="onetrip-bench-logs-"))
    running = Hall(ProcessGroup(env, log_dir))
    try:
        yield running
    finally:
        stoppers = [threading.Thread(target=p.stop) for p in running.processes.processes]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()


# -- reporting ---------------------------------------------------------------------------------


def progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def print_timings(rows: list[Timings], baseline_per_second: float, unit: str = "req") -> None:
    print()
    header = f"{'what':<46} {'n':>6} {unit + '/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'÷ base':>7}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.name:<46} {row.count:>6} {row.per_second:>8,.0f} {row.p50_ms:>8.1f} "
            f"{row.p99_ms:>8.1f} {row.per_second / baseline_per_second:>7.3f}"
        )
    print(f"\ncores busy during each row (of {os.cpu_count()}; load average now {load_average()}):")
    for row in rows:
        print(f"  {row.name[:4].strip()} {describe_cores(row.cores)}")


# -- who uses the CPU ------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def pids_named(command: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    total = sum(values) / CLOCK_TICKS
    idle = (values[3] + values[4]) / CLOCK_TICKS
    return total - idle, total


def pids_with_cmdline(fragment: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if fragment in (entry / "cmdline").read_text(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class CpuMeter:
    """Cores used during a measurement: the service processes, this client, the broker, the
    PostgreSQL backends of this run's database, and the rest of the (shared) machine.

    Backends come and go with their connections, so every process is sampled a few times a
    second and its last sample counts.
    """

    interval = 0.25

    def __init__(self, pids: dict[str, int], database: str) -> None:
        fixed = {**pids, "bench client": os.getpid()}
        self.groups: dict[str, Callable[[], list[int]]] = {
            name: (lambda pid=pid: [pid]) for name, pid in fixed.items()
        }
        self.groups["postgres (this db)"] = lambda: pids_with_cmdline(f" {database} ")
        self.groups["rabbitmq"] = lambda: pids_named("beam.smp")
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.stopping = threading.Event()
        self.sampler = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def _sample(self) -> None:
        for name, pids in self.groups.items():
            for pid in pids():
                used = process_cpu_seconds(pid)
                self.first.setdefault((name, pid), used if not self.sampler.is_alive() else 0.0)
                if used:
                    self.last[(name, pid)] = used

    def _sample_until_stopped(self) -> None:
        while not self.stopping.wait(self.interval):
            self._sample()

    def start(self) -> CpuMeter:
        self._sample()
        self.machine_before = machine_cpu_seconds()[0]
        self.wall_before = time.perf_counter()
        self.sampler.start()
        return self

    def stop(self) -> dict[str, float]:
        self.stopping.set()
        self.sampler.join()
        self._sample()
        wall = time.perf_counter() - self.wall_before
        cores = dict.fromkeys(self.groups, 0.0)
        for (name, pid), used in self.last.items():
            cores[name] += (used - self.first.get((name, pid), 0.0)) / wall
        machine = (machine_cpu_seconds()[0] - self.machine_before) / wall
        cores["rest of machine"] = max(machine - sum(cores.values()), 0.0)
        cores["machine"] = machine
        return cores


def describe_cores(cores: dict[str, float]) -> str:
    return ", ".join(f"{name} {used:.2f}" for name, used in cores.items())


# -- profiles -------------------------------------------------------------------------------------


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else None


@contextmanager
def profiled(pids: dict[str, int], seconds: float, out_dir: Path | None) -> Iterator[None]:
    """py-spy records each process for ``seconds`` (collapsed stacks) while the body runs."""
    executable = py_spy()
    if out_dir is None or executable is None:
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    recorders = [
        subprocess.Popen(
            [executable, "record", "--nonblocking", "--format", "raw", "-r", "50",
             "-d", str(int(seconds)), "-p", str(pid), "-o", str(out_dir / f"{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            try:
                recorder.wait(seconds + 30)
            except subprocess.TimeoutExpired:
                recorder.kill()


def top_functions(collapsed: Path, limit: int = 12) -> list[tuple[float, float, str]]:
    """(inclusive %, self %, function) from py-spy's collapsed stacks, most inclusive first."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [frame.split(" (")[0] + " " + frame.rsplit("/", 1)[-1].split(":")[0].rstrip(")")
                  for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
    ranked = sorted(inclusive, key=lambda f: inclusive[f], reverse=True)[:limit]
    return [(100 * inclusive[f] / total, 100 * own.get(f, 0) / total, f) for f in ranked if total]
