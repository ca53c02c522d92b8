"""A closed-loop HTTP/1.1 load generator for the flows wrk's Lua cannot drive: passkey and TOTP enrollment.

`python -m bench.loadgen CONFIG.json` (the runner writes the config, see `Config`) prints one JSON document.

- `processes` OS processes (forked), each an event loop (uvloop when installed) with its share of `connections`
  virtual clients. A client owns one keep-alive connection to one server node and the users
  `tokens[client::connections]`, which it enrolls in turn, one enrollment at a time: a closed loop, as wrk's.
  No two clients share a user, so a user never has two enrollments in flight (a new TOTP start deletes the user's
  pending one).
- Enrollment: `POST /me/v1/authentication-methods` (202), then `POST …/{id}/verify` (201). The TOTP flow then
  deletes the new method (`DELETE …/{id}`, 204), because a user with a confirmed TOTP cannot enroll another:
  the delete is part of the loop's time but not of the enrollment's latency.
- HTTP is a small hand-written client on asyncio's Protocol API (Content-Length or chunked bodies, keep-alive):
  about a tenth of httpx's CPU per request, which matters because the load generator shares the cores with the
  server. Request bytes are prepared per user before the clock starts; so are the passkeys' COSE keys.
- Every latency is kept (nanoseconds), so p50/p99 are exact (nearest rank) over all processes: per enrollment
  (start → verified) and per request, per step. Anything but the expected status, a connection error or a
  timeout is an error; a few are kept as samples.
- Rates count what finished inside the measured window; the enrollments in flight when it closes finish (so no
  user is left half enrolled) but are not counted.
"""

import asyncio
import base64
import hmac
import json
import math
import multiprocessing
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit

import orjson

__all__ = ["Config", "main", "percentiles"]

METHODS_PATH = "/me/v1/authentication-methods"
# A current desktop Chrome: the server summarises it into the passkey's `user_agent`.
USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
KEYS_PER_PROCESS = 512
MAX_ERROR_SAMPLES = 8
FLOWS = ("passkey", "totp")


@dataclass(frozen=True)
class Config:
    flow: str  # "passkey" or "totp"
    targets: list[tuple[str, int]]  # server nodes (host, port); client i talks to one of them
    public_url: str  # the tenant's origin: Host header, WebAuthn origin, RP ID
    tokens_path: str  # one access token per line, one user each
    connections: int = 64
    processes: int = 2
    duration: float = 10.0
    timeout: float = 10.0

    @classmethod
    def load(cls, path: Path) -> "Config":
        raw = json.loads(path.read_text())
        raw["targets"] = [(str(host), int(port)) for host, port in raw["targets"]]
        config = cls(**raw)
        if config.flow not in FLOWS:
            raise ValueError(f"unknown flow {config.flow!r} (one of {', '.join(FLOWS)})")
        return config


# HTTP/1.1
class HttpError(Exception):
    pass


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection, one request at a time: `await conn.send(request_bytes)` → (status, body)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._loop = loop
        self._timeout = timeout
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it: no isinstance check.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(HttpError(f"connection lost: {exc or 'closed by the server'}"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiter is not None:
            self._parse()

    def send(self, request: bytes) -> "asyncio.Future[tuple[int, bytes]]":
        if self.closed or self._transport is None:
            raise HttpError("connection closed")
        waiter = self._loop.create_future()
        self._waiter = waiter
        self._timer = self._loop.call_later(self._timeout, self._fail, HttpError("timeout"))
        self._transport.write(request)
        return waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
            if str(exc) == "timeout" and self._transport is not None:
                self._transport.abort()

    def _parse(self) -> None:
        buffer = self._buffer
        head_end = buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        lines = bytes(buffer[:head_end]).split(b"\r\n")
        try:
            status = int(lines[0].split(b" ", 2)[1])
        except (IndexError, ValueError):
            self._fail(HttpError(f"bad status line {lines[0][:80]!r}"))
            return
        length: int | None = None
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        start = head_end + 4
        if chunked:
            decoded = _dechunk(buffer, start)
            if decoded is None:
                return
            body, end = decoded
        else:
            end = start + (length or 0)
            if len(buffer) < end:
                return
            body = bytes(buffer[start:end])
        del buffer[:end]
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, body))


def _dechunk(buffer: bytearray, position: int) -> tuple[bytes, int] | None:
    """RFC 9112 §7.1 chunked body from `position`: (body, end) once complete, else None."""
    body = bytearray()
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
        position = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", position - 2)
            return (bytes(body), trailer_end + 4) if trailer_end >= 0 else None
        if len(buffer) < position + size + 2:
            return None
        body += buffer[position : position + size]
        position += size + 2


