"""Driving Auth0's JavaScript SDKs from Node in tests: find node, `npm ci` a test folder once, and talk to a
driver script over stdin/stdout (one JSON request per line, one JSON answer per line)."""

import fcntl
import json
import os
import select
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

__all__ = ["NodeDriver", "find_node", "npm_ci"]

INSTALL_TIMEOUT = 300
ANSWER_TIMEOUT = 60


def find_node(purpose: str) -> str:
    """The node binary; a test that needs it fails (never skips) without it."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"Node.js 20+ is required: {purpose}")
    return node


def npm_ci(directory: Path, marker: Path) -> None:
    """`npm ci` from the lock file, once, under a file lock: pytest-xdist workers may arrive together."""
    with open(directory / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"npm is required to install the SDK into {directory} (npm ci).")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci failed in {directory}:\n{done.stdout}\n{done.stderr}")


class NodeDriver:
    """One Node process running `script` with a JSON config argument; `call` sends an operation and returns the
    answer the script prints."""

    def __init__(self, node: str, script: Path, config: dict[str, Any]) -> None:
        self._process = subprocess.Popen(
            [node, str(script), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=script.parent,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )

    def call(self, op: str, **options: Any) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps({"op": op, "options": options}) + "\n")
        self._process.stdin.flush()
        ready, _, _ = select.select([self._process.stdout], [], [], ANSWER_TIMEOUT)
        line = self._process.stdout.readline() if ready else ""
        if not line:
            self._process.kill()
            _, stderr = self._process.communicate(timeout=10)
            pytest.fail(f"the SDK driver gave no answer to {op}:\n{stderr}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()
