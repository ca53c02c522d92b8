"""The benchmark machinery: scenarios, deployments, and running one scenario on one deployment.

A `Scenario` names a setup function and how load is made: a wrk Lua script (in `bench/lua/`) or a flow of
`bench/loadgen.py`. The setup runs in this process against a fresh database, through myaccount's own Python API
(`build_core`, `myaccount.admin`, the token issuance code, the stores), before the server starts; it returns a
`Fixture`: the arguments the load generator gets for the warm-up and for the measured run (usually paths of token
files it wrote into the scenario's work directory), and any server settings that depend on the data.

A `Deployment` is what the scenario runs on: SQLite with one granian node (the default install), or PostgreSQL
with Redis and several nodes (the scaled-out install), the workers split between the nodes.
"""

import base64
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.clients import ClientRun, parse_duration, run_loadgen, run_wrk
from bench.machine import database_cpu_seconds, database_cpu_ticks, free_ports, machine_cpu_seconds, wait_until_quiet
from bench.servers import (
    Backend,
    Cluster,
    PostgresBackend,
    RedisNamespace,
    Server,
    SqliteBackend,
    profiling,
    running,
)
from myaccount.core import Core, build_core
from myaccount.settings import Settings

__all__ = [
    "BENCH_DIR",
    "Deployment",
    "Fixture",
    "Options",
    "Result",
    "Scenario",
    "SetupContext",
    "deployments",
    "run_scenario",
]

BENCH_DIR = Path(__file__).resolve().parent


# scenarios
@dataclass(frozen=True)
class Fixture:
    """What a scenario's setup hands to the load phase."""

    run_args: tuple[str, ...] = ()  # wrk: arguments after `--`; loadgen: (token file,)
    warmup_args: tuple[str, ...] | None = None  # for the warm-up; None: the same as run_args
    facts: Mapping[str, Any] = field(default_factory=dict)  # what was created (users, tokens, ...), for the report
    server_env: Mapping[str, str] = field(default_factory=dict)  # MYACCOUNT_* settings that depend on the data


@dataclass
class SetupContext:
    """Handed to a scenario's setup: the core on the scenario's fresh database, and where to put files."""

    core: Core
    workdir: Path
    connections: int
    threads: int
    seconds: float = 0.0  # warm-up + measured run: how long the data must last
    nodes: int = 1

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
    script: str | None = None  # wrk: file name in bench/lua/; None: wrk's own GET (lua/plain.lua)
    loadgen: str | None = None  # a flow of bench/loadgen.py ("passkey", "totp") instead of wrk
    unit: str = "req"  # what the rate counts: "req" (HTTP requests) or "enrollment"
    target_rps: float | None = None  # in `unit`s per second
    target_p99_ms: float | None = None  # of one `unit`
    target_label: str | None = None
    server_env: Mapping[str, str] = field(default_factory=dict)  # extra MYACCOUNT_* settings for this scenario


# options, deployments and results
@dataclass(frozen=True)
class Options:
    duration: str = "10s"
    warmup: str = "3s"
    connections: int = 64
    threads: int = 2  # wrk threads; loadgen processes
    workers: int = 2  # granian workers in all: split between the nodes of a deployment
    loop: str = "auto"
    databases: tuple[str, ...] = ("sqlite", "postgresql")
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    pg_nodes: int = 2
    redis_url: str | None = "redis://127.0.0.1:6379/0"  # with PostgreSQL; None: none (rate limits per node)
    server_args: tuple[str, ...] = ()
    timeout: str = "10s"
    keep: bool = False
    quiet_wait: float = 30.0  # seconds to wait for other processes to quieten before each scenario
    profile_dir: Path | None = None  # py-spy profiles of the workers during the measured run


@dataclass(frozen=True)
class Deployment:
    database: str  # "sqlite" or "postgresql"
    nodes: int = 1
    redis_url: str | None = None

    @property
    def label(self) -> str:
        name = self.database + ("+redis" if self.redis_url else "")
        return f"{name} x{self.nodes}" if self.nodes > 1 else name

    @property
    def slug(self) -> str:
        return self.label.replace("+", "-").replace(" x", "-x")

    def backend(self, pg_url: str) -> Backend:
        return SqliteBackend() if self.database == "sqlite" else PostgresBackend(pg_url)