def _request(method: str, path: str, head: bytes, body: bytes | None = None) -> bytes:
    if body is None:
        return f"{method} {path} HTTP/1.1\r\n".encode() + head + b"\r\n"
    return (
        f"{method} {path} HTTP/1.1\r\n".encode()
        + head
        + b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def _json(data: Any) -> bytes:
    return orjson.dumps(data)  # compact, as json.dumps with separators=(",", ":"), at a fraction of the CPU


def totp_code(secret: str, at: float) -> str:
    """RFC 6238 with the defaults authenticator apps use: SHA-1, 30 s steps, 6 digits (RFC 4226 §5.3)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.digest(key, (int(at) // 30).to_bytes(8, "big"), "sha1")
    offset = digest[-1] & 0x0F
    return f"{(int.from_bytes(digest[offset : offset + 4], 'big') & 0x7FFFFFFF) % 1_000_000:06d}"


# measurements
@dataclass
class Samples:
    """One process's measurements; merged by the parent."""

    enrollments: list[int] = field(default_factory=list)  # ns, start sent → verify answered
    steps: dict[str, list[int]] = field(default_factory=dict)  # ns per request, by step
    statuses: Counter[str] = field(default_factory=Counter)  # "start 202": n (inside the window)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    late_enrollments: int = 0  # finished after the window closed: not counted
    cpu_seconds: float = 0.0  # this process, during the window

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(what[:300])

    def merge(self, other: "Samples") -> None:
        self.enrollments += other.enrollments
        for step, values in other.steps.items():
            self.steps.setdefault(step, []).extend(values)
        self.statuses.update(other.statuses)
        self.errors += other.errors
        self.error_samples += other.error_samples[: max(0, MAX_ERROR_SAMPLES - len(self.error_samples))]
        self.late_enrollments += other.late_enrollments
        self.cpu_seconds += other.cpu_seconds


def percentiles(values_ns: list[int]) -> dict[str, float]:
    """avg, max and the 50/75/90/99th percentiles (nearest rank, exact) in milliseconds."""
    if not values_ns:
        return {}
    ordered = sorted(values_ns)
    count = len(ordered)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * count) - 1)] / 1e6

    return {
        "avg": sum(ordered) / count / 1e6,
        "max": ordered[-1] / 1e6,
        **{str(p): rank(p) for p in (50, 75, 90, 99)},
    }


# the flows
@dataclass
class User:
    head: bytes  # Host, User-Agent, Authorization lines
    start: bytes  # the whole start request


class Flow:
    """One kind of enrollment: `enroll` runs one for a user over a connection and records it in `samples`."""

    def __init__(self, config: Config, samples: Samples) -> None:
        self.config = config
        self.samples = samples
        self.deadline = math.inf  # time.monotonic() at the window's end

    async def call(self, conn: HttpConnection, step: str, request: bytes, expected: int) -> tuple[bytes | None, int]:
        """One request: (the body if the status was `expected`, else None; when the answer came, in ns)."""
        started = time.perf_counter_ns()
        try:
            status, body = await conn.send(request)
        except HttpError as exc:
            self.samples.error(f"{step}: {exc}")
            raise
        finished = time.perf_counter_ns()
        if time.monotonic() <= self.deadline:
            self.samples.steps.setdefault(step, []).append(finished - started)
            self.samples.statuses[f"{step} {status}"] += 1
        if status != expected:
            self.samples.error(f"{step}: {status} {body[:200].decode(errors='replace')}")
            return None, finished
        return body, finished

    def record(self, started: int, verified: int) -> None:
        if time.monotonic() <= self.deadline:
            self.samples.enrollments.append(verified - started)
        else:
            self.samples.late_enrollments += 1

    async def enroll(self, conn: HttpConnection, user: User) -> None:
        raise NotImplementedError


class PasskeyFlow(Flow):
    """Start (202, creation options), then verify a `none` attestation for a new credential (201)."""

    verify_path = f"{METHODS_PATH}/{quote('passkey|new', safe='')}/verify"

    def __init__(self, config: Config, samples: Samples) -> None:
        from bench.soft_passkey import SoftPasskeys, cose_es256_keys

        super().__init__(config, samples)
        rp_id = urlsplit(config.public_url).hostname or "localhost"  # the server's default RP ID
        self.passkeys = SoftPasskeys(rp_id=rp_id, origin=config.public_url, keys=cose_es256_keys(KEYS_PER_PROCESS))

    async def enroll(self, conn: HttpConnection, user: User) -> None:
        started = time.perf_counter_ns()
        body, _ = await self.call(conn, "start", user.start, 202)
        if body is None:
            return
        challenge = orjson.loads(body)
        response = self.passkeys.create(challenge["authn_params_public_key"])
        verify = _json({"auth_session": challenge["auth_session"], "authn_response": response})
        done, verified = await self.call(conn, "verify", _request("POST", self.verify_path, user.head, verify), 201)
        if done is not None:
            self.record(started, verified)


class TotpFlow(Flow):
    """Start (202, the secret), verify the current code (201), then delete the method (204)."""

    async def enroll(self, conn: HttpConnection, user: User) -> None:
        started = time.perf_counter_ns()
        body, _ = await self.call(conn, "start", user.start, 202)
        if body is None:
            return
        challenge = orjson.loads(body)
        path = f"{METHODS_PATH}/{quote(challenge['id'], safe='')}"
        code = totp_code(challenge["manual_input_code"], time.time())
        verify = _json({"auth_session": challenge["auth_session"], "otp_code": code})
        done, verified = await self.call(conn, "verify", _request("POST", path + "/verify", user.head, verify), 201)
        if done is not None:
            self.record(started, verified)
            # A confirmed TOTP blocks another enrollment for the user: delete it, so the user can enroll again.
            await self.call(conn, "delete", _request("DELETE", path, user.head), 204)


