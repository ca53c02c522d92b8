"""The services every use case needs, built once per process from settings: the one place they are wired."""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from myaccount.actions import Actions, load_actions
from myaccount.clock import Clock, SystemClock
from myaccount.crypto.keys import KeyMaterial, generate_rsa
from myaccount.crypto.passwords import PasswordHashing
from myaccount.crypto.sealing import Sealer, load_or_create_secret
from myaccount.delivery.base import Channel
from myaccount.delivery.email import SmtpChannel
from myaccount.delivery.outbox import Outbox
from myaccount.delivery.sms import HttpSmsChannel
from myaccount.oauth import key_events
from myaccount.oauth.dpop import MemoryReplayCache, NonceSource, RedisReplayCache, ReplayCache
from myaccount.oauth.keyring import KeyRing
from myaccount.oauth.tokens import TokenService
from myaccount.policy.rate_limits import Limiter, MemoryLimiter, RedisLimiter
from myaccount.settings import Settings
from myaccount.store.clients import ClientStore, ResourceServer
from myaccount.store.db import Database
from myaccount.store.migrate import upgrade
from myaccount.tenant import ensure_system_apis

__all__ = ["Core", "build_core"]


@dataclass
class Core:
    settings: Settings
    clock: Clock
    db: Database
    sealer: Sealer
    passwords: PasswordHashing
    keyring: KeyRing
    tokens: TokenService
    limiter: Limiter
    outbox: Outbox
    email: Channel
    phone: Channel
    actions: Actions
    dpop_replay: ReplayCache
    dpop_nonces: NonceSource
    _apis: dict[str, tuple[float, ResourceServer | None]] = field(default_factory=dict)

    def fingerprint(self, value: str, *, purpose: str) -> str:
        return self.sealer.fingerprint(value, purpose=purpose)

    def invalidate_apis(self) -> None:
        self._apis.clear()

    def api(self, audience: str) -> ResourceServer | None:
        """An API's settings, cached for a few seconds: the guards consult them on every request."""
        cached = self._apis.get(audience)
        if cached is not None and time.monotonic() - cached[0] < 5.0:
            return cached[1]
        with self.db.read() as conn:
            api = ClientStore(conn).resource_server(audience)
        self._apis[audience] = (time.monotonic(), api)
        return api


def build_core(
    settings: Settings,
    *,
    clock: Clock | None = None,
    passwords: PasswordHashing | None = None,
    migrate: bool = True,
    generate_key: Callable[[], KeyMaterial] | None = None,
) -> Core:
    clock = clock or SystemClock()
    db = Database(settings.database_url)
    secret = settings.secret_key or load_or_create_secret(settings.secret_key_file)
    sealer = Sealer.from_config(secret)
    if migrate:
        upgrade(db)
    redis_url = settings.redis_url
    keyring = KeyRing(
        db,
        sealer,
        clock,
        overlap=settings.signing_key_overlap,
        refresh_seconds=5.0,
        generate=generate_key or generate_rsa,
        on_change=(lambda event: key_events.publish(redis_url, event, prefix=settings.redis_prefix))
        if redis_url
        else None,
    )
    keyring.ensure()
    ensure_system_apis(db, settings, now=clock.now())
    tokens = TokenService(keyring, clock, issuer=settings.issuer, cache_size=settings.token_cache_size)
    outbox = Outbox()
    email: Channel = outbox
    if settings.smtp_host:
        email = SmtpChannel(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.smtp_sender,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            clock=clock,
        )
    phone: Channel = HttpSmsChannel(settings.sms_provider_url) if settings.sms_provider_url else outbox
    prefix = settings.redis_prefix
    limiter: Limiter = (
        RedisLimiter(settings.redis_url, prefix=f"{prefix}rl:") if settings.redis_url else MemoryLimiter()
    )
    return Core(
        settings=settings,
        clock=clock,
        db=db,
        sealer=sealer,
        passwords=passwords or PasswordHashing(),
        keyring=keyring,
        tokens=tokens,
        limiter=limiter,
        outbox=outbox,
        email=email,
        phone=phone,
        actions=Actions(load_actions(settings.actions_module)),
        dpop_replay=(
            RedisReplayCache(settings.redis_url, prefix=f"{prefix}dpop:") if settings.redis_url else MemoryReplayCache()
        ),
        dpop_nonces=NonceSource(hashlib.sha256(sealer.fingerprint("nonce", purpose="dpop").encode()).digest()),
    )


def seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())
