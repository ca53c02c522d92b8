"""The store's tables (SQLAlchemy Core). One `MetaData`; Alembic migrations under `migrations/` follow it.

Times are stored as UTC. Secrets never appear in clear: client secrets and refresh tokens are keyed hashes,
passwords argon2id, TOTP seeds, private keys and upstream tokens sealed (AES-GCM) before they get here.
"""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = ["metadata"]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _ts(name: str, nullable: bool = True) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


tenant_settings = Table(
    "tenant_settings",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", JSON, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("email", String(320), unique=True),
    Column("username", String(128), unique=True),
    Column("email_verified", Boolean, nullable=False, default=False),
    Column("phone_number", String(32)),
    Column("name", String(300)),
    Column("given_name", String(150)),
    Column("family_name", String(150)),
    Column("nickname", String(300)),
    Column("picture", Text),
    Column("password_hash", Text),
    _ts("password_changed_at"),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("webauthn_user_handle", String(100), unique=True),
    Column("user_metadata", JSON, nullable=False, default=dict),
    Column("app_metadata", JSON, nullable=False, default=dict),
    _ts("created_at", False),
    _ts("updated_at", False),
    _ts("last_login"),
    _ts("passkey_prompt_dismissed_at"),
    Column("last_ip", String(64)),
    Column("logins_count", Integer, nullable=False, default=0),
)

