"""Attack protection: limits on what an attacker repeats (Auth0's brute-force protection and throttling).

- Logins: every attempt counts against the caller's IP; failed ones also against (account, IP), and once that
  bucket is empty the account is blocked from that IP until it refills (Auth0: 10 failures).
- One-time codes sent by email, SMS or voice: per user and per IP (each costs the victim, and money).
- Enrollments started: per user. Sign-ups: per IP.
Buckets live in the shared limiter (Redis with several nodes), so the limits hold across the fleet.
"""

import hashlib
from dataclasses import dataclass

from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.observability import RATE_LIMITED
from myaccount.policy.rate_limits import Decision, Rule

__all__ = ["Abuse", "TooManyAttempts"]


class TooManyAttempts(Exception):
    def __init__(self, detail: str, *, retry_after: int, rule: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = max(1, retry_after)
        self.rule = rule


@dataclass(frozen=True, slots=True)
class _Rules:
    login_ip: Rule
    failed_login: Rule
    code_send: Rule
    code_send_ip: Rule
    enrollment_start: Rule
    signup_ip: Rule


def _key(*parts: str | None) -> str:
    # Identifiers are hashed: bucket keys may end up in Redis, and should not spell out emails.
    return hashlib.sha256("\x00".join(p or "" for p in parts).encode()).hexdigest()[:32]


class Abuse:
    def __init__(self, core: Core) -> None:
        self.core = core
        limits = core.settings.rate_limits
        self.rules = _Rules(
            login_ip=Rule("login-ip", limits.login_ip_capacity, limits.login_ip_per_seconds),
            failed_login=Rule("failed-login", limits.failed_login_capacity, limits.failed_login_per_seconds),
            code_send=Rule("code-send", limits.code_send_capacity, limits.code_send_per_seconds),
            code_send_ip=Rule("code-send-ip", limits.code_send_ip_capacity, limits.code_send_ip_per_seconds),
            enrollment_start=Rule(
                "enroll-start", limits.enrollment_start_capacity, limits.enrollment_start_per_seconds
            ),
            signup_ip=Rule("signup-ip", limits.signup_ip_capacity, limits.signup_ip_per_seconds),
        )

    def _take(self, rule: Rule, key: str, *, cost: int = 1) -> Decision | None:
        if not rule.enabled:
            return None
        try:
            return self.core.limiter.take(rule, key, cost=cost)
        except Exception:  # an unreachable limiter store must not take logins down
            return None

    def _refuse(self, decision: Decision | None, rule: Rule, detail: str) -> None:
        if decision is not None and not decision.allowed:
            RATE_LIMITED.labels(rule.name).inc()
            raise TooManyAttempts(detail, retry_after=decision.retry_after, rule=rule.name)

    def check_login(self, caller: Caller, identifier: str | None, *, client_id: str | None = None) -> None:
        """Before checking a password or passkey: the IP's budget, and whether (account, IP) is blocked."""
        rules = self.rules
        self._refuse(
            self._take(rules.login_ip, _key(caller.ip)),
            rules.login_ip,
            "Too many login attempts from this address. Try again later.",
        )
        if identifier:
            blocked = self._take(rules.failed_login, _key(identifier.lower(), caller.ip), cost=0)
            self._refuse(
                blocked,
                rules.failed_login,
                "Your account has been blocked after multiple consecutive login attempts. Try again later.",
            )

    def failed_login(
        self, caller: Caller, identifier: str | None, *, user_id: str | None, client_id: str | None = None
    ) -> None:
        if not identifier:
            return
        decision = self._take(self.rules.failed_login, _key(identifier.lower(), caller.ip))
        if decision is not None and decision.remaining == 0:
            with self.core.db.write() as conn:
                record(
                    conn,
                    self.core.clock,
                    "limit_wc",
                    caller=caller,
                    outcome="failure",
                    user_id=user_id,
                    client_id=client_id,
                    description="Blocked: too many failed logins from this address",
                    retry_after=decision.retry_after,
                )

    def code_send(self, caller: Caller, user_id: str) -> None:
        rules = self.rules
        self._refuse(
            self._take(rules.code_send_ip, _key(caller.ip)),
            rules.code_send_ip,
            "Too many codes were sent from this address. Try again later.",
        )
        self._refuse(
            self._take(rules.code_send, _key(user_id)),
            rules.code_send,
            "Too many codes were sent. Wait before asking for another.",
        )

    def enrollment_start(self, caller: Caller, user_id: str) -> None:
        rule = self.rules.enrollment_start
        self._refuse(self._take(rule, _key(user_id)), rule, "Too many enrollments started. Try again later.")

    def signup(self, caller: Caller) -> None:
        rule = self.rules.signup_ip
        self._refuse(self._take(rule, _key(caller.ip)), rule, "Too many sign-ups from this address. Try again later.")
