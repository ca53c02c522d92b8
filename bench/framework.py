"""The benchmark machinery: scenarios, databases, the granian server, wrk, and the result table.

A `Scenario` names a request path, a wrk Lua script (in `bench/lua/`) and a setup function. The setup runs in this
process against a fresh database, through myaccount's own Python API (`build_core`, `myaccount.admin`, the token
issuance code), before the server starts; it returns a `Fixture`: the arguments the Lua script gets for the
warm-up and for the measured run (usually paths of token files it wrote into the scenario's work directory).
"""

import base64
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from myaccount.core import Core, build_core
from myaccount.settings import Settings
from myaccount.store.db import normalize_url

__all__ = [
    "BENCH_DIR",
    "Fixture",
    "Options",
    "Result",
    "Scenario",
    "SetupContext",
    "WrkResult",
    "parse_duration",
    "parse_wrk",
    "print_summary",
    "print_table",
    "run_scenario",
    "write_json",
]

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
LUA_DIR = BENCH_DIR / "lua"
VENV_BIN = Path(sys.executable).parent
READY_PATH = "/.well-known/openid-configuration"


# scenarios
@dataclass(frozen=True)
class Fixture:
    """What a scenario's setup hands to the load phase."""

    run_args: tuple[str, ...] = ()  # arguments after `--` for the measured wrk run
    warmup_args: tuple[str, ...] | None = None  # for the warm-up; None: the same as run_args
    facts: Mapping[str, Any] = field(default_factory=dict)  # what was created (users, tokens, ...), for the report


@dataclass
class SetupContext:
    """Handed to a scenario's setup: the core on the scenario's fresh database, and where to put files."""

    core: Core
    workdir: Path
    connections: int
    threads: int

    def write_lines(self, name: str, lines: Iterable[str]) -> Path:
        path = self.workdir / name
        path.write_text("".join(f"{line}\n" for line in lines))
        return path


SetupFn = Callable[[SetupContext], Fixture]


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    method: str
    path: str  # the URL path wrk is pointed at (scripts may build their own requests)
    setup: SetupFn
    script: str | None = None  # file name in bench/lua/; None: plain wrk
    target_rps: float | None = None
    target_label: str | None = None
    server_env: Mapping[str, str] = field(default_factory=dict)  # extra MYACCOUNT_* settings for this scenario


# options and results
@dataclass(frozen=True)
class Options:
    duration: str = "10s"
    warmup: str = "3s"
    connections: int = 64
    threads: int = 2
    workers: int = 2
    loop: str = "auto"
    database: str = "sqlite"
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    server_args: tuple[str, ...] = ()
    timeout: str = "10s"
    keep: bool = False
    quiet_wait: float = 30.0  # seconds to wait for other processes to quieten before each scenario
    profile_dir: Path | None = None  # py-spy speedscope profiles of the workers during the measured run


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    latency_ms: dict[str, float]  # "avg", "max", "50", "75", "90", "99"
    non_2xx: int  # wrk counts status >= 400
    socket_errors: dict[str, int]  # connect, read, write, timeout
    script: dict[str, Any]  # `BENCH {...}` lines a Lua script printed in done()
    raw: str
    cpu_seconds: float = 0.0  # wrk's own CPU time (user + system)

    @property
    def errors(self) -> int:
        # A script that checks every response (e.g. for a rotated refresh token) knows better than wrk's >= 400.
        bad = int(self.script.get("bad_responses", self.non_2xx))
        return bad + sum(self.socket_errors.values())


@dataclass(frozen=True)
class Result:
    scenario: str
    backend: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    seconds: float
    latency_ms: dict[str, float]
    non_2xx: int
    socket_errors: dict[str, int]
    script: dict[str, Any]
    server_cpu_percent: float
    wrk_cpu_percent: float
    server_cpu_ms_per_request: float  # less sensitive to contention than req/s
    db_cpu_percent: float  # PostgreSQL / Redis server processes
    other_cpu_percent: float  # everything else on the machine during the run: noise if well above 0
    setup_seconds: float
    facts: Mapping[str, Any]
    target_rps: float | None
    target_label: str | None
    wrk_output: str


