"""`myaccount connections create|list|delete|reseal`: the CLI side of `myaccount.connections`.

`cli.py` calls `add_parser(commands)` with its top-level subparsers. Handlers take the parsed arguments and
return an exit status; invalid input raises `admin.AdminError` (the connections errors are of that family),
which `cli.main` prints and turns into exit status 2.
"""

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from myaccount import connections
from myaccount.connected_accounts import reseal
from myaccount.core import Core, build_core
from myaccount.management.errors import Invalid
from myaccount.settings import load_settings

__all__ = ["add_parser", "connections_create", "connections_delete", "connections_list", "connections_reseal"]


@contextmanager
def _core(args: argparse.Namespace) -> Iterator[Core]:
    value = getattr(args, "config", None) or os.environ.get("MYACCOUNT_CONFIG")
    core = build_core(load_settings(Path(value) if value else None))
    try:
        yield core
    finally:
        core.db.dispose()


def _body(args: argparse.Namespace) -> dict[str, Any]:
    """An Auth0-shaped connection body from the flags, as the Management API would receive it."""
    options: dict[str, Any] = {"client_id": args.client_id}
    if args.client_secret_env:
        secret = os.environ.get(args.client_secret_env)
        if not secret:
            raise Invalid(f"the environment variable {args.client_secret_env} is not set")
        options["client_secret"] = secret
    elif args.client_secret:
        options["client_secret"] = args.client_secret
    if args.strategy == "oidc":
        for flag, name in (
            ("discovery_url", "discovery_url"),
            ("authorization_url", "authorization_endpoint"),
            ("token_url", "token_endpoint"),
            ("issuer", "issuer"),
        ):
            if getattr(args, flag):
                options[name] = getattr(args, flag)
    else:
        if args.discovery_url:
            raise Invalid("--discovery-url is for oidc connections")
        options["authorizationURL"] = args.authorization_url
        options["tokenURL"] = args.token_url
    if args.userinfo_url:
        options["userinfo_endpoint"] = args.userinfo_url
    if args.revocation_url:
        options["revocation_endpoint"] = args.revocation_url
    if args.scopes:
        options["scope"] = args.scopes
    options["pkce_enabled"] = not args.no_pkce
    if args.auth_method:
        options["token_endpoint_auth_method"] = args.auth_method
    if args.auth_params:
        pairs = [item.partition("=") for item in args.auth_params]
        if any(not sep for _, sep, _ in pairs):
            raise Invalid("--auth-param takes NAME=VALUE")
        options["authParams"] = {name: value for name, _, value in pairs}
    body: dict[str, Any] = {"name": args.name, "strategy": args.strategy, "options": options}
    if args.display_name:
        body["display_name"] = args.display_name
    if args.clients:
        body["enabled_clients"] = args.clients
    if args.inactive:
        body["connected_accounts"] = {"active": False}
    return body


def connections_create(args: argparse.Namespace) -> int:
    with _core(args) as core:
        created = connections.create_connection(core, _body(args))
    wire = connections.to_wire(created)
    if args.json:
        print(json.dumps(wire, indent=2))
    else:
        print(f"Created connection {created.name} ({created.id}, {created.strategy})")
    return 0


def connections_list(args: argparse.Namespace) -> int:
    with _core(args) as core:
        found = connections.list_connections(core)
    if args.json:
        print(json.dumps([connections.to_wire(c) for c in found], indent=2))
        return 0
    rows = [["ID", "NAME", "STRATEGY", "ACTIVE", "SCOPES"]]
    for c in found:
        active = "yes" if c.connected_accounts_active else "no"
        rows.append([c.id, c.name, c.strategy, active, " ".join(c.options.get("scopes") or [])])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def connections_delete(args: argparse.Namespace) -> int:
    with _core(args) as core:
        found = connections.get_connection(core, args.connection, or_name=True)
        connections.delete_connection(core, found.id)
    print(f"Deleted connection {found.name} ({found.id}) and the accounts connected through it.")
    return 0


def connections_reseal(args: argparse.Namespace) -> int:
    with _core(args) as core:
        report = reseal(core)
    print(f"Re-sealed {report.resealed} values under the current key.")
    if report.unreadable:
        print(f"{report.unreadable} values could not be opened with any configured key.", file=sys.stderr)
        return 1
    return 0


def add_parser(commands: Any) -> None:
    """Add `connections` and its actions to `cli.py`'s top-level subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="TOML settings file")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON, for scripts")
    help_ = "upstream OAuth 2.0 / OIDC providers for connected accounts"
    group = commands.add_parser("connections", help=help_, description=help_)
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = actions.add_parser("create", help="create a connection", parents=[common, as_json])
    p.set_defaults(handler=connections_create)
    p.add_argument("--name", required=True, help="e.g. google-oauth2 (letters, digits and '-')")
    p.add_argument("--strategy", required=True, choices=connections.STRATEGIES)
    p.add_argument("--display-name")
    p.add_argument("--discovery-url", metavar="URL", help="oidc: the provider's openid-configuration URL")
    p.add_argument("--authorization-url", metavar="URL")
    p.add_argument("--token-url", metavar="URL")
    p.add_argument("--userinfo-url", metavar="URL", help="to learn the provider's user id")
    p.add_argument("--revocation-url", metavar="URL", help="RFC 7009, used when an account is disconnected")
    p.add_argument("--issuer", help="oidc: the provider's issuer (checked on the callback, RFC 9207)")
    p.add_argument("--client-id", required=True)
    secret = p.add_mutually_exclusive_group()
    secret.add_argument("--client-secret", help="visible in the process list; prefer --client-secret-env")
    secret.add_argument("--client-secret-env", metavar="VAR", help="read the client secret from this variable")
    p.add_argument("--scope", dest="scopes", action="append", default=[], metavar="SCOPE", help="repeat")
    p.add_argument("--no-pkce", action="store_true", help="do not send PKCE (RFC 7636) to the provider")
    p.add_argument("--auth-method", choices=("client_secret_post", "client_secret_basic", "none"))
    p.add_argument("--auth-param", dest="auth_params", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument(
        "--client",
        dest="clients",
        action="append",
        default=[],
        metavar="CLIENT_ID",
        help="enable for this application only (repeat); default: every application",
    )
    p.add_argument("--inactive", action="store_true", help="create it disabled for connected accounts")

    p = actions.add_parser("list", help="list connections", parents=[common, as_json])
    p.set_defaults(handler=connections_list)

    p = actions.add_parser("delete", help="delete a connection and its connected accounts", parents=[common])
    p.set_defaults(handler=connections_delete)
    p.add_argument("connection", help="id (con_…) or name")

    p = actions.add_parser(
        "reseal", help="re-encrypt vaulted tokens and secrets under the first secret key", parents=[common]
    )
    p.set_defaults(handler=connections_reseal)
