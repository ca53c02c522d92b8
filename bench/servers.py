"""The system under test: a fresh database (SQLite file, or PostgreSQL and a Redis key prefix) and granian nodes.

A `Cluster` is one or more granian processes serving `myaccount.asgi:app_from_env` with the same settings: the same
database, Redis and public origin, as nodes of one tenant behind a load balancer. Each node is its own process
group, so its CPU time and its workers can be found, and stopped, together.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.machine import cpu_seconds, group_members
from myaccount.store.db import normalize_url

__all__ = [
    "Backend",
    "Cluster",
    "PostgresBackend",
    "RedisNamespace",
    "Server",
    "SqliteBackend",
    "profiling",
    "running",
]

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
READY_PATH = "/.well-known/openid-configuration"


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
    """A fresh database `myaccount_bench_<pid>` on the server named by the URL, made again for every scenario.

    The pid keeps two benchmark runs on one PostgreSQL server (or a run and a test suite) out of each other's way.
    """

    name = "postgresql"

    def __init__(self, server_url: str) -> None:
        self.server_url = normalize_url(server_url)
        self.database = f"myaccount_bench_{os.getpid()}"

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


class RedisNamespace:
    """A key prefix of its own on a Redis server (`MYACCOUNT_REDIS_PREFIX`), deleted when the scenario ends."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"myaccount-bench-{uuid.uuid4().hex[:12]}:"

    def check(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5)
        try:
            client.ping()
        except redis.RedisError as exc:
            raise RuntimeError(f"Redis at {self.url} does not answer ({exc}); start it or pass --redis-url") from exc
        finally:
            client.close()

    def clear(self) -> int:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5)
        deleted = 0
        try:
            batch: list[bytes] = []
            for key in client.scan_iter(match=f"{self.prefix}*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    deleted += int(client.delete(*batch))
                    batch = []
            if batch:
                deleted += int(client.delete(*batch))
        finally:
            client.close()
        return deleted


# granian
class Server:
    """One granian node serving `myaccount.asgi:app_from_env`, in its own process group."""

    def __init__(
        self,
        *,
        port: int,
        env: Mapping[str, str],
        workers: int,
        loop: str,
        server_args: Sequence[str],
        log_path: Path,
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.command = [
            str(VENV_BIN / "granian"),
            "--interface",
            "asgi",
            "--factory",
            "--workers",
            str(workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ws",
            "--loop",
            loop,
            "--log-level",
            "warning",
            *server_args,
            "myaccount.asgi:app_from_env",
        ]
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, deadline: float) -> None:
        """Until the node answers with our issuer (another process could hold a port we were handed)."""
        assert self.process is not None
        issuer = self.env["MYACCOUNT_PUBLIC_URL"] + "/"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"granian exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + READY_PATH, timeout=2) as response:  # noqa: S310 - loopback
                    answered = json.loads(response.read()).get("issuer")
                if answered == issuer:
                    return
                raise RuntimeError(f"port {self.port} is served by someone else (issuer {answered})")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"granian did not answer {READY_PATH}:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def pids(self) -> list[int]:
        return group_members(self.process.pid) if self.process else []

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        return [pid for pid in self.pids() if pid != self.process.pid]

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


class Cluster:
    """The nodes of one tenant: started together, measured together (CPU summed), stopped together."""

    def __init__(self, servers: Sequence[Server]) -> None:
        self.servers = list(servers)

    @property
    def targets(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", server.port) for server in self.servers]

    def start(self, timeout: float = 60.0) -> None:
        for server in self.servers:
            server.launch()
        deadline = time.monotonic() + timeout
        for server in self.servers:
            server.wait_ready(deadline)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def cpu_seconds(self) -> list[float]:
        """CPU seconds so far of each node (its whole process group)."""
        return [cpu_seconds(server.pids()) for server in self.servers]

    def worker_pids(self) -> list[int]:
        return [pid for server in self.servers for pid in server.worker_pids()]

    def log(self) -> str:
        if len(self.servers) == 1:
            return self.servers[0].log()
        return "\n".join(f"--- node {i} (:{s.port})\n{s.log()}" for i, s in enumerate(self.servers))


@contextlib.contextmanager
def running(cluster: Cluster) -> Iterator[Cluster]:
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@contextlib.contextmanager
def profiling(cluster: Cluster, directory: Path | None, name: str, seconds: float) -> Iterator[None]:
    """py-spy records each worker of every node for the measured run (`--profile DIR`), if py-spy is installed."""
    if directory is None:
        yield
        return
    py_spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    if not Path(py_spy).exists():
        print("  (--profile: py-spy is not installed; `.venv/bin/pip install py-spy`)", flush=True)
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    recorders = []
    for pid in cluster.worker_pids():
        out = directory / f"{name}-{pid}.folded"
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
        print(f"  profiles: {directory}/{name}-*.folded", flush=True)