# durations
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str) -> float:
    """'10s', '1m', '500ms' or a bare number of seconds, as seconds."""
    match = _DURATION.match(value.strip())
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 10s, 1m)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def _wrk_duration(value: str) -> str:
    """wrk takes whole seconds with a unit; round anything finer up to at least 1s."""
    return f"{max(1, round(parse_duration(value)))}s"


# wrk output
_TIME = r"([\d.]+)(us|ms|s|m|h)"


def _ms(number: str, unit: str) -> float:
    return float(number) * _UNITS[unit] * 1000.0


def parse_wrk(output: str) -> WrkResult:
    """Parse `wrk --latency` output (and the `BENCH {json}` lines our scripts print)."""
    latency: dict[str, float] = {}
    if m := re.search(rf"^\s*Latency\s+{_TIME}\s+{_TIME}\s+{_TIME}", output, re.M):
        latency["avg"] = _ms(m.group(1), m.group(2))
        latency["max"] = _ms(m.group(5), m.group(6))
    for pct, number, unit in re.findall(rf"^\s*(50|75|90|99)%\s+{_TIME}\s*$", output, re.M):
        latency[pct] = _ms(number, unit)
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", output, re.M)
    if not m:
        raise ValueError("wrk printed no request count:\n" + output)
    requests, seconds = int(m.group(1)), float(m.group(2)) * _UNITS[m.group(3)]
    rps_match = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    rps = float(rps_match.group(1)) if rps_match else (requests / seconds if seconds else 0.0)
    socket_errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        socket_errors = dict(zip(socket_errors, map(int, m.groups()), strict=True))
    non_2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    script: dict[str, Any] = {}
    for line in re.findall(r"^BENCH (\{.*\})\s*$", output, re.M):
        script.update(json.loads(line))
    return WrkResult(
        requests=requests,
        seconds=seconds,
        rps=rps,
        latency_ms=latency,
        non_2xx=int(non_2xx_match.group(1)) if non_2xx_match else 0,
        socket_errors=socket_errors,
        script=script,
        raw=output,
    )


def wrk_version() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        return "missing"
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split(" Copyright")[0].replace("debian/", "").strip() if first else "unknown"


def run_wrk(
    url: str, *, options: Options, duration: str, script: str | None, args: Sequence[str], cwd: Path
) -> WrkResult:
    command = [
        "wrk",
        "--latency",
        f"--threads={options.threads}",
        f"--connections={options.connections}",
        f"--duration={_wrk_duration(duration)}",
        f"--timeout={_wrk_duration(options.timeout)}",
    ]
    if script:
        command.append(f"--script={LUA_DIR / script}")
    command.append(url)
    if args:
        command += ["--", *args]
    limit = parse_duration(duration) + parse_duration(options.timeout) + 30
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=cwd)
        status, cpu = _wait_with_rusage(process, timeout=limit)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    output = stdout + (f"\n[stderr]\n{stderr}" if stderr.strip() else "")
    if status != 0:
        raise RuntimeError(f"wrk exited with {status}:\n{output}")
    return replace(parse_wrk(output), cpu_seconds=cpu)


