"""Post-login actions used by the tests (loaded through `settings.actions_module`)."""

from collections.abc import Mapping
from typing import Any

from myaccount.actions import PostLoginApi


def challenge_otp(event: Mapping[str, Any], api: PostLoginApi) -> None:
    api.authentication.challenge_with({"type": "otp"})


def deny_bob(event: Mapping[str, Any], api: PostLoginApi) -> None:
    if event["user"]["email"] == "bob@example.com":
        api.access.deny("Bob is not welcome here.")


def add_claims(event: Mapping[str, Any], api: PostLoginApi) -> None:
    api.access_token.set_custom_claim("https://example.test/roles", ["reader"])
    api.id_token.set_custom_claim("https://example.test/plan", event["client"]["name"])


def broken(event: Mapping[str, Any], api: PostLoginApi) -> None:
    raise RuntimeError("bug in tenant code")


def forbidden_claim(event: Mapping[str, Any], api: PostLoginApi) -> None:
    api.access_token.set_custom_claim("sub", "someone-else")
