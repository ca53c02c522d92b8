"""The results: one table, the targets, PostgreSQL against SQLite, and a JSON file with everything."""

import json
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from bench.clients import wrk_version
from bench.framework import Options, Result

__all__ = [
    "PG_WITHIN",
    "PG_WITHIN_SCENARIO",
    "comparisons",
    "environment_facts",
    "granian_version",
    "print_comparison",
    "print_summary",
    "print_table",
    "resolved_loop",
    "write_json",
]

ROOT = Path(__file__).resolve().parent.parent
# The bar: the PostgreSQL path within 30% of SQLite on the list endpoint.
PG_WITHIN = 0.30
PG_WITHIN_SCENARIO = "me_list"
_UNIT_LABELS = {"req": "req/s", "enrollment": "enroll/s"}


def _fmt_ms(value: float) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:.2f}ms" if value < 100 else f"{value:.0f}ms"


def _rate(r: Result) -> str:
    return f"{r.rate:,.0f} {_UNIT_LABELS.get(r.unit, r.unit + '/s')}"


def _server_cpu(r: Result) -> str:
    total = f"{r.server_cpu_percent:.0f}%"
    if len(r.server_cpu_by_node_percent) < 2:
        return total
    return total + " (" + "+".join(f"{node:.0f}" for node in r.server_cpu_by_node_percent) + ")"


def print_table(results: Sequence[Result]) -> None:
    headers = (
        "scenario",
        "backend",
        "rate",
        "p50",
        "p99",
        "errors",
        "requests",
        "server CPU",
        "CPU/op",
        "db CPU",
        "client CPU",
        "other CPU",
    )
    rows = [
        (
            r.scenario,
            r.backend,
            _rate(r),
            _fmt_ms(r.p50_ms),
            _fmt_ms(r.p99_ms),
            f"{r.errors:,}",
            f"{r.requests:,}",
            _server_cpu(r),
            _fmt_ms(r.server_cpu_ms_per_op),
            f"{r.db_cpu_percent:.0f}%",
            f"{r.client_cpu_percent:.0f}%",
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
    loadgen = [r for r in results if r.client == "loadgen"]
    if loadgen:
        print("Enrollment scenarios, per HTTP request (p50/p99 above are per enrollment: start + verify):")
        for r in loadgen:
            steps = r.detail.get("step_latency_ms", {})
            per_step = ", ".join(f"{step} p99 {_fmt_ms(v.get('99', float('nan')))}" for step, v in steps.items())
            request = r.detail.get("request_latency_ms", {})
            print(
                f"  {r.scenario}/{r.backend}: {r.detail.get('requests_per_second', 0):,.0f} req/s, "
                f"p50 {_fmt_ms(request.get('50', float('nan')))}, p99 {_fmt_ms(request.get('99', float('nan')))} "
                f"({per_step})"
            )
        print()
    if any(r.other_cpu_percent > 15 for r in results):
        print("note: other processes used CPU during some runs (the 'other CPU' column); their numbers are low.")
        print()


def _met(r: Result) -> bool:
    rate_ok = r.target_rps is None or r.rate >= r.target_rps
    p99_ok = r.target_p99_ms is None or r.p99_ms <= r.target_p99_ms
    return rate_ok and p99_ok and r.errors == 0


def print_summary(results: Sequence[Result]) -> bool:
    """Compare with the targets; True when every targeted scenario met its target (rate and p99), without errors."""
    ok = True
    targeted = [r for r in results if r.target_rps or r.target_p99_ms]
    if not targeted:
        return ok
    print("Targets (2-core machine, load generator on the same machine):")
    for r in targeted:
        met = _met(r)
        ok &= met
        parts = []
        if r.target_rps:
            unit = _UNIT_LABELS.get(r.unit, r.unit)
            parts.append(f"{r.rate:,.0f} vs >= {r.target_rps:,.0f} {unit} ({100 * r.rate / r.target_rps:.0f}%)")
        if r.target_p99_ms:
            parts.append(f"p99 {_fmt_ms(r.p99_ms)} vs <= {_fmt_ms(r.target_p99_ms)}")
        if r.errors:
            parts.append(f"{r.errors} errors")
        print(
            f"  {'MET' if met else 'MISSED':6} {r.target_label or r.scenario} ({r.scenario}/{r.backend}): "
            + "; ".join(parts)
        )
    print()
    return ok


def comparisons(results: Sequence[Result]) -> list[dict[str, Any]]:
    """Each non-SQLite result against the SQLite result of the same scenario: the ratio of their rates."""
    found = []
    for r in results:
        base = next((b for b in results if b.scenario == r.scenario and b.database == "sqlite"), None)
        if r.database == "sqlite" or base is None or base.rate <= 0:
            continue
        ratio = r.rate / base.rate
        entry: dict[str, Any] = {
            "scenario": r.scenario,
            "backend": r.backend,
            "rate": r.rate,
            "sqlite_rate": base.rate,
            "unit": r.unit,
            "ratio": ratio,
        }
        if r.scenario == PG_WITHIN_SCENARIO:
            entry["within"] = PG_WITHIN
            entry["met"] = ratio >= 1 - PG_WITHIN and r.errors == 0 and base.errors == 0
        found.append(entry)
    return found


def print_comparison(results: Sequence[Result]) -> bool:
    """PostgreSQL (+ Redis, n nodes) against SQLite, scenario by scenario; False if the list endpoint's bar missed."""
    found = comparisons(results)
    if not found:
        return True
    bar = f"within {100 * PG_WITHIN:.0f}% on {PG_WITHIN_SCENARIO}"
    print(f"PostgreSQL against SQLite (same number of workers in all; target: {bar}):")
    ok = True
    for c in found:
        unit = _UNIT_LABELS.get(c["unit"], c["unit"])
        verdict = ""
        if "met" in c:
            ok &= c["met"]
            verdict = f"  {'MET' if c['met'] else 'MISSED'} (>= {100 * (1 - PG_WITHIN):.0f}%)"
        print(
            f"  {c['scenario']}: {c['backend']} {c['rate']:,.0f} {unit} = {100 * c['ratio']:.0f}% of "
            f"sqlite {c['sqlite_rate']:,.0f} {unit}{verdict}"
        )
    print()
    return ok


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
        "pg_vs_sqlite": comparisons(results),
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
