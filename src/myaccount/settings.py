"""Typed settings, read once from the environment (prefix `MYACCOUNT_`) and an optional TOML file, then passed in.

Nothing reads settings at import time; `create_app(settings)` receives them.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

__all__ = ["RateLimitSettings", "Settings", "load_settings"]


class RateLimitSettings(BaseModel):
    """Token buckets: `capacity` requests, refilled evenly over `per` seconds. 0 capacity switches a limit off."""

    model_config = {"frozen": True}

    tenant_capacity: int = 0  # Auth0's My Account API: 25/s per tenant; off by default when self-hosted
    tenant_per_seconds: float = 1.0
    user_read_capacity: int = 0
    user_read_per_seconds: float = 60.0
    user_write_capacity: int = 20
    user_write_per_seconds: float = 60.0
    code_attempt_capacity: int = 10
    code_attempt_per_seconds: float = 60.0
    login_ip_capacity: int = 50
    login_ip_per_seconds: float = 60.0
    # Attack protection, as Auth0's: failed logins per account and IP, codes sent, enrollments started, sign-ups.
    failed_login_capacity: int = 10
    failed_login_per_seconds: float = 900.0
    code_send_capacity: int = 5
    code_send_per_seconds: float = 900.0
    code_send_ip_capacity: int = 30
    code_send_ip_per_seconds: float = 900.0
    enrollment_start_capacity: int = 10
    enrollment_start_per_seconds: float = 300.0
    signup_ip_capacity: int = 20
    signup_ip_per_seconds: float = 3600.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MYACCOUNT_", env_nested_delimiter="__", frozen=True, extra="ignore")

    # The one public origin: issuer `{origin}/`, My Account audience `{origin}/me/`, Management `{origin}/api/v2/`.
    # Clients compare the issuer byte for byte, so it is derived here and nowhere else.
    public_url: str = "http://localhost:8000"
    database_url: str = "sqlite:///myaccount.db"
    redis_url: str | None = None
    redis_prefix: str = "myaccount:"  # every key and channel; nodes of one tenant share it
    # Key material for sealing secrets at rest (base64 of >= 32 bytes). Several, comma separated: the first seals,
    # all open (rotation). Unset: a key file next to the SQLite database is created and used.
    secret_key: str | None = None
    secret_key_file: Path = Path("myaccount.secret")
    tenant_name: str = "MyAccount"
    environment: Literal["development", "production", "test"] = "development"

    access_token_ttl: timedelta = timedelta(hours=24)  # default for custom APIs, as Auth0's token_lifetime
    my_account_token_ttl: timedelta = timedelta(minutes=10)
    id_token_ttl: timedelta = timedelta(hours=10)
    authorization_code_ttl: timedelta = timedelta(minutes=2)
    refresh_token_absolute_ttl: timedelta = timedelta(days=30)
    refresh_token_idle_ttl: timedelta = timedelta(days=15)
    session_idle_ttl: timedelta = timedelta(days=3)
    session_absolute_ttl: timedelta = timedelta(days=7)
    login_transaction_ttl: timedelta = timedelta(minutes=30)
    # A retired signing key stays published (and accepted) this long, so tokens it signed live out their time.
    signing_key_overlap: timedelta = timedelta(hours=25)
    token_cache_size: int = 50_000

    auth_session_ttl: timedelta = timedelta(minutes=5)
    recent_auth_window: timedelta = timedelta(minutes=15)
    max_passkeys_per_user: int = 20
    dpop_require_nonce: bool = False  # RFC 9449 §8/§9: server-provided nonces at the token endpoint and APIs
    dpop_iat_window_seconds: int = 60
    account_page_dpop: bool = False  # the account page binds its tokens with DPoP (config.json "dpop")
    webauthn_rp_id: str | None = None  # default: the host of public_url
    webauthn_origins: list[str] = Field(default_factory=list)  # default: the public origin
    rate_limits: RateLimitSettings = RateLimitSettings()

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_sender: str = "MyAccount <no-reply@localhost>"
    sms_provider_url: str | None = None  # POST JSON {to, body, channel}; unset: the development outbox

    actions_module: str | None = None
    purge_interval_seconds: float = 600.0  # 0 switches the scheduled purge off
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (a load balancer), as IPs or CIDR networks.
    trusted_proxies: list[str] = Field(default_factory=list)
    log_level: str = "INFO"
    log_json: bool = True
    access_log: bool = True

    @field_validator("public_url")
    @classmethod
    def _origin_only(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("public_url must be an http(s) origin such as https://id.example.com")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("public_url must be an origin: no path, query or fragment")
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def origin(self) -> str:
        return self.public_url

    @property
    def issuer(self) -> str:
        return f"{self.public_url}/"

    @property
    def my_account_audience(self) -> str:
        return f"{self.public_url}/me/"

    @property
    def management_audience(self) -> str:
        return f"{self.public_url}/api/v2/"

    @property
    def userinfo_url(self) -> str:
        return f"{self.public_url}/userinfo"

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def rp_id(self) -> str:
        return self.webauthn_rp_id or (urlsplit(self.public_url).hostname or "localhost")

    @property
    def allowed_webauthn_origins(self) -> list[str]:
        return self.webauthn_origins or [self.public_url]


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from (highest first) keyword overrides, the environment, then `config_file` (TOML)."""
    if config_file is None:
        return Settings(**overrides)
    path = config_file

    class FileSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=path)

    return FileSettings(**overrides)
