"""Server nodes as separate OS processes (granian serving `myaccount.asgi:app_from_env`), for multi-node and
crash tests: same database, same Redis, same public origin, as behind a load balancer."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

__all__ = ["Node"]

ROOT = Path(__file__).resolve().parents[2]
GRANIAN = Path(sys.executable).parent / "granian"


class Node:
    def __init__(self, *, port: int, env: Mapping[str, str], log_path: Path, workers: int = 1) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        command = [
            str(GRANIAN),
            "--interface",
            "asgi",
            "--factory",
            "--workers",
            str(self.workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-ws",
            "--log-level",
            "warning",
            "myaccount.asgi:app_from_env",
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node exited with {self.process.returncode}:\n{self.log()}")
            try:
                # Ask for the issuer, not just any answer: another test's server may hold a port we were given.
                url = self.url + "/.well-known/openid-configuration"
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                    issuer = json.loads(response.read()).get("issuer")
                    if issuer == self.env["MYACCOUNT_PUBLIC_URL"] + "/":
                        return
                    raise RuntimeError(f"port {self.port} is served by someone else ({issuer})")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"node did not start:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the whole process group: no graceful anything (the crash test)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int | None:
        process = self.process
        if process is None or process.poll() is not None:
            return process.returncode if process else None
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
