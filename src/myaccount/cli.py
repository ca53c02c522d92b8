"""`myaccount`: serve, and manage the tenant (users, clients, APIs, client grants, roles, signing keys).

Every change goes through `myaccount.admin`, the same code the tenant file and the Management API use. Settings
come from the environment (`MYACCOUNT_*`) and `--config FILE` (TOML). Errors print on stderr and exit with 2.
"""

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from myaccount import admin, connections_cli, demo, serve, tenant_file, transfer
from myaccount.core import Core, build_core
from myaccount.settings import Settings, load_settings
from myaccount.store.clients import Client, ClientStore
from myaccount.store.roles import RoleStore
from myaccount.store.users import User, UserStore

__all__ = ["main"]

_Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["authenticator"]:
        # The push-notification device: a separate tool with its own options, that needs no server settings.
        from myaccount import authenticator

        return authenticator.main(arguments[1:])
    args = _parser().parse_args(arguments)
    handler: _Handler = args.handler
    try:
        return handler(args)
    except (admin.AdminError, tenant_file.TenantFileError, demo.DemoRefused) as exc:
        print(f"myaccount: {exc}", file=sys.stderr)
        return 2


# plumbing
def _config(args: argparse.Namespace) -> Path | None:
    value = args.config or os.environ.get("MYACCOUNT_CONFIG")
    return Path(value) if value else None


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(_config(args))


@contextmanager
def _core(args: argparse.Namespace) -> Iterator[Core]:
    core = build_core(_settings(args))
    try:
        yield core
    finally:
        core.db.dispose()


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=_json_default))


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _client_json(client: Client) -> dict[str, Any]:
    data = asdict(client)
    del data["secret_hash"]
    return data


def _user_json(user: User) -> dict[str, Any]:
    data = asdict(user)
    del data["password_hash"], data["webauthn_user_handle"]
    return {"user_id": data.pop("id"), **data}


def _table(rows: list[list[str]]) -> None:
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


# serve, migrate, demo, tenant
def _serve(args: argparse.Namespace) -> int:
    config = _config(args)
    data = tenant_file.load(args.tenant) if args.tenant else None  # a broken file stops us before anything runs
    settings = serve.serving_settings(config, port=args.port, tls=bool(args.tls_cert))
    core = build_core(settings)
    try:
        if data is not None:
            report = tenant_file.apply(core, data)
            print(f"Tenant file {args.tenant} applied:")
            print(_indent(report.summary()))
            _print_secrets(report)
        if args.demo:
            demo.ensure(core)
            print(demo.describe(core))
        else:
            print(f"MyAccount at {settings.origin} (issuer {settings.issuer})")
    finally:
        core.db.dispose()  # the workers open their own connections
    print()
    if bool(args.tls_cert) != bool(args.tls_key):
        print("myaccount: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    return serve.run(
        settings,
        host=args.host,
        port=args.port,
        workers=args.workers,
        config=config,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )


def _export(args: argparse.Namespace) -> int:
    with _core(args) as core:
        document = transfer.export_tenant(core)
    text = json.dumps(document, indent=1, default=_json_default)
    if args.file is None:
        print(text)
    else:
        args.file.write_text(text)
        os.chmod(args.file, 0o600)  # sealed, but still the tenant: keep it private
        counts = {name: len(rows) for name, rows in document["tables"].items() if rows}
        print(f"exported to {args.file}: " + ", ".join(f"{n} {name}" for name, n in counts.items()))
    return 0


