"""`python -m bench` (normally through `bench/run`): run load scenarios and print req/s, p50, p99 and errors."""

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.clients import parse_duration
from bench.framework import BENCH_DIR, Options, Result, deployments, run_scenario
from bench.report import environment_facts, print_comparison, print_summary, print_table, write_json
from bench.scenarios import SCENARIOS


def _duration(value: str) -> str:
    parse_duration(value)  # validate
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Load benchmarks: granian serving myaccount on a fresh database (SQLite with one node, "
        "PostgreSQL + Redis with two), wrk or bench/loadgen.py on the same machine.",
        epilog="Scenarios: " + "; ".join(f"{s.name}: {s.summary}" for s in SCENARIOS.values()),
    )
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="a scenario to run (repeatable; default: all)"
    )
    parser.add_argument("--duration", type=_duration, default="10s", help="measured run per scenario (default 10s)")
    parser.add_argument("--warmup", type=_duration, default="3s", help="warm-up before measuring (default 3s; 0 skips)")
    parser.add_argument(
        "--connections", type=int, default=64, help="connections (wrk) or virtual clients (loadgen) (default 64)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads, loadgen processes (default 2)")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="granian worker processes in all, split between the nodes (default 2: 1 per node with 2 nodes)",
    )
    parser.add_argument(
        "--loop",
        choices=["auto", "asyncio", "uvloop", "rloop"],
        default="auto",
        help="granian event loop (default auto: rloop, then uvloop if installed, else asyncio)",
    )
    parser.add_argument(
        "--database",
        choices=["all", "sqlite", "postgresql"],
        default="all",
        help="all (default): every scenario on SQLite (one node), then on PostgreSQL + Redis (--pg-nodes nodes)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("MYACCOUNT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL server (env MYACCOUNT_BENCH_PG_URL); a database `myaccount_bench_<pid>` is created "
        "afresh for each scenario",
    )
    parser.add_argument("--pg-nodes", type=int, default=2, help="server nodes on PostgreSQL (default 2)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("MYACCOUNT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis for the PostgreSQL nodes (env MYACCOUNT_BENCH_REDIS_URL; '' for none); each scenario uses a "
        "key prefix of its own and deletes its keys",
    )
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra granian argument, e.g. --server-arg=--runtime-threads=2 (repeatable)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=_duration,
        default="30s",
        help="before each scenario, wait up to this long for other processes to leave the CPU idle (default 30s; 0 "
        "skips)",
    )
    parser.add_argument("--json", type=Path, help="where to write the results (default bench/results/<time>.json)")
    parser.add_argument("--keep", action="store_true", help="keep each scenario's work directory (database, logs)")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record the workers with py-spy during the measured run (speedscope files in DIR)",
    )
    args = parser.parse_args(argv)
    if args.threads < 1 or args.connections < args.threads:
        parser.error("need at least one thread and at least one connection per thread")
    if args.pg_nodes < 1 or args.workers < 1:
        parser.error("need at least one node and one worker")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    options = Options(
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        threads=args.threads,
        workers=args.workers,
        loop=args.loop,
        databases=("sqlite", "postgresql") if args.database == "all" else (args.database,),
        pg_url=args.pg_url,
        pg_nodes=args.pg_nodes,
        redis_url=args.redis_url or None,
        server_args=tuple(args.server_arg),
        keep=args.keep,
        quiet_wait=parse_duration(args.quiet_wait),
        profile_dir=args.profile,
    )
    names = args.scenario or list(SCENARIOS)
    targets = deployments(options)
    started_at = datetime.now(UTC)
    facts = environment_facts(options)
    print(
        f"myaccount bench: {', '.join(names)} on {', '.join(d.label for d in targets)}; granian {facts['granian']} "
        f"({options.workers} workers in all, loop {facts['loop']}); {facts['wrk']} "
        f"(-t{options.threads} -c{options.connections} -d{options.duration}); {facts['cpus']} CPUs",
        flush=True,
    )
    for deployment in targets:
        if options.workers % deployment.nodes or options.threads % deployment.nodes:
            print(
                f"note: {deployment.label}: {options.workers} workers and {options.threads} wrk threads do not "
                f"divide evenly between {deployment.nodes} nodes",
                flush=True,
            )
    if facts["load_average"][0] > 0.5:
        print(
            f"warning: the machine is busy (load average {facts['load_average'][0]:.2f}); "
            "the server and wrk share its cores with whatever else runs",
            flush=True,
        )
    results: list[Result] = []
    failed: list[str] = []
    # Scenario by scenario, each on every deployment in turn: the two numbers to compare are measured close in time.
    for name in names:
        for deployment in targets:
            try:
                results.append(run_scenario(SCENARIOS[name], options, deployment))
            except Exception as exc:
                print(f"[{name}/{deployment.label}] FAILED: {exc}", file=sys.stderr, flush=True)
                failed.append(f"{name}/{deployment.label}")
    print_table(results)
    met = print_summary(results)
    met &= print_comparison(results)
    path = args.json or BENCH_DIR / "results" / f"{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    write_json(path, options, results, started_at)
    print(f"results: {path}")
    if failed:
        print(f"failed scenarios: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0 if met else 2


if __name__ == "__main__":
    sys.exit(main())