FLOW_CLASSES: dict[str, Callable[[Config, Samples], Flow]] = {"passkey": PasskeyFlow, "totp": TotpFlow}


# one process
def _users(config: Config, tokens: list[str], client: int) -> list[User]:
    host = urlsplit(config.public_url).netloc
    start = _json({"type": config.flow})
    users = []
    for token in tokens[client :: config.connections]:
        head = f"Host: {host}\r\nUser-Agent: {USER_AGENT}\r\nAuthorization: Bearer {token}\r\n".encode()
        users.append(User(head=head, start=_request("POST", METHODS_PATH, head, start)))
    return users


async def _process(config: Config, tokens: list[str], index: int, pipe: Pipe) -> Samples:
    loop = asyncio.get_running_loop()
    samples = Samples()
    flow = FLOW_CLASSES[config.flow](config, samples)
    clients = list(range(index, config.connections, config.processes))
    # Client i of this process talks to node (i // processes) % nodes, so every process reaches every node.
    nodes = [config.targets[(c // config.processes) % len(config.targets)] for c in clients]
    users = [_users(config, tokens, c) for c in clients]

    async def connect(node: tuple[str, int]) -> HttpConnection:
        _, protocol = await loop.create_connection(lambda: HttpConnection(loop, config.timeout), *node)
        return protocol

    connections = [await connect(node) for node in nodes]
    pipe.send("ready")
    start_at: float = pipe.recv()  # a time.monotonic() instant shared by all processes
    flow.deadline = start_at + config.duration
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)

    async def client(slot: int) -> None:
        conn = connections[slot]
        mine = users[slot]
        turn = 0
        while time.monotonic() < flow.deadline:
            user = mine[turn % len(mine)]
            turn += 1
            try:
                await flow.enroll(conn, user)
            except HttpError:
                conn.close()
                await asyncio.sleep(0.05)
                try:
                    conn = await connect(nodes[slot])
                except OSError as exc:
                    samples.error(f"connect: {exc}")
                    await asyncio.sleep(0.5)
            except (ValueError, KeyError) as exc:  # a 2xx body without the fields the flow needs
                samples.error(f"bad response body: {exc!r}")
        conn.close()

    await asyncio.gather(*(client(slot) for slot in range(len(clients))))
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    samples.cpu_seconds = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return samples


def _child(config: Config, tokens: list[str], index: int, pipe: Pipe) -> None:
    try:
        import uvloop

        runner: Callable[..., Samples] = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        pipe.send(runner(_process(config, tokens, index, pipe)))
    except BaseException as exc:
        pipe.send(f"process {index} failed: {exc!r}")
        raise


def run(config: Config) -> dict[str, Any]:
    tokens = [line for line in Path(config.tokens_path).read_text().splitlines() if line]
    if len(tokens) < config.connections:
        raise ValueError(f"{len(tokens)} users for {config.connections} connections: each client needs its own")
    processes = max(1, min(config.processes, config.connections))
    config = Config(**{**asdict(config), "processes": processes})
    context = multiprocessing.get_context("fork")
    pipes: list[Pipe] = []
    children = []
    for index in range(processes):
        parent_end, child_end = context.Pipe()
        child = context.Process(target=_child, args=(config, tokens, index, child_end), daemon=True)
        child.start()
        child_end.close()  # the child's copy stays open: a child that dies makes recv() raise EOFError
        pipes.append(parent_end)
        children.append(child)
    for pipe in pipes:
        message = pipe.recv()
        if message != "ready":
            raise RuntimeError(str(message))
    start_at = time.monotonic() + 0.05
    for pipe in pipes:
        pipe.send(start_at)
    merged = Samples()
    for pipe in pipes:
        part = pipe.recv()
        if not isinstance(part, Samples):
            raise RuntimeError(str(part))
        merged.merge(part)
    for child in children:
        child.join(timeout=30)
    every_request = [v for values in merged.steps.values() for v in values]
    requests = len(every_request)
    return {
        "flow": config.flow,
        "seconds": config.duration,
        "connections": config.connections,
        "processes": processes,
        "nodes": len(config.targets),
        "users": len(tokens),
        "enrollments": len(merged.enrollments),
        "enrollments_per_second": len(merged.enrollments) / config.duration,
        "requests": requests,
        "requests_per_second": requests / config.duration,
        "errors": merged.errors,
        "error_samples": merged.error_samples,
        "statuses": dict(sorted(merged.statuses.items())),
        "late_enrollments": merged.late_enrollments,
        "enrollment_latency_ms": percentiles(merged.enrollments),
        "request_latency_ms": percentiles(every_request),
        "step_latency_ms": {step: percentiles(values) for step, values in sorted(merged.steps.items())},
        "cpu_seconds": merged.cpu_seconds,
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.loadgen CONFIG.json", file=sys.stderr)
        return 2
    result = run(Config.load(Path(args[0])))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