identities = Table(
    "identities",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("connection", String(128), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("identity_id", String(255), nullable=False),
    Column("is_social", Boolean, nullable=False, default=False),
)

password_history = Table(
    "password_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("password_hash", Text, nullable=False),
    _ts("created_at", False),
)

roles = Table(
    "roles",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
)

role_permissions = Table(
    "role_permissions",
    metadata,
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column("resource_server_identifier", String(600), primary_key=True),
    Column("permission_name", String(280), primary_key=True),
)

user_roles = Table(
    "user_roles",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)

user_permissions = Table(
    "user_permissions",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("resource_server_identifier", String(600), primary_key=True),
    Column("permission_name", String(280), primary_key=True),
)

clients = Table(
    "clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("app_type", String(32), nullable=False),  # spa | native | regular_web | non_interactive
    Column("secret_hash", String(128)),
    Column("token_endpoint_auth_method", String(32), nullable=False),  # none | client_secret_post | client_secret_basic
    Column("grant_types", JSON, nullable=False),
    Column("callbacks", JSON, nullable=False),
    Column("allowed_origins", JSON, nullable=False),
    Column("web_origins", JSON, nullable=False),
    Column("allowed_logout_urls", JSON, nullable=False),
    Column("cross_origin_authentication", Boolean, nullable=False, default=False),
    Column("is_first_party", Boolean, nullable=False, default=True),
    Column("refresh_token", JSON, nullable=False, default=dict),
    Column("client_metadata", JSON, nullable=False, default=dict),
    Column("is_system", Boolean, nullable=False, default=False),
    _ts("created_at", False),
)

resource_servers = Table(
    "resource_servers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("identifier", String(600), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("scopes", JSON, nullable=False),  # [{"value": …, "description": …}]
    Column("signing_alg", String(16), nullable=False, default="RS256"),
    Column("token_lifetime", Integer, nullable=False),
    Column("allow_offline_access", Boolean, nullable=False, default=True),
    Column("skip_consent_for_verifiable_first_party_clients", Boolean, nullable=False, default=True),
    Column("enforce_policies", Boolean, nullable=False, default=False),  # RBAC
    Column("token_dialect", String(32), nullable=False, default="access_token"),
    Column("subject_type_authorization", JSON, nullable=False),
    Column("proof_of_possession", JSON),
    Column("is_system", Boolean, nullable=False, default=False),
    _ts("created_at", False),
)

client_grants = Table(
    "client_grants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("client_id", ForeignKey("clients.client_id", ondelete="CASCADE"), nullable=False),
    Column("audience", String(600), nullable=False),
    Column("scope", JSON, nullable=False),
    Column("subject_type", String(32), nullable=False),  # user | client
    _ts("created_at", False),
    UniqueConstraint("client_id", "audience", "subject_type", name="uq_client_grants_client_audience_subject"),
)

consents = Table(
    "consents",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("client_id", ForeignKey("clients.client_id", ondelete="CASCADE"), primary_key=True),
    Column("audience", String(600), primary_key=True),
    Column("scope", JSON, nullable=False),
    _ts("created_at", False),
    _ts("updated_at", False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("private_key", Text, nullable=False),  # sealed PEM
    Column("public_jwk", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # next | current | previous | revoked
    _ts("created_at", False),
    _ts("activated_at"),
    _ts("retired_at"),
    _ts("revoked_at"),
)

login_sessions = Table(
    "login_sessions",
    metadata,
    Column("id", String(128), primary_key=True),  # keyed hash of the cookie value
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    _ts("created_at", False),
    _ts("last_seen_at", False),
    _ts("expires_at", False),
    _ts("auth_time", False),
    Column("amr", JSON, nullable=False),
    _ts("mfa_time"),
    _ts("revoked_at"),
    Column("ip", String(64)),
    Column("user_agent", Text),
)

login_transactions = Table(
    "login_transactions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("params", JSON, nullable=False),
    Column("csrf_token", String(128), nullable=False),
    Column("state", JSON, nullable=False, default=dict),
    _ts("created_at", False),
    _ts("expires_at", False),
    _ts("completed_at"),
)

authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("code_hash", String(128), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(128)),
    Column("redirect_uri", Text, nullable=False),
    Column("audience", String(600)),
    Column("scope", Text, nullable=False),
    Column("nonce", Text),
    Column("code_challenge", String(128)),
    Column("code_challenge_method", String(16)),
    _ts("auth_time", False),
    Column("amr", JSON, nullable=False),
    _ts("mfa_time"),
    _ts("created_at", False),
    _ts("expires_at", False),
    _ts("consumed_at"),
    Column("refresh_family_id", String(64)),
    Column("access_token_jti", String(64)),
    Column("claims", JSON),  # {"access": {...}, "id": {...}}: custom claims from post-login actions
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("family_id", String(64), nullable=False, index=True),
    Column("client_id", String(64), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("audience", String(600)),
    Column("scope", Text, nullable=False),
    Column("amr", JSON, nullable=False),
    _ts("auth_time", False),
    _ts("mfa_time"),
    Column("session_id", String(128)),
    Column("dpop_jkt", String(64)),
    _ts("created_at", False),
    _ts("expires_at", False),
    _ts("family_expires_at", False),
    _ts("rotated_at"),
    _ts("revoked_at"),
    Column("replaced_by", String(64)),
)

revoked_access_tokens = Table(
    "revoked_access_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    _ts("expires_at", False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", String(64), primary_key=True),
    _ts("at", False),
    Column("type", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # success | failure
    Column("user_id", String(100), index=True),
    Column("client_id", String(64)),
    Column("ip", String(64)),
    Column("user_agent", Text),
    Column("description", Text, nullable=False, default=""),
    Column("details", JSON, nullable=False, default=dict),
    Index("ix_audit_events_at", "at"),
)

authentication_methods = Table(
    "authentication_methods",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(32), nullable=False),
    Column("name", String(200)),
    Column("confirmed", Boolean, nullable=False, default=False),
    Column("credential_id", String(1400), unique=True),  # WebAuthn credential id (base64url), for sign-in lookup
    Column("data", JSON, nullable=False, default=dict),  # per-type public fields
    Column("secret", Text),  # sealed per-type secret (TOTP seed, recovery code hash, …)
    _ts("created_at", False),
    _ts("last_auth_at"),
    # A user's methods in the list's order (oldest first), read without a sort; user_id lookups use its prefix.
    Index("ix_authentication_methods_user_listing", "user_id", "created_at", "id"),
)

auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", String(128), primary_key=True),  # keyed hash of the opaque auth_session
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE")),  # none yet for a passkey sign-up
    Column("client_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),  # enrollment | mfa | passkey-login | passkey-signup | connect
    Column("method_type", String(32)),
    Column("method_id", String(128)),
    Column("state", Text, nullable=False),  # sealed JSON
    Column("attempts", Integer, nullable=False, default=0),
    _ts("created_at", False),
    _ts("expires_at", False),
    _ts("consumed_at"),
)

from myaccount.store import connected as _connected  # noqa: E402,F401  (its tables join `metadata`)
from myaccount.store import push as _push  # noqa: E402,F401  (its tables join `metadata`)
