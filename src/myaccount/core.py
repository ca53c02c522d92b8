"""The services every use case needs, built once per process from settings: the one place they are wired."""

from collections.abc import Callable
from dataclasses import dataclass
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
from myaccount.oauth.keyring import KeyRing
from myaccount.oauth.tokens import TokenService
from myaccount.policy.rate_limits import Limiter, MemoryLimiter, RedisLimiter
from myaccount.settings import Settings
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

    def fingerprint(self, value: str, *, purpose: str) -> str:
        return self.sealer.fingerprint(value, purpose=purpose)


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
    keyring = KeyRing(
        db,
        sealer,
        clock,
        overlap=settings.signing_key_overlap,
        refresh_seconds=5.0,
        generate=generate_key or generate_rsa,
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
    limiter: Limiter = RedisLimiter(settings.redis_url) if settings.redis_url else MemoryLimiter()
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
    )


def seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())
