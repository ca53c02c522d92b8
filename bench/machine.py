"""What the machine's CPUs did: per process group, for the database servers, for the whole machine (/proc).

The server, the load generator and the databases share the machine's cores, so every run records who used them.
"""

import os
import socket
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "DATABASE_PROCESSES",
    "cpu_seconds",
    "database_cpu_seconds",
    "database_cpu_ticks",
    "free_ports",
    "group_members",
    "machine_cpu_seconds",
    "wait_until_quiet",
]

DATABASE_PROCESSES = ("postgres", "redis-server")


def free_ports(count: int) -> list[int]:
    """`count` distinct free TCP ports on 127.0.0.1 (held open together, so none is handed out twice)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: str | int) -> tuple[str, list[str]] | None:
    """(command name, fields after the name) of /proc/PID/stat, or None if the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()


def group_members(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        found = _stat_fields(entry.name)
        if found is not None and int(found[1][2]) == pgid:  # fields: [0] state, [1] ppid, [2] pgrp
            pids.append(int(entry.name))
    return pids


def cpu_seconds(pids: Iterable[int]) -> float:
    ticks = 0
    for pid in pids:
        found = _stat_fields(pid)
        if found is not None:
            ticks += int(found[1][11]) + int(found[1][12])  # utime, stime
    return ticks / _clock_ticks()


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all cores; /proc/stat minus idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user nice system idle iowait irq softirq steal
    return busy / _clock_ticks()


def database_cpu_ticks() -> dict[int, int]:
    """CPU ticks of each database server process on this machine (PostgreSQL backends, Redis), by pid."""
    ticks = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        found = _stat_fields(entry.name)
        if found is not None and found[0].startswith(DATABASE_PROCESSES):
            ticks[int(entry.name)] = int(found[1][11]) + int(found[1][12])
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