def deployments(options: Options) -> list[Deployment]:
    """SQLite is one node (the database is a file inside it); PostgreSQL gets `pg_nodes` nodes and Redis."""
    found = []
    for database in options.databases:
        if database == "sqlite":
            found.append(Deployment("sqlite"))
        elif database == "postgresql":
            found.append(Deployment("postgresql", nodes=options.pg_nodes, redis_url=options.redis_url))
        else:
            raise ValueError(f"unknown database {database!r}")
    return found


@dataclass(frozen=True)
class Result:
    scenario: str
    backend: str  # the deployment's label: "sqlite", "postgresql+redis x2"
    database: str
    nodes: int
    workers_per_node: int
    redis: bool
    client: str  # "wrk" or "loadgen"
    unit: str  # what `rate` counts: "req" or "enrollment"
    rate: float  # per second
    p50_ms: float  # of one unit (a request, or an enrollment: start + verify)
    p99_ms: float
    errors: int
    operations: int
    requests: int
    seconds: float
    latency_ms: dict[str, float]
    detail: dict[str, Any]  # the load generator's own numbers (wrk: non_2xx, socket errors; loadgen: per request)
    server_cpu_percent: float  # all nodes, as % of one core
    server_cpu_by_node_percent: list[float]  # each node's share: with several nodes, is the load balanced?
    client_cpu_percent: float  # the load generator
    server_cpu_ms_per_op: float  # less sensitive to contention than the rate
    db_cpu_percent: float  # PostgreSQL / Redis server processes
    other_cpu_percent: float  # everything else on the machine during the run: noise if well above 0
    setup_seconds: float
    facts: Mapping[str, Any]
    target_rps: float | None
    target_p99_ms: float | None
    target_label: str | None
    raw_output: str


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
    if settings.redis_url:
        env.update(MYACCOUNT_REDIS_URL=settings.redis_url, MYACCOUNT_REDIS_PREFIX=settings.redis_prefix)
    env.update(extra)
    return env


def _generate(
    scenario: Scenario,
    options: Options,
    cluster: Cluster,
    settings: Settings,
    workdir: Path,
    *,
    phase: str,
    duration: str,
    args: tuple[str, ...],
) -> ClientRun:
    if scenario.loadgen is not None:
        config = {
            "flow": scenario.loadgen,
            "targets": cluster.targets,
            "public_url": settings.public_url,
            "tokens_path": args[0],
            "connections": options.connections,
            "processes": options.threads,
            "duration": parse_duration(duration),
            "timeout": parse_duration(options.timeout),
        }
        return run_loadgen(config, workdir=workdir, name=f"loadgen-{phase}")
    return run_wrk(
        cluster.servers[0].url + scenario.path,
        host=settings.public_url.split("://", 1)[1],
        targets=cluster.targets,
        threads=options.threads,
        connections=options.connections,
        duration=duration,
        timeout=options.timeout,
        script=scenario.script or "plain.lua",
        args=args,
        cwd=workdir,
    )


