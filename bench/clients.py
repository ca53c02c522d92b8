"""The load generators, as the runner drives them: wrk with a Lua script, or `bench/loadgen.py`.

Both end in a `ClientRun`: how many operations (HTTP requests, or enrollments) finished in the measured window,
their latency distribution, the errors, and the generator's own CPU time.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = [
    "ClientRun",
    "WrkResult",
    "parse_duration",
    "parse_wrk",
    "run_loadgen",
    "run_wrk",
    "wrk_duration",
    "wrk_version",
]

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
LUA_DIR = BENCH_DIR / "lua"


@dataclass(frozen=True)
class ClientRun:
    client: str  # "wrk" or "loadgen"
    operations: int  # what the rate counts: requests (wrk) or enrollments (loadgen)
    requests: int  # HTTP requests
    seconds: float
    latency_ms: dict[str, float]  # of one operation: "avg", "max", "50", "75", "90", "99"
    errors: int
    cpu_seconds: float  # the generator's own CPU time during the run
    detail: dict[str, Any] = field(default_factory=dict)  # wrk: non_2xx, socket_errors, script; loadgen: its report
    raw: str = ""

    @property
    def rate(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0


# durations
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str) -> float:
    """'10s', '1m', '500ms' or a bare number of seconds, as seconds."""
    match = _DURATION.match(value.strip())
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 10s, 1m)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def wrk_duration(value: str) -> str:
    """wrk takes whole seconds with a unit; round anything finer up to at least 1s."""
    return f"{max(1, round(parse_duration(value)))}s"


# wrk
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
        # A script that checks every response (for a 200, a rotated refresh token) knows better than wrk's >= 400.
        bad = int(self.script.get("bad_responses", self.non_2xx))
        return bad + sum(self.socket_errors.values())

    def as_run(self) -> ClientRun:
        return ClientRun(
            client="wrk",
            operations=self.requests,
            requests=self.requests,
            seconds=self.seconds,
            latency_ms=self.latency_ms,
            errors=self.errors,
            cpu_seconds=self.cpu_seconds,
            detail={"rps": self.rps, "non_2xx": self.non_2xx, "socket_errors": self.socket_errors} | self.script,
            raw=self.raw,
        )


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
    url: str,
    *,
    host: str,
    targets: Sequence[tuple[str, int]],
    threads: int,
    connections: int,
    duration: str,
    timeout: str,
    script: str,
    args: Sequence[str],
    cwd: Path,
) -> ClientRun:
    """wrk against `url` (the first node), its threads spread over `targets` by `lua/nodes.lua`.

    `host` is the Host header every request carries: the tenant's public origin, whichever node serves it.
    """
    command = [
        "wrk",
        "--latency",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={wrk_duration(duration)}",
        f"--timeout={wrk_duration(timeout)}",
        f"--header=Host: {host}",
        f"--script={LUA_DIR / script}",
        url,
    ]
    if args:
        command += ["--", *args]
    env = dict(os.environ)
    env["BENCH_NODES"] = ",".join(f"{h}:{p}" for h, p in targets)
    limit = parse_duration(duration) + parse_duration(timeout) + 30
    status, cpu, stdout, stderr = _run(command, env=env, cwd=cwd, limit=limit)
    output = stdout + (f"\n[stderr]\n{stderr}" if stderr.strip() else "")
    if status != 0:
        raise RuntimeError(f"wrk exited with {status}:\n{output}")
    return replace(parse_wrk(output), cpu_seconds=cpu).as_run()


# bench/loadgen.py
def run_loadgen(config: Mapping[str, Any], *, workdir: Path, name: str) -> ClientRun:
    """`python -m bench.loadgen` with `config` (see `bench.loadgen.Config`); its JSON report as a ClientRun.

    The CPU time is what the generator's processes measured over the window itself, without their start-up
    (imports, key generation, connecting), which `wait4` would include.
    """
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(config))
    limit = float(config["duration"]) + float(config.get("timeout", 10)) + 120
    command = [sys.executable, "-m", "bench.loadgen", str(path)]
    status, total_cpu, stdout, stderr = _run(command, env=dict(os.environ), cwd=ROOT, limit=limit)
    if status != 0:
        raise RuntimeError(f"bench.loadgen exited with {status}:\n{stderr[-4000:]}")
    report: dict[str, Any] = json.loads(stdout)
    report["cpu_seconds_with_startup"] = total_cpu
    return ClientRun(
        client="loadgen",
        operations=int(report["enrollments"]),
        requests=int(report["requests"]),
        seconds=float(report["seconds"]),
        latency_ms=dict(report["enrollment_latency_ms"]),
        errors=int(report["errors"]),
        cpu_seconds=float(report["cpu_seconds"]),
        detail=report,
        raw=stderr,
    )


def _run(command: list[str], *, env: dict[str, str], cwd: Path, limit: float) -> tuple[int, float, str, str]:
    """Run a load generator to completion: exit status, CPU seconds (its own and its children's), stdout, stderr."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=cwd, env=env)
        status, cpu = _wait_with_rusage(process, timeout=limit)
        out.seek(0)
        err.seek(0)
        return status, cpu, out.read().decode(errors="replace"), err.read().decode(errors="replace")


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
