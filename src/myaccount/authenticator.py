"""`myaccount authenticator`: a push-notification authenticator on the command line (the device side).

    myaccount authenticator enroll 'otpauth://push/…' [--name NAME]   read the QR code's URI, register a key
    myaccount authenticator list                                      the devices enrolled here
    myaccount authenticator pending [--device ID]                     challenges waiting for an answer
    myaccount authenticator approve|reject CHALLENGE_ID [--device ID] answer, signed with the device key
    myaccount authenticator watch [--interval S] [--timeout S] [--auto-approve] [--count N]

Each device is a P-256 key made here; only its public half leaves this machine (`methods/push.py` has the
protocol). The state file (default ~/.config/myaccount-authenticator/devices.json, `--state FILE`) holds the
private keys unencrypted, like an SSH key without a passphrase, so it is written 0600 in a 0700 directory.

Servers are reached over https, verified against the system's CAs or `--cafile`; plain http is accepted for
loopback hosts (a development server) and elsewhere only with `--allow-http`.
"""

import argparse
import ipaddress
import json
import os
import socket
import ssl
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from myaccount.methods import push as protocol

__all__ = ["DEFAULT_STATE", "main"]

DEFAULT_STATE = Path("~/.config/myaccount-authenticator/devices.json")
_STATE_VERSION = 1
_TIMEOUT = 10.0


class AuthenticatorError(Exception):
    """A failure to report in one line; `main` prints it on stderr and exits 2 (as `myaccount` does)."""


@dataclass(frozen=True, slots=True)
class DeviceState:
    device_id: str
    user: str
    issuer: str
    base_url: str
    name: str
    jkt: str
    private_key_pem: str
    enrolled_at: str
    cafile: str | None = None

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.private_key_pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise AuthenticatorError(f"device {self.device_id}: the stored key is not a P-256 key")
        return key


# state file