def run_scenario(scenario: Scenario, options: Options, deployment: Deployment) -> Result:
    backend = deployment.backend(options.pg_url)
    redis = RedisNamespace(deployment.redis_url) if deployment.redis_url else None
    tag = f"[{scenario.name}/{deployment.label}]"
    workdir = Path(tempfile.mkdtemp(prefix=f"myaccount-bench-{scenario.name}-{deployment.slug}-"))
    try:
        if redis is not None:
            redis.check()
        ports = free_ports(deployment.nodes)
        workers = max(1, options.workers // deployment.nodes)
        settings = Settings(
            # One public origin for every node (one tenant behind a balancer). http is allowed for WebAuthn only on
            # localhost; the load generators connect to 127.0.0.1 and send this origin's Host header.
            public_url=f"http://localhost:{ports[0]}",
            database_url=backend.fresh(workdir),
            redis_url=redis.url if redis else None,
            redis_prefix=redis.prefix if redis else "myaccount:",
            secret_key=new_secret_key(),
            environment="production",
            secret_key_file=workdir / "unused.secret",
        )
        if options.quiet_wait > 0:
            busy = wait_until_quiet(options.quiet_wait)
            if busy >= 0.15:
                print(f"  still busy ({100 * busy:.0f}%); measuring anyway (see 'other CPU')", flush=True)
        print(f"{tag} setup ...", flush=True)
        started = time.monotonic()
        core = build_core(settings)
        try:
            fixture = scenario.setup(
                SetupContext(
                    core=core,
                    workdir=workdir,
                    connections=options.connections,
                    threads=options.threads,
                    seconds=parse_duration(options.warmup) + parse_duration(options.duration),
                    nodes=deployment.nodes,
                )
            )
        finally:
            core.db.dispose()
        setup_seconds = time.monotonic() - started
        facts = ", ".join(f"{k}={v}" for k, v in fixture.facts.items())
        print(f"{tag} setup done in {setup_seconds:.1f}s ({facts})", flush=True)

        env = server_environment(settings, {**scenario.server_env, **fixture.server_env})
        cluster = Cluster(
            [
                Server(
                    port=port,
                    env=env,
                    workers=workers,
                    loop=options.loop,
                    server_args=options.server_args,
                    log_path=workdir / (f"granian-{i}.log" if deployment.nodes > 1 else "granian.log"),
                )
                for i, port in enumerate(ports)
            ]
        )
        warmup_args = fixture.run_args if fixture.warmup_args is None else fixture.warmup_args
        with running(cluster):
            if parse_duration(options.warmup) > 0:
                print(f"{tag} warm-up {options.warmup} ...", flush=True)
                warm = _generate(
                    scenario,
                    options,
                    cluster,
                    settings,
                    workdir,
                    phase="warmup",
                    duration=options.warmup,
                    args=warmup_args,
                )
                if warm.errors:
                    print(f"  warm-up had {warm.errors} errors {_error_samples(warm)}", flush=True)
            print(f"{tag} measuring {options.duration} ...", flush=True)
            cpu_nodes, cpu_machine, db_ticks = cluster.cpu_seconds(), machine_cpu_seconds(), database_cpu_ticks()
            seconds = parse_duration(options.duration)
            with profiling(cluster, options.profile_dir, f"{scenario.name}-{deployment.slug}", seconds):
                measured = _generate(
                    scenario,
                    options,
                    cluster,
                    settings,
                    workdir,
                    phase="run",
                    duration=options.duration,
                    args=fixture.run_args,
                )
                cpu_nodes = [after - before for after, before in zip(cluster.cpu_seconds(), cpu_nodes, strict=True)]
                cpu_machine = machine_cpu_seconds() - cpu_machine
                cpu_db = database_cpu_seconds(db_ticks)
            log = cluster.log()
        if "Traceback" in log or "ERROR" in log:
            print(f"  server log (tail):\n{log}", flush=True)
        if measured.errors:
            print(f"  {measured.errors} errors {_error_samples(measured)}", flush=True)
        wall = measured.seconds or seconds
        cpu_server = sum(cpu_nodes)
        # The load generator's CPU is its own measurement over the window; with wrk it includes start-up (tiny).
        other = cpu_machine - cpu_server - measured.cpu_seconds - cpu_db
        return Result(
            scenario=scenario.name,
            backend=deployment.label,
            database=deployment.database,
            nodes=deployment.nodes,
            workers_per_node=workers,
            redis=redis is not None,
            client=measured.client,
            unit=scenario.unit,
            rate=measured.rate,
            p50_ms=measured.latency_ms.get("50", float("nan")),
            p99_ms=measured.latency_ms.get("99", float("nan")),
            errors=measured.errors,
            operations=measured.operations,
            requests=measured.requests,
            seconds=measured.seconds,
            latency_ms=measured.latency_ms,
            detail=measured.detail,
            server_cpu_percent=100.0 * cpu_server / wall,
            server_cpu_by_node_percent=[100.0 * cpu / wall for cpu in cpu_nodes],
            client_cpu_percent=100.0 * measured.cpu_seconds / wall,
            db_cpu_percent=100.0 * cpu_db / wall,
            server_cpu_ms_per_op=1000.0 * cpu_server / measured.operations if measured.operations else float("nan"),
            other_cpu_percent=max(0.0, 100.0 * other / wall),
            setup_seconds=setup_seconds,
            facts=dict(fixture.facts),
            target_rps=scenario.target_rps,
            target_p99_ms=scenario.target_p99_ms,
            target_label=scenario.target_label,
            raw_output=measured.raw,
        )
    finally:
        with contextlib.suppress(Exception):
            backend.drop()
        if redis is not None:
            with contextlib.suppress(Exception):
                redis.clear()
        if options.keep:
            print(f"  kept {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _error_samples(run: ClientRun) -> str:
    """What the errors were, where the load generator says."""
    samples = run.detail.get("error_samples")
    if samples:
        return "; e.g. " + " | ".join(str(s) for s in samples[:3])
    socket_errors = run.detail.get("socket_errors") or {}
    shown = {k: v for k, v in socket_errors.items() if v}
    return f"(non-2xx {run.detail.get('non_2xx', 0)}, socket {shown})" if run.client == "wrk" else ""