def _wait_with_rusage(process: "subprocess.Popen[bytes]", *, timeout: float) -> tuple[int, float]:
    """Wait for a child and return its exit status and the CPU seconds it used (wait4's rusage)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"{process.args!r} did not finish within {timeout:.0f}s")
        time.sleep(0.05)


# databases
class Backend(Protocol):
    name: str

    def fresh(self, workdir: Path) -> str: ...

    def drop(self) -> None: ...


class SqliteBackend:
    name = "sqlite"

    def fresh(self, workdir: Path) -> str:
        return f"sqlite:///{workdir / 'bench.db'}"

    def drop(self) -> None:
        pass  # the file goes with the work directory


class PostgresBackend:
    """A fresh database `myaccount_bench` on the server named by the URL, made again for every scenario."""

    name = "postgresql"
    database = "myaccount_bench"

    def __init__(self, server_url: str) -> None:
        self.server_url = normalize_url(server_url)

    def _admin(self, statement: str) -> None:
        engine = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()

    def fresh(self, workdir: Path) -> str:
        self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.database}"')
        return make_url(self.server_url).set(database=self.database).render_as_string(hide_password=False)

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


def backend_for(options: Options) -> Backend:
    if options.database == "sqlite":
        return SqliteBackend()
    if options.database == "postgresql":
        return PostgresBackend(options.pg_url)
    raise ValueError(f"unknown database {options.database!r}")


# the server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def resolved_loop(loop: str) -> str:
    """What granian's `--loop auto` picks in this virtualenv (rloop, then uvloop, then asyncio)."""
    if loop != "auto":
        return loop
    for candidate in ("rloop", "uvloop"):
        if find_spec(candidate) is not None:
            return candidate
    return "asyncio"


