"""Post-login Actions: tenant-configured Python callables run at every login and refresh, as Auth0 Actions are.

An action is `def on_execute_post_login(event, api) -> None` in a module named by `settings.actions_module`
(several: comma separated, each `module` or `module:function`). It may require a second factor
(`api.authentication.challenge_with(...)`), deny access (`api.access.deny(reason)`), and add claims to the
access and ID tokens. An action that raises denies the login with a clear error; it never takes the server down.
"""

import importlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ActionError", "ActionResult", "Actions", "PostLoginApi", "load_actions"]

log = logging.getLogger("myaccount.actions")

# Claims an action may not set: they carry the token's meaning and are ours alone.
RESERVED_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "azp",
        "scope",
        "auth_time",
        "gty",
        "permissions",
        "nonce",
        "sid",
        "amr",
        "acr",
        "at_hash",
        "c_hash",
        "cnf",
        "client_id",
    }
)
# Auth0's factor names in challengeWith, and the My Account method types that satisfy each.
FACTOR_TYPES = {
    "otp": ("totp",),
    "phone": ("phone",),
    "email": ("email",),
    "push-notification": ("push-notification",),
    "recovery-code": ("recovery-code",),
    "webauthn-platform": ("webauthn-platform", "passkey"),
    "webauthn-roaming": ("webauthn-roaming", "passkey"),
}

Action = Callable[[Mapping[str, Any], "PostLoginApi"], None]


class ActionError(Exception):
    """An action failed or was misconfigured."""


@dataclass
class ActionResult:
    denied: str | None = None
    challenge: tuple[str, ...] | None = None  # My Account method types any one of which satisfies the challenge
    access_claims: dict[str, Any] = field(default_factory=dict)
    id_claims: dict[str, Any] = field(default_factory=dict)


class _Claims:
    def __init__(self, target: dict[str, Any]) -> None:
        self._target = target

    def set_custom_claim(self, name: str, value: Any) -> None:
        if not isinstance(name, str) or not name or name in RESERVED_CLAIMS:
            raise ActionError(f"claim {name!r} cannot be set by an action")
        self._target[name] = value


class _Access:
    def __init__(self, result: ActionResult) -> None:
        self._result = result

    def deny(self, reason: str) -> None:
        self._result.denied = str(reason)[:500] or "Access denied."


class _Authentication:
    def __init__(self, result: ActionResult) -> None:
        self._result = result

    def challenge_with(
        self, factor: Mapping[str, Any] | str, *, additional_factors: Sequence[Mapping[str, Any] | str] = ()
    ) -> None:
        self.challenge_with_any([factor, *additional_factors])

    def challenge_with_any(self, factors: Iterable[Mapping[str, Any] | str]) -> None:
        types: list[str] = []
        for factor in factors:
            name = factor.get("type") if isinstance(factor, Mapping) else factor
            if name not in FACTOR_TYPES:
                raise ActionError(f"unknown factor {name!r}; use one of {', '.join(FACTOR_TYPES)}")
            types.extend(t for t in FACTOR_TYPES[str(name)] if t not in types)
        if not types:
            raise ActionError("challenge_with_any needs at least one factor")
        self._result.challenge = tuple(types)


class PostLoginApi:
    def __init__(self, result: ActionResult) -> None:
        self.access = _Access(result)
        self.authentication = _Authentication(result)
        self.access_token = _Claims(result.access_claims)
        self.id_token = _Claims(result.id_claims)


def load_actions(spec: str | None) -> list[Action]:
    actions: list[Action] = []
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        module_name, _, attr = item.partition(":")
        module = importlib.import_module(module_name)
        action = getattr(module, attr or "on_execute_post_login", None)
        if not callable(action):
            raise ActionError(f"{item}: no callable {attr or 'on_execute_post_login'}")
        actions.append(action)
    return actions


class Actions:
    def __init__(self, actions: Sequence[Action]) -> None:
        self._actions = list(actions)

    def __bool__(self) -> bool:
        return bool(self._actions)

    def run(self, event: Mapping[str, Any]) -> ActionResult:
        result = ActionResult()
        api = PostLoginApi(result)
        for action in self._actions:
            try:
                action(event, api)
            except Exception as exc:
                name = getattr(action, "__qualname__", repr(action))
                log.warning("post-login action %s failed: %r", name, exc)
                result.denied = "A post-login action failed; access is denied."
                return result
            if result.denied:
                return result
        return result