def load_state(path: Path) -> list[DeviceState]:
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [DeviceState(**entry) for entry in raw["devices"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuthenticatorError(f"cannot read the state file {path}: {exc}") from exc


def save_state(path: Path, devices: list[DeviceState]) -> None:
    """Write atomically (temporary file, then rename) so an interrupted write never loses the keys."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    payload = json.dumps({"version": _STATE_VERSION, "devices": [asdict(d) for d in devices]}, indent=2)
    fd, temporary = tempfile.mkstemp(prefix=".devices-", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(payload + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# HTTP


def _check_transport(base_url: str, allow_http: bool) -> None:
    parts = urlsplit(base_url)
    if parts.scheme == "https" or allow_http:
        return
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise AuthenticatorError(
            f"refusing plain http to {host}: use https, or pass --allow-http if this network is trusted"
        )


def _client(cafile: str | None) -> httpx.Client:
    verify: ssl.SSLContext | bool = True
    if cafile:
        try:
            verify = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise AuthenticatorError(f"cannot load --cafile {cafile}: {exc}") from exc
    return httpx.Client(verify=verify, timeout=_TIMEOUT, follow_redirects=False)


def _error_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = (body.get("detail") or body.get("error_description")) if isinstance(body, dict) else None
    return f"{detail or response.reason_phrase} (HTTP {response.status_code})"


class DeviceApi:
    """The device API of one server, as one enrolled device."""

    def __init__(self, device: DeviceState, *, cafile: str | None, allow_http: bool) -> None:
        _check_transport(device.base_url, allow_http)
        self.device = device
        self._key = device.private_key()
        self._cafile = cafile or device.cafile

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = self.device.base_url + path
        proof = protocol.device_jwt(self._key, jkt=self.device.jkt, method=method, url=url, now=int(time.time()))
        headers = {"Authorization": f"Device {proof}"}
        try:
            with _client(self._cafile) as client:
                response = client.request(method, url, headers=headers, json=body)
        except httpx.HTTPError as exc:
            raise AuthenticatorError(f"cannot reach {self.device.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise AuthenticatorError(f"{self.device.base_url}: {_error_of(response)}")
        try:
            return response.json()
        except ValueError as exc:
            raise AuthenticatorError(f"{self.device.base_url}: the answer is not JSON") from exc

    def pending(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._request("GET", "/push/v1/challenges")["challenges"]
        return found

    def answer(self, challenge_id: str, approve: bool) -> dict[str, Any]:
        signature = protocol.sign_answer(self._key, challenge_id, approve)
        path = f"/push/v1/challenges/{quote(challenge_id, safe='')}/answer"
        result: dict[str, Any] = self._request("POST", path, {"approve": approve, "signature": signature})
        return result


# commands


def _devices(args: argparse.Namespace) -> list[DeviceState]:
    devices = load_state(args.state)
    if args.device:
        devices = [d for d in devices if d.device_id == args.device]
        if not devices:
            raise AuthenticatorError(f"no device {args.device} in {args.state}")
    if not devices:
        raise AuthenticatorError(f"no devices enrolled yet ({args.state}); run: enroll URI")
    return devices


def _api(args: argparse.Namespace, device: DeviceState) -> DeviceApi:
    return DeviceApi(device, cafile=args.cafile, allow_http=args.allow_http)


def _emit(args: argparse.Namespace, data: Any, text: Callable[[], Iterator[str]]) -> None:
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        for line in text():
            print(line)


def _describe(challenge: dict[str, Any]) -> str:
    details = challenge.get("details") or {}
    client = details.get("client_name") or details.get("client") or details.get("client_id") or "?"
    ip = details.get("ip") or "unknown address"
    when = details.get("requested_at") or challenge.get("created_at")
    return f"{challenge['id']}  {client} from {ip} at {when} (expires {challenge.get('expires_at')})"


def cmd_enroll(args: argparse.Namespace) -> int:
    try:
        target = protocol.parse_uri(args.uri)
    except ValueError as exc:
        raise AuthenticatorError(f"cannot use this URI: {exc}") from exc
    _check_transport(target.base_url, args.allow_http)
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = protocol.public_jwk(key.public_key())
    name = args.name or f"myaccount authenticator on {socket.gethostname()}"
    body = {"enrollment_tx_id": target.ticket, "device_name": name, "public_key": jwk}
    try:
        with _client(args.cafile) as client:
            response = client.post(f"{target.base_url}/push/v1/enroll", json=body)
    except httpx.HTTPError as exc:
        raise AuthenticatorError(f"cannot reach {target.base_url}: {exc}") from exc
    if response.status_code != 201:
        raise AuthenticatorError(f"enrollment refused: {_error_of(response)}")
    try:
        result = response.json()
        device_id = result["device_id"]
        user = result.get("user") or target.account
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AuthenticatorError(f"{target.base_url} answered the enrollment without a device_id") from exc
    device = DeviceState(
        device_id=str(device_id),
        user=str(user),
        issuer=target.issuer,
        base_url=target.base_url,
        name=name,
        jkt=protocol.thumbprint(jwk),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        enrolled_at=datetime.now(UTC).isoformat(timespec="seconds"),
        cafile=str(Path(args.cafile).resolve()) if args.cafile else None,
    )
    devices = [d for d in load_state(args.state) if d.device_id != device.device_id]
    try:
        save_state(args.state, [*devices, device])
    except OSError as exc:
        raise AuthenticatorError(
            f"the server enrolled {device.device_id} but its key could not be saved to {args.state} ({exc}); "
            "fix the path and start the enrollment again"
        ) from exc
    _emit(
        args,
        {"device_id": device.device_id, "user": device.user, "issuer": device.issuer, "base_url": device.base_url},
        lambda: iter(
            [
                f"Enrolled {device.device_id} for {device.user} ({device.issuer or device.base_url}).",
                "Now finish the enrollment in your account: verify it there.",
            ]
        ),
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    devices = load_state(args.state)
    public = [{k: v for k, v in asdict(d).items() if k != "private_key_pem"} for d in devices]

    def text() -> Iterator[str]:
        if not devices:
            yield f"No devices enrolled ({args.state})."
        for d in devices:
            yield f"{d.device_id}  {d.user}  {d.issuer}  {d.base_url}  {d.name!r}  enrolled {d.enrolled_at}"

    _emit(args, public, text)
    return 0


def _all_pending(args: argparse.Namespace) -> list[tuple[DeviceState, dict[str, Any]]]:
    found: list[tuple[DeviceState, dict[str, Any]]] = []
    for device in _devices(args):
        found.extend((device, c) for c in _api(args, device).pending())
    return found


def cmd_pending(args: argparse.Namespace) -> int:
    found = _all_pending(args)

    def text() -> Iterator[str]:
        if not found:
            yield "No pending challenges."
        for device, challenge in found:
            yield f"{_describe(challenge)}  [device {device.device_id}]"

    _emit(args, [{"device_id": d.device_id, **c} for d, c in found], text)
    return 0


def _answer(args: argparse.Namespace, approve: bool) -> int:
    if args.device:
        device = _devices(args)[0]
    else:
        # The challenge is for the user, not one device: answer with a device that sees it.
        matches = [d for d, c in _all_pending(args) if c["id"] == args.challenge_id]
        if not matches:
            raise AuthenticatorError(f"no enrolled device has a pending challenge {args.challenge_id}")
        device = matches[0]
    result = _api(args, device).answer(args.challenge_id, approve)
    _emit(args, result, lambda: iter([f"{result['id']}: {result['status']}"]))
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    return _answer(args, True)


def cmd_reject(args: argparse.Namespace) -> int:
    return _answer(args, False)


def cmd_watch(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.timeout if args.timeout else None
    seen: set[str] = set()
    handled = 0
    try:
        while True:
            for device, challenge in _all_pending(args):
                if challenge["id"] in seen:
                    continue
                seen.add(challenge["id"])
                print(f"{_describe(challenge)}  [device {device.device_id}]", flush=True)
                if args.auto_approve:
                    try:
                        result = _api(args, device).answer(challenge["id"], True)
                    except AuthenticatorError as exc:  # e.g. answered elsewhere meanwhile: keep watching
                        print(f"myaccount authenticator: {exc}", file=sys.stderr, flush=True)
                    else:
                        print(f"{result['id']}: {result['status']}", flush=True)
                handled += 1
                if args.count and handled >= args.count:
                    return 0
            if deadline is not None and time.monotonic() + args.interval > deadline:
                return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0


def _positive(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return number


def _common(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """Options accepted before and after the command; the command's copy only overrides when given."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--state", type=Path, default=default(DEFAULT_STATE), help=f"device state file (default {DEFAULT_STATE})"
    )
    parser.add_argument("--cafile", default=default(None), help="PEM file of CA certificates to trust for https")
    parser.add_argument(
        "--allow-http", action="store_true", default=default(False), help="allow plain http beyond loopback hosts"
    )
    parser.add_argument("--json", action="store_true", default=default(False), help="print JSON instead of text")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="myaccount authenticator", description="A push-notification authenticator for myaccount servers."
    )
    _common(parser, defaults=True)
    shared = argparse.ArgumentParser(add_help=False)
    _common(shared, defaults=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, parents=[shared])

    enroll = command("enroll", "enroll this device from an otpauth://push/ URI")
    enroll.add_argument("uri", help="the URI from the enrollment QR code (barcode_uri)")
    enroll.add_argument("--name", help="a name for this device, shown in the account")
    enroll.set_defaults(run=cmd_enroll)

    listing = command("list", "list the devices enrolled here")
    listing.set_defaults(run=cmd_list)

    pending = command("pending", "list pending challenges")
    pending.add_argument("--device", help="only this device id")
    pending.set_defaults(run=cmd_pending)

    for name, run, verb in (("approve", cmd_approve, "approve"), ("reject", cmd_reject, "reject")):
        answer = command(name, f"{verb} a pending challenge")
        answer.add_argument("challenge_id")
        answer.add_argument("--device", help="answer with this device id")
        answer.set_defaults(run=run)

    watch = command("watch", "poll for challenges and print them as they come")
    watch.add_argument("--device", help="only this device id")
    watch.add_argument("--interval", type=_positive, default=2.0, help="seconds between polls (default 2)")
    watch.add_argument("--timeout", type=_positive, help="stop after this many seconds (default: until Ctrl-C)")
    watch.add_argument("--count", type=int, default=0, help="stop after this many challenges")
    watch.add_argument("--auto-approve", action="store_true", help="approve every challenge (for testing)")
    watch.set_defaults(run=cmd_watch)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors and --help: a status, not an exception, for our caller
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    args.state = args.state.expanduser()
    if not hasattr(args, "device"):
        args.device = None
    try:
        code: int = args.run(args)
    except AuthenticatorError as exc:
        print(f"myaccount authenticator: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