def _import(args: argparse.Namespace) -> int:
    try:
        document = json.loads(args.file.read_text())
    except (OSError, ValueError) as exc:
        print(f"myaccount: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    with _core(args) as core:
        try:
            counts = transfer.import_tenant(core, document)
        except transfer.TransferError as exc:
            print(f"myaccount: {exc}", file=sys.stderr)
            return 2
    print("imported: " + ", ".join(f"{n} {name}" for name, n in counts.items() if n))
    return 0


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def _print_secrets(report: tenant_file.ApplyReport) -> None:
    for client_id, secret in report.client_secrets.items():
        print(f"  client {client_id}: generated secret {secret} (shown once)")


def _migrate(args: argparse.Namespace) -> int:
    with _core(args) as core:
        url = make_url(core.db.url).render_as_string(hide_password=True)
    print(f"Database {url} is migrated and ready.")
    return 0


def _demo(args: argparse.Namespace) -> int:
    with _core(args) as core:
        demo.ensure(core)
        print(demo.describe(core))
    return 0


def _tenant_apply(args: argparse.Namespace) -> int:
    data = tenant_file.load(args.file)
    with _core(args) as core:
        report = tenant_file.apply(core, data, dry_run=args.dry_run)
    if args.json:
        _print_json(report.as_dict() | {"dry_run": args.dry_run})
        return 0
    print(f"{'Checked (nothing written)' if args.dry_run else 'Applied'} {args.file}:")
    print(_indent(report.summary()))
    _print_secrets(report)
    return 0


# users
def _users_create(args: argparse.Namespace) -> int:
    profile = {"name": args.name} if args.name else {}
    with _core(args) as core:
        user = admin.create_user(
            core, email=args.email, password=args.password, email_verified=args.verified, **profile
        )
    if args.json:
        _print_json(_user_json(user))
    else:
        print(f"Created user {user.id} ({user.email})")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    users: list[User] = []
    with _core(args) as core, core.db.read() as conn:
        while True:
            batch, total = UserStore(conn).page(page=len(users) // 500, per_page=500)
            users.extend(batch)
            if not batch or len(users) >= total:
                break
    if args.json:
        _print_json([_user_json(u) for u in users])
    else:
        _table([[u.id, u.email or u.username or "", "verified" if u.email_verified else "unverified"] for u in users])
    return 0


# clients
def _clients_create(args: argparse.Namespace) -> int:
    with _core(args) as core:
        client, secret = admin.create_client(
            core,
            name=args.name,
            app_type=args.type,
            grant_types=args.grant_types,
            callbacks=args.callbacks,
            allowed_origins=args.origins,
            web_origins=args.origins,
            cross_origin_authentication=args.cross_origin_authentication,
        )
    if args.json:
        _print_json(_client_json(client) | {"client_secret": secret})
        return 0
    print(f"client_id      {client.client_id}")
    if secret:
        print(f"client_secret  {secret}")
        print("The secret is shown this once and stored only as a hash: keep it now.")
    return 0


def _clients_list(args: argparse.Namespace) -> int:
    with _core(args) as core, core.db.read() as conn:
        clients = ClientStore(conn).all()
    if args.json:
        _print_json([_client_json(c) for c in clients])
    else:
        _table([[c.client_id, c.app_type, c.name] for c in clients])
    return 0


# APIs and client grants
def _apis_create(args: argparse.Namespace) -> int:
    policies = {"user": {"policy": args.user_policy}}
    if args.client_policy:
        policies["client"] = {"policy": args.client_policy}
    with _core(args) as core:
        api = admin.create_resource_server(
            core,
            identifier=args.identifier,
            name=args.name,
            scopes=args.scopes,
            enforce_policies=args.rbac,
            subject_type_authorization=policies,
        )
    if args.json:
        _print_json(asdict(api))
    else:
        print(f"Created API {api.identifier} ({api.id}) with scopes: {' '.join(sorted(api.scope_values)) or '-'}")
    return 0


def _apis_list(args: argparse.Namespace) -> int:
    with _core(args) as core, core.db.read() as conn:
        apis = ClientStore(conn).resource_servers()
    if args.json:
        _print_json([asdict(api) for api in apis])
    else:
        _table(
            [[api.identifier, api.name, f"user:{api.policy('user')}", f"client:{api.policy('client')}"] for api in apis]
        )
    return 0


def _grants_create(args: argparse.Namespace) -> int:
    with _core(args) as core:
        grant = admin.create_client_grant(
            core, client_id=args.client_id, audience=args.audience, scope=args.scopes, subject_type=args.subject_type
        )
    if args.json:
        _print_json(asdict(grant))
    else:
        print(f"Created client grant {grant.id}: {grant.client_id} -> {grant.audience} ({grant.subject_type})")
    return 0


def _grants_list(args: argparse.Namespace) -> int:
    with _core(args) as core, core.db.read() as conn:
        grants = ClientStore(conn).grants(client_id=args.client_id)
    if args.json:
        _print_json([asdict(g) for g in grants])
    else:
        _table([[g.id, g.client_id, g.audience, g.subject_type, " ".join(g.scope)] for g in grants])
    return 0


# roles
def _roles_create(args: argparse.Namespace) -> int:
    with _core(args) as core:
        with core.db.read() as conn:
            identifiers = {api.identifier for api in ClientStore(conn).resource_servers()}
        permissions = [_permission(value, identifiers) for value in args.permissions]
        role = admin.create_role(core, name=args.name, description=args.description, permissions=permissions)
    if args.json:
        _print_json(asdict(role) | {"permissions": _permissions_json(permissions)})
    else:
        print(f"Created role {role.id} ({role.name})")
    return 0


def _permission(value: str, identifiers: set[str]) -> tuple[str, str]:
    """`AUDIENCE:SCOPE`. Both sides may hold colons (`https://api/:read:things`), so the API must be known."""
    for index, char in enumerate(value):
        if char == ":" and value[:index] in identifiers:
            return value[:index], value[index + 1 :]
    raise admin.AdminError(f"permission '{value}' does not start with a known API identifier followed by ':'")


def _roles_list(args: argparse.Namespace) -> int:
    with _core(args) as core, core.db.read() as conn:
        store = RoleStore(conn)
        roles = [(role, store.permissions(role.id)) for role in store.all()]
    if args.json:
        _print_json([asdict(role) | {"permissions": _permissions_json(perms)} for role, perms in roles])
    else:
        _table([[role.id, role.name, " ".join(f"{a}:{p}" for a, p in perms)] for role, perms in roles])
    return 0


def _permissions_json(permissions: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"resource_server_identifier": a, "permission_name": p} for a, p in permissions]


def _roles_assign(args: argparse.Namespace) -> int:
    with _core(args) as core:
        admin.assign_roles(core, args.user_id, [args.role_id])
    print(f"Assigned role {args.role_id} to {args.user_id}")
    return 0


# signing keys
def _keys_list(args: argparse.Namespace) -> int:
    with _core(args) as core:
        records = core.keyring.records()
    if args.json:
        _print_json([{k: v for k, v in asdict(r).items() if k != "private_key"} for r in records])
    else:
        _table([[r.kid, r.alg, r.state, r.created_at.isoformat(timespec="seconds")] for r in records])
    return 0


def _keys_rotate(args: argparse.Namespace) -> int:
    with _core(args) as core:
        kid = core.keyring.rotate()
    print(f"Rotated: {kid} signs from now on; the previous key stays published for the overlap period.")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    with _core(args) as core:
        try:
            core.keyring.revoke(args.kid)
        except KeyError:
            raise admin.NotFound(f"no signing key {args.kid}") from None
        except ValueError as exc:
            raise admin.AdminError(str(exc)) from None
    print(f"Revoked {args.kid}: no longer published or accepted.")
    return 0


# the parser
def _parser() -> argparse.ArgumentParser:
    config_help = "TOML settings file (default: $MYACCOUNT_CONFIG)"
    # Accepted before or after the command; SUPPRESS keeps a subcommand from resetting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help=config_help)
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON, for scripts")

    parser = argparse.ArgumentParser(prog="myaccount", description="MyAccount identity server")
    parser.add_argument("--config", metavar="FILE", help=config_help)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        group: Any, name: str, handler: _Handler, help: str, *, json_output: bool = False
    ) -> argparse.ArgumentParser:
        parents = [common, as_json] if json_output else [common]
        sub: argparse.ArgumentParser = group.add_parser(name, help=help, description=help, parents=parents)
        sub.set_defaults(handler=handler)
        return sub

    def group(name: str, help: str) -> Any:
        sub = commands.add_parser(name, help=help, description=help)
        return sub.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = command(commands, "serve", _serve, "run the server (granian), after migrations and the tenant file")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--tenant", type=Path, metavar="FILE", help="tenant file (JSON or TOML) to apply at start")
    p.add_argument("--demo", action="store_true", help="create the demo tenant and print how to use it")
    p.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve HTTPS with this certificate (chain)")
    p.add_argument("--tls-key", type=Path, metavar="PEM", help="the certificate's private key")

    command(commands, "migrate", _migrate, "create or upgrade the database schema")
    command(commands, "demo", _demo, "create the demo tenant (idempotent) and print how to use it")

    tenant = group("tenant", "tenant as code")
    p = command(tenant, "apply", _tenant_apply, "apply a tenant file (JSON or TOML), idempotently", json_output=True)
    p.add_argument("file", type=Path)
    p.add_argument("--dry-run", action="store_true", help="check the file and count changes; write nothing")

    users = group("users", "users")
    p = command(users, "create", _users_create, "create a user", json_output=True)
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--verified", action="store_true", help="mark the email address verified")
    p.add_argument("--name")
    command(users, "list", _users_list, "list users", json_output=True)

    clients = group("clients", "applications")
    p = command(clients, "create", _clients_create, "create an application", json_output=True)
    p.add_argument("--name", required=True)
    p.add_argument("--type", required=True, choices=admin.APP_TYPES)
    p.add_argument("--callback", dest="callbacks", action="append", default=[], metavar="URL")
    p.add_argument(
        "--origin",
        dest="origins",
        action="append",
        default=[],
        metavar="URL",
        help="allowed origin (CORS) and web origin",
    )
    p.add_argument(
        "--grant-type",
        dest="grant_types",
        action="append",
        metavar="GRANT",
        help="repeat for several (default: Auth0's defaults for the type)",
    )
    p.add_argument(
        "--cross-origin-authentication",
        action="store_true",
        help="allow passwords to be posted from the allowed origins",
    )
    command(clients, "list", _clients_list, "list applications", json_output=True)

    apis = group("apis", "APIs (resource servers)")
    p = command(apis, "create", _apis_create, "create an API", json_output=True)
    p.add_argument("--identifier", required=True, help="the audience, e.g. https://api.example.com/")
    p.add_argument("--name", required=True)
    p.add_argument("--scope", dest="scopes", action="append", default=[], metavar="SCOPE")
    p.add_argument(
        "--user-policy",
        default="allow_all",
        choices=("allow_all", "deny_all", "require_client_grant"),
        help="who may get user tokens (default allow_all)",
    )
    p.add_argument(
        "--client-policy",
        choices=("deny_all", "require_client_grant"),
        help="who may get machine tokens (default require_client_grant)",
    )
    p.add_argument("--rbac", action="store_true", help="limit user tokens to the user's permissions")
    command(apis, "list", _apis_list, "list APIs", json_output=True)

    grants = group("grants", "client grants")
    p = command(grants, "create", _grants_create, "grant a client access to an API", json_output=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--audience", required=True)
    p.add_argument("--scope", dest="scopes", action="append", default=[], metavar="SCOPE")
    p.add_argument(
        "--subject-type",
        default="client",
        choices=("user", "client"),
        help="client: machine tokens; user: tokens for users (default client)",
    )
    p = command(grants, "list", _grants_list, "list client grants", json_output=True)
    p.add_argument("--client-id")

    roles = group("roles", "roles (RBAC)")
    p = command(roles, "create", _roles_create, "create a role", json_output=True)
    p.add_argument("--name", required=True)
    p.add_argument("--description", default="")
    p.add_argument("--permission", dest="permissions", action="append", default=[], metavar="AUDIENCE:SCOPE")
    command(roles, "list", _roles_list, "list roles", json_output=True)
    p = command(roles, "assign", _roles_assign, "assign a role to a user")
    p.add_argument("--user-id", required=True)
    p.add_argument("--role-id", required=True)

    p = commands.add_parser("export", help="write the tenant as JSON (backups, moving between databases)")
    p.add_argument("file", nargs="?", type=Path, help="output file (default: standard output)")
    p.set_defaults(handler=_export)
    p = commands.add_parser("import", help="load a tenant export into a fresh database (same secret key)")
    p.add_argument("file", type=Path)
    p.set_defaults(handler=_import)
    connections_cli.add_parser(commands)
    commands.add_parser(
        "authenticator",
        help="the push-notification device: enroll from a QR URI, list and approve or reject sign-ins",
        description="Run `myaccount authenticator --help` for its own commands.",
        add_help=False,
    )

    keys = group("keys", "signing keys")
    command(keys, "list", _keys_list, "list signing keys", json_output=True)
    command(keys, "rotate", _keys_rotate, "make the next key current; the old one stays published for a while")
    p = command(keys, "revoke", _keys_revoke, "stop publishing and accepting a key, now")
    # Key ids are base64url and may start with '-': `myaccount keys revoke -- -AbC…` keeps argparse off them.
    p.add_argument("kid", help="the key id from `keys list` (after `--` when it starts with '-')")
    return parser