def granian_version() -> str:
    try:
        from importlib.metadata import version

        return version("granian")
    except Exception:
        return "unknown"


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def _group_members(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:  # fields[0] is the state; [1] ppid, [2] pgrp
            pids.append(int(entry.name))
    return pids


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all cores; /proc/stat minus idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user nice system idle iowait irq softirq steal
    return busy / _clock_ticks()


DATABASE_PROCESSES = ("postgres", "redis-server")


def database_cpu_ticks() -> dict[int, int]:
    """CPU ticks of each database server process on this machine (PostgreSQL backends, Redis), by pid."""
    ticks = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name.startswith(DATABASE_PROCESSES):
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    return ticks


def database_cpu_seconds(before: Mapping[int, int]) -> float:
    after = database_cpu_ticks()
    return sum(t - before.get(pid, 0) for pid, t in after.items()) / _clock_ticks()


def wait_until_quiet(max_wait: float, *, busy_below: float = 0.15, sample: float = 2.0) -> float:
    """Wait (at most `max_wait` s) until the machine's cores are mostly idle; returns the last busy share (0-1)."""
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + max_wait
    announced = False
    while True:
        before = machine_cpu_seconds()
        time.sleep(sample)
        busy = (machine_cpu_seconds() - before) / (sample * cores)
        if busy < busy_below or time.monotonic() >= deadline:
            return busy
        if not announced:
            print(f"  the machine is busy ({100 * busy:.0f}% of its CPU); waiting up to {max_wait:.0f}s", flush=True)
            announced = True


def _cpu_seconds(pids: Iterable[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / _clock_ticks()


class Server:
    """granian serving `myaccount.asgi:app_from_env`, in its own process group."""

    def __init__(self, *, port: int, env: Mapping[str, str], options: Options, log_path: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.command = [
            str(VENV_BIN / "granian"),
            "--interface",
            "asgi",
            "--factory",
            "--workers",
            str(options.workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ws",
            "--loop",
            options.loop,
            "--log-level",
            "warning",
            *options.server_args,
            "myaccount.asgi:app_from_env",
        ]
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"granian exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + READY_PATH, timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"granian did not answer {READY_PATH} within {timeout:.0f}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def pids(self) -> list[int]:
        return _group_members(self.process.pid) if self.process else []

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        return [pid for pid in self.pids() if pid != self.process.pid]

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.pids())

    def stop(self, timeout: float = 15.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # granian's graceful shutdown
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        # Workers that outlived the main process (they should not) go with the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def _profiling(server: Server, options: Options, scenario: str, seconds: float) -> Iterator[None]:
    """py-spy records each worker for the measured run (`--profile DIR`), if py-spy is installed."""
    if options.profile_dir is None:
        yield
        return
    py_spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    if not Path(py_spy).exists():
        print("  (--profile: py-spy is not installed; `.venv/bin/pip install py-spy`)", flush=True)
        yield
        return
    options.profile_dir.mkdir(parents=True, exist_ok=True)
    recorders = []
    for pid in server.worker_pids():
        out = options.profile_dir / f"{scenario}-{options.database}-{pid}.folded"
        command = [py_spy, "record", "--pid", str(pid), "--rate", "200", "--duration", str(max(1, int(seconds)))]
        command += ["--format", "raw", "--output", str(out)]
        recorders.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        yield
    finally:
        for recorder in recorders:
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait()
        print(f"  profiles: {options.profile_dir}/{scenario}-{options.database}-*.folded", flush=True)


# one scenario
def new_secret_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


def server_environment(settings: Settings, extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYACCOUNT_", "GRANIAN_"))}
    assert settings.secret_key is not None
    env.update(
        MYACCOUNT_PUBLIC_URL=settings.public_url,
        MYACCOUNT_DATABASE_URL=settings.database_url,
        MYACCOUNT_SECRET_KEY=settings.secret_key,
        MYACCOUNT_ENVIRONMENT=settings.environment,
    )
    env.update(extra)
    return env


def run_scenario(scenario: Scenario, options: Options) -> Result:
    backend = backend_for(options)
    workdir = Path(tempfile.mkdtemp(prefix=f"myaccount-bench-{scenario.name}-"))
    try:
        port = free_port()
        settings = Settings(
            # http is allowed for WebAuthn origins only on localhost; wrk still connects to 127.0.0.1.
            public_url=f"http://localhost:{port}",
            database_url=backend.fresh(workdir),
            secret_key=new_secret_key(),
            environment="production",
            secret_key_file=workdir / "unused.secret",
        )
        if options.quiet_wait > 0:
            busy = wait_until_quiet(options.quiet_wait)
            if busy >= 0.15:
                print(f"  still busy ({100 * busy:.0f}%); measuring anyway (see 'other CPU')", flush=True)
        print(f"[{scenario.name}/{backend.name}] setup ...", flush=True)
        started = time.monotonic()
        core = build_core(settings)
        try:
            fixture = scenario.setup(
                SetupContext(core=core, workdir=workdir, connections=options.connections, threads=options.threads)
            )
        finally:
            core.db.dispose()
        setup_seconds = time.monotonic() - started
        facts = ", ".join(f"{k}={v}" for k, v in fixture.facts.items())
        print(f"[{scenario.name}/{backend.name}] setup done in {setup_seconds:.1f}s ({facts})", flush=True)

        server = Server(
            port=port,
            env=server_environment(settings, scenario.server_env),
            options=options,
            log_path=workdir / "granian.log",
        )
        url = server.url + scenario.path
        warmup_args = fixture.run_args if fixture.warmup_args is None else fixture.warmup_args
        with running(server):
            if parse_duration(options.warmup) > 0:
                print(f"[{scenario.name}/{backend.name}] warm-up {options.warmup} ...", flush=True)
                warm = run_wrk(
                    url, options=options, duration=options.warmup, script=scenario.script, args=warmup_args, cwd=workdir
                )
                if warm.errors:
                    print(f"  warm-up had {warm.errors} errors", flush=True)
            print(f"[{scenario.name}/{backend.name}] measuring {options.duration} ...", flush=True)
            cpu_server, cpu_machine, db_ticks = server.cpu_seconds(), machine_cpu_seconds(), database_cpu_ticks()
            seconds = parse_duration(options.duration)
            with _profiling(server, options, scenario.name, seconds):
                measured = run_wrk(
                    url,
                    options=options,
                    duration=options.duration,
                    script=scenario.script,
                    args=fixture.run_args,
                    cwd=workdir,
                )
                cpu_server = server.cpu_seconds() - cpu_server
                cpu_machine = machine_cpu_seconds() - cpu_machine
                cpu_db = database_cpu_seconds(db_ticks)
            log = server.log()
        if "Traceback" in log or "ERROR" in log:
            print(f"  server log (tail):\n{log}", flush=True)
        wall = measured.seconds or seconds
        return Result(
            scenario=scenario.name,
            backend=backend.name,
            rps=measured.rps,
            p50_ms=measured.latency_ms.get("50", float("nan")),
            p99_ms=measured.latency_ms.get("99", float("nan")),
            errors=measured.errors,
            requests=measured.requests,
            seconds=measured.seconds,
            latency_ms=measured.latency_ms,
            non_2xx=measured.non_2xx,
            socket_errors=measured.socket_errors,
            script=measured.script,
            server_cpu_percent=100.0 * cpu_server / wall,
            wrk_cpu_percent=100.0 * measured.cpu_seconds / wall,
            db_cpu_percent=100.0 * cpu_db / wall,
            server_cpu_ms_per_request=1000.0 * cpu_server / measured.requests if measured.requests else float("nan"),
            other_cpu_percent=max(0.0, 100.0 * (cpu_machine - cpu_server - measured.cpu_seconds - cpu_db) / wall),
            setup_seconds=setup_seconds,
            facts=dict(fixture.facts),
            target_rps=scenario.target_rps,
            target_label=scenario.target_label,
            wrk_output=measured.raw,
        )
    finally:
        with contextlib.suppress(Exception):
            backend.drop()
        if options.keep:
            print(f"  kept {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# reporting
def _fmt_ms(value: float) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:.2f}ms" if value < 100 else f"{value:.0f}ms"


def print_table(results: Sequence[Result]) -> None:
    headers = (
        "scenario",
        "backend",
        "req/s",
        "p50",
        "p99",
        "errors",
        "requests",
        "server CPU",
        "CPU/req",
        "db CPU",
        "wrk CPU",
        "other CPU",
    )
    rows = [
        (
            r.scenario,
            r.backend,
            f"{r.rps:,.0f}",
            _fmt_ms(r.p50_ms),
            _fmt_ms(r.p99_ms),
            f"{r.errors:,}",
            f"{r.requests:,}",
            f"{r.server_cpu_percent:.0f}%",
            _fmt_ms(r.server_cpu_ms_per_request),
            f"{r.db_cpu_percent:.0f}%",
            f"{r.wrk_cpu_percent:.0f}%",
            f"{r.other_cpu_percent:.0f}%",
        )
        for r in results
    ]
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    right = set(range(2, len(headers)))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print()
    print(line(headers))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    print()
    if any(r.other_cpu_percent > 15 for r in results):
        print("note: other processes used CPU during some runs (the 'other CPU' column); their numbers are low.")
        print()


def print_summary(results: Sequence[Result]) -> bool:
    """Compare with the targets; True when every targeted scenario met its target without errors."""
    ok = True
    targeted = [r for r in results if r.target_rps]
    if not targeted:
        return ok
    print("Targets (2-core machine, wrk on the same machine):")
    for r in targeted:
        assert r.target_rps is not None
        met = r.rps >= r.target_rps and r.errors == 0
        ok &= met
        verdict = "MET" if met else "MISSED"
        error_note = "" if r.errors == 0 else f", {r.errors} errors"
        print(
            f"  {verdict:6} {r.target_label or r.scenario} ({r.scenario}/{r.backend}): "
            f"{r.rps:,.0f} req/s vs >= {r.target_rps:,.0f} req/s ({100 * r.rps / r.target_rps:.0f}%{error_note})"
        )
    print()
    return ok


def environment_facts(options: Options) -> dict[str, Any]:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=False)
    return {
        "commit": commit.stdout.strip() or None,
        "dirty": bool(dirty.stdout.strip()),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "granian": granian_version(),
        "loop": resolved_loop(options.loop),
        "wrk": wrk_version(),
    }


def write_json(path: Path, options: Options, results: Sequence[Result], started_at: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    opts = asdict(options)
    opts["profile_dir"] = str(options.profile_dir) if options.profile_dir else None
    document = {
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "environment": environment_facts(options),
        "options": opts,
        "results": [asdict(r) for r in results],
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
