"""Paths and components of the token server: OAuth/OIDC endpoints, hosted login (`/authorize`, `/u/*`, logout),
the native passkey API, the MFA API, the push device API, the connect pages and the operational endpoints."""

from typing import Any

from myaccount.openapi._shapes import (
    form_or_json,
    html,
    json_body,
    json_response,
    no_content,
    obj,
    op,
    param,
    redirect,
    ref,
    string,
)

__all__ = ["components", "paths"]

_STR = string()
_STATE = param("state", schema=string(maxLength=200))
_OAUTH_ERROR = ref("OAuthError")
_PUSH_PROBLEM = ref("ErrorResponse")  # the /me/v1 problem shape


def _oauth(description: str) -> dict[str, Any]:
    return json_response(description, _OAUTH_ERROR)


def _too_many(description: str) -> dict[str, Any]:
    return json_response(description, _OAUTH_ERROR, headers={"retry-after": {"required": True, "schema": _STR}})


def _script_error(description: str) -> dict[str, Any]:
    return json_response(description, ref("LoginScriptError"))


components: dict[str, Any] = {
    "schemas": {
        "OAuthError": obj(
            {
                "error": _STR,
                "error_description": _STR,
                "mfa_token": _STR,
                "mfa_requirements": {"type": "object"},
            },
            required=("error",),
        ),
        "TokenRequest": obj(
            {
                "grant_type": string(
                    examples=[
                        "authorization_code",
                        "refresh_token",
                        "client_credentials",
                        "password",
                        "http://auth0.com/oauth/grant-type/password-realm",
                    ]
                ),
                "client_id": _STR,
                "client_secret": _STR,
                "code": _STR,
                "code_verifier": _STR,
                "redirect_uri": _STR,
                "refresh_token": _STR,
                "username": _STR,
                "password": _STR,
                "realm": _STR,
                "audience": _STR,
                "scope": _STR,
                "mfa_token": _STR,
                "otp": _STR,
                "oob_code": _STR,
                "binding_code": _STR,
                "recovery_code": _STR,
                "auth_session": _STR,
                "subject_token": _STR,
                "subject_token_type": _STR,
                "requested_token_type": _STR,
                "connection": _STR,
            },
            required=("grant_type",),
        ),
        "TokenResponse": obj(
            {
                "access_token": _STR,
                "token_type": {"enum": ["Bearer", "DPoP"]},
                "expires_in": {"type": "integer"},
                "scope": _STR,
                "id_token": _STR,
                "refresh_token": _STR,
                "recovery_code": _STR,
                "issued_token_type": _STR,
            },
            required=("access_token", "token_type", "expires_in"),
        ),
        "RevokeRequest": obj({"token": _STR, "client_id": _STR, "client_secret": _STR}, required=("token",)),
        "UserInfo": obj(
            {
                "sub": _STR,
                "email": _STR,
                "email_verified": {"type": "boolean"},
                "name": _STR,
                "nickname": _STR,
                "picture": _STR,
                "given_name": _STR,
                "family_name": _STR,
                "phone_number": _STR,
                "phone_number_verified": {"type": "boolean"},
                "updated_at": {},
            },
            required=("sub",),
        ),
        "OpenIdConfiguration": obj(
            {
                "issuer": _STR,
                "authorization_endpoint": _STR,
                "token_endpoint": _STR,
                "userinfo_endpoint": _STR,
                "jwks_uri": _STR,
                "revocation_endpoint": _STR,
                "scopes_supported": {"type": "array", "items": _STR},
                "response_types_supported": {"type": "array", "items": _STR},
                "grant_types_supported": {"type": "array", "items": _STR},
                "code_challenge_methods_supported": {"type": "array", "items": {"const": "S256"}},
            },
            required=("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported"),
        ),
        "Jwks": obj(
            {
                "keys": {
                    "type": "array",
                    "items": obj(
                        {"kty": {"const": "RSA"}, "kid": _STR, "alg": _STR, "use": _STR, "n": _STR, "e": _STR},
                        required=("kty", "kid", "n", "e"),
                    ),
                }
            },
            required=("keys",),
        ),
        "PasskeyRegisterRequest": obj(
            {
                "client_id": _STR,
                "client_secret": _STR,
                "realm": _STR,
                "user_profile": obj({"email": _STR, "name": _STR, "username": _STR, "phone_number": _STR}),
            },
            required=("client_id",),
        ),
        "PasskeyChallengeRequest": obj(
            {"client_id": _STR, "client_secret": _STR, "realm": _STR}, required=("client_id",)
        ),
        "PasskeyChallengeResponse": obj(
            {"auth_session": _STR, "authn_params_public_key": {"type": "object"}},
            required=("auth_session", "authn_params_public_key"),
        ),
        "MfaChallengeRequest": obj(
            {
                "client_id": _STR,
                "client_secret": _STR,
                "mfa_token": _STR,
                "challenge_type": _STR,
                "authenticator_id": _STR,
                "oob_channel": _STR,
            },
            required=("mfa_token",),
        ),
        "MfaChallengeResponse": obj(
            {"challenge_type": {"enum": ["otp", "oob"]}, "oob_code": _STR, "binding_method": _STR},
            required=("challenge_type",),
        ),
        "MfaAuthenticator": obj(
            {
                "id": _STR,
                "authenticator_type": _STR,
                "active": {"type": "boolean"},
                "oob_channel": _STR,
                "name": _STR,
            },
            required=("id", "authenticator_type"),
        ),
        "PushEnrollRequest": obj(
            {
                "enrollment_tx_id": _STR,
                "device_name": _STR,
                "public_key": obj({"kty": _STR, "crv": _STR, "x": _STR, "y": _STR}),
            },
            required=("enrollment_tx_id", "public_key"),
            closed=True,
        ),
        "PushEnrollResponse": obj({"device_id": _STR, "user": _STR}, required=("device_id", "user")),
        "PushChallenges": obj(
            {
                "challenges": {
                    "type": "array",
                    "items": obj({"id": _STR, "status": _STR, "created_at": _STR, "expires_at": _STR}),
                }
            },
            required=("challenges",),
        ),
        "PushAnswerRequest": obj(
            {"approve": {"type": "boolean"}, "signature": _STR}, required=("approve", "signature"), closed=True
        ),
        "PushAnswerResponse": obj({"id": _STR, "status": _STR}, required=("id", "status")),
        "LoginScriptRequest": obj({"credential": {"type": "object"}, "email": _STR, "name": _STR}),
        "LoginScriptError": obj({"error": _STR}, required=("error",)),
        "LoginScriptOptions": obj({"publicKey": {"type": "object"}}, required=("publicKey",)),
        "LoginScriptRedirect": obj({"redirect": _STR}, required=("redirect",)),
        "LoginForm": obj(
            {
                "csrf_token": _STR,
                "username": _STR,
                "password": _STR,
                "code": _STR,
                "method_id": _STR,
                "action": _STR,
            }
        ),
        "Status": obj({"status": _STR}, required=("status",)),
        "Readiness": obj({"status": _STR, "checks": {"type": "object"}}, required=("status", "checks")),
        "AccountPageConfig": {"type": "object"},
    },
    "securitySchemes": {
        "UserToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "An access token for `{origin}/userinfo` (Bearer, or DPoP with a proof)",
        },
        "MfaToken": {"type": "http", "scheme": "bearer", "description": "The mfa_token of an mfa_required answer"},
        "DeviceProof": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Device <jwt>`: a proof signed with the enrolled push device key",
        },
    },
}

_AUTHORIZE_PARAMS = [
    param("response_type", schema=string(examples=["code"])),
    param("client_id"),
    param("redirect_uri"),
    param("scope"),
    param("state"),
    param("nonce"),
    param("audience"),
    param("code_challenge"),
    param("code_challenge_method", schema=string(examples=["S256", "plain"])),
    param("response_mode", schema=string(examples=["query", "form_post"])),
    param("prompt"),
    param("max_age"),
    param("screen_hint"),
    param("login_hint"),
]

_PAGE: dict[int | str, dict[str, Any]] = {
    200: html("The page"),
    400: html("The sign-in expired or cannot go on"),
}
_FORM_POST: dict[int | str, dict[str, Any]] = {
    200: html("The page again, or the form_post page back to the application"),
    302: redirect("On to the next step, or back to the application"),
    303: redirect("On to the next step"),
    400: {
        "description": "The sign-in expired or the input was refused (a page), or the form is malformed (JSON)",
        "content": {"text/html": {"schema": _STR}, "application/json": {"schema": _OAUTH_ERROR}},
    },
    403: html("The CSRF token or the transaction cookie is missing or wrong"),
    413: _oauth("The body is larger than 64 KiB"),
}
_LOGIN_FORM = {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": ref("LoginForm")}}}
_SCRIPT_BODY = json_body(ref("LoginScriptRequest"))
_CSRF = param("x-csrf-token", "header")


def _script(summary: str, operation_id: str, ok: dict[str, Any], *, limited: bool = False) -> dict[str, Any]:
    responses: dict[int | str, dict[str, Any]] = {
        200: ok,
        400: _script_error("The sign-in expired, or the input was refused"),
        403: _script_error("The CSRF header or the transaction cookie is missing or wrong"),
        413: _script_error("The body is larger than 64 KiB"),
    }
    if limited:
        responses[429] = _script_error("Too many attempts from this address")
    return {
        "post": op(
            summary,
            responses,
            tags=("hosted login",),
            operation_id=operation_id,
            parameters=[_STATE, _CSRF],
            body=_SCRIPT_BODY,
        )
    }


def _page_and_form(summary: str, operation_id: str, *, post: bool = True) -> dict[str, Any]:
    item: dict[str, Any] = {
        "get": op(
            summary,
            {**_PAGE, 302: redirect("On to the next step"), 303: redirect("On to the next step")},
            tags=("hosted login",),
            operation_id=f"{operation_id}Page",
            parameters=[_STATE],
        )
    }
    if post:
        item["post"] = op(
            summary + " (form post)",
            dict(_FORM_POST),
            tags=("hosted login",),
            operation_id=f"{operation_id}Post",
            parameters=[_STATE],
            body=_LOGIN_FORM,
        )
    return item


_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _oauth("Invalid request"),
    413: _oauth("The body is larger than 64 KiB"),
    415: _oauth("Not a form or JSON body"),
}

paths: dict[str, Any] = {
    "/oauth/token": {
        "post": op(
            "Issue tokens (RFC 6749 §3.2 and Auth0's grants)",
            {
                200: json_response("Tokens", ref("TokenResponse")),
                **_BODY_ERRORS,
                401: _oauth("Client authentication failed"),
                403: _oauth("Not allowed: unauthorized_client, access_denied, mfa_required (with mfa_token)"),
                429: _too_many("Attack protection: too many attempts"),
            },
            tags=("oauth",),
            operation_id="token",
            body=form_or_json(ref("TokenRequest")),
        )
    },
    "/oauth/revoke": {
        "post": op(
            "Revoke a refresh token and its family (RFC 7009)",
            {200: no_content("Revoked, or unknown"), **_BODY_ERRORS, 401: _oauth("Client authentication failed")},
            tags=("oauth",),
            operation_id="revoke",
            body=form_or_json(ref("RevokeRequest")),
        )
    },
    "/userinfo": {
        method: op(
            "OIDC UserInfo (OIDC Core §5.3)",
            {
                200: json_response("The user's claims", ref("UserInfo")),
                401: _oauth("Missing or invalid token"),
                403: _oauth("The token lacks the openid scope"),
            },
            tags=("oauth",),
            operation_id=f"userinfo{method.title()}",
            security=[{"UserToken": ["openid"]}],
        )
        for method in ("get", "post")
    },
    "/.well-known/openid-configuration": {
        "get": op(
            "OIDC discovery",
            {200: json_response("The provider metadata", ref("OpenIdConfiguration"))},
            tags=("oauth",),
            operation_id="openidConfiguration",
        )
    },
    "/.well-known/jwks.json": {
        "get": op(
            "The public signing keys",
            {200: json_response("JWKS", ref("Jwks"))},
            tags=("oauth",),
            operation_id="jwks",
        )
    },
    "/authorize": {
        "get": op(
            "Authorization endpoint (RFC 6749 §4.1.1, PKCE S256)",
            {
                200: html("The form_post page back to the application"),
                302: redirect("To the hosted login, or back to the application with a code or an error"),
                400: html("An error the application cannot be told about (unknown client, unregistered redirect_uri)"),
            },
            tags=("hosted login",),
            operation_id="authorize",
            parameters=_AUTHORIZE_PARAMS,
        )
    },
    "/u/login": _page_and_form("Hosted login: email and password", "login"),
    "/u/login/passkey/options": _script(
        "Passkey sign-in options", "loginPasskeyOptions", json_response("Options", ref("LoginScriptOptions"))
    ),
    "/u/login/passkey": _script(
        "Sign in with a passkey assertion",
        "loginPasskey",
        json_response("Where to go next", ref("LoginScriptRedirect")),
        limited=True,
    ),
    "/u/signup": {
        "get": op(
            "Hosted sign-up page",
            dict(_PAGE),
            tags=("hosted login",),
            operation_id="signupPage",
            parameters=[_STATE],
        )
    },
    "/u/signup/options": _script(
        "Passkey sign-up options",
        "signupOptions",
        json_response("Options", ref("LoginScriptOptions")),
        limited=True,
    ),
    "/u/signup/passkey": _script(
        "Sign up with a passkey attestation",
        "signupPasskey",
        json_response("Where to go next", ref("LoginScriptRedirect")),
    ),
    "/u/mfa": _page_and_form("Second factor", "mfa"),
    "/u/mfa/webauthn/options": _script(
        "Security key options for the second factor",
        "mfaWebauthnOptions",
        json_response("Options", ref("LoginScriptOptions")),
    ),
    "/u/mfa/webauthn": _script(
        "Second factor with a security key",
        "mfaWebauthn",
        json_response("Where to go next", ref("LoginScriptRedirect")),
    ),
    "/u/mfa/push-status": {
        "get": op(
            "Whether the push challenge of this sign-in was answered",
            {200: json_response("pending, approved, rejected, expired", ref("Status"))},
            tags=("hosted login",),
            operation_id="mfaPushStatus",
            parameters=[_STATE],
        )
    },
    "/u/mfa-enroll": _page_and_form("Enroll an authenticator app when the policy requires one", "mfaEnroll"),
    "/u/recovery-code": _page_and_form("A new recovery code after one was used", "recoveryCode"),
    "/u/passkey-enroll": _page_and_form("Progressive passkey enrollment offer", "passkeyEnroll"),
    "/u/passkey-enroll/options": _script(
        "Passkey enrollment options", "passkeyEnrollOptions", json_response("Options", ref("LoginScriptOptions"))
    ),
    "/u/passkey-enroll/complete": _script(
        "Store the passkey of the offer",
        "passkeyEnrollComplete",
        json_response("Where to go next", ref("LoginScriptRedirect")),
    ),
    "/u/continue": _page_and_form("Go on with the sign-in after a script step", "continue", post=False),
    "/v2/logout": {
        "get": op(
            "Auth0 logout",
            {200: html("Logged out"), 302: redirect("Back to an allowed returnTo URL")},
            tags=("hosted login",),
            operation_id="logout",
            parameters=[param("client_id"), param("returnTo"), param("state")],
        )
    },
    "/oidc/logout": {
        "get": op(
            "OIDC RP-initiated logout",
            {200: html("Logged out"), 302: redirect("Back to an allowed post_logout_redirect_uri")},
            tags=("hosted login",),
            operation_id="oidcLogout",
            parameters=[param("client_id"), param("post_logout_redirect_uri"), param("state"), param("id_token_hint")],
        )
    },
    "/passkey/register": {
        "post": op(
            "Native passkey sign-up challenge",
            {
                200: json_response("Challenge", ref("PasskeyChallengeResponse")),
                **_BODY_ERRORS,
                401: _oauth("Client authentication failed"),
                403: _oauth("The client may not use the webauthn grant, or sign-up is disabled"),
                429: _too_many("Too many sign-ups from this address"),
            },
            tags=("passkeys",),
            operation_id="passkeyRegister",
            body=form_or_json(ref("PasskeyRegisterRequest")),
        )
    },
    "/passkey/challenge": {
        "post": op(
            "Native passkey login challenge",
            {
                200: json_response("Challenge", ref("PasskeyChallengeResponse")),
                **_BODY_ERRORS,
                401: _oauth("Client authentication failed"),
                403: _oauth("The client may not use the webauthn grant"),
                429: _too_many("Too many attempts"),
            },
            tags=("passkeys",),
            operation_id="passkeyChallenge",
            body=form_or_json(ref("PasskeyChallengeRequest")),
        )
    },
    "/mfa/challenge": {
        "post": op(
            "Challenge a second factor (Auth0 MFA API)",
            {
                200: json_response("The challenge", ref("MfaChallengeResponse")),
                **_BODY_ERRORS,
                401: _oauth("Client authentication failed"),
                403: _oauth("Not allowed"),
                429: _too_many("Too many codes sent"),
            },
            tags=("mfa",),
            operation_id="mfaChallenge",
            body=form_or_json(ref("MfaChallengeRequest")),
        )
    },
    "/mfa/authenticators": {
        "get": op(
            "The second factors of the mfa_token's user",
            {
                200: json_response("Authenticators", {"type": "array", "items": ref("MfaAuthenticator")}),
                401: _oauth("The mfa_token is missing, invalid or expired"),
            },
            tags=("mfa",),
            operation_id="mfaAuthenticators",
            security=[{"MfaToken": []}],
        )
    },
    "/push/v1/enroll": {
        "post": op(
            "Enroll a push device with the ticket of its QR code",
            {
                201: json_response("Enrolled", ref("PushEnrollResponse")),
                400: json_response("Bad input", _PUSH_PROBLEM),
                409: json_response("The device key is enrolled already", _PUSH_PROBLEM),
                413: json_response("Body too large", _PUSH_PROBLEM),
                415: json_response("Not JSON", _PUSH_PROBLEM),
            },
            tags=("push",),
            operation_id="pushEnroll",
            body=json_body(ref("PushEnrollRequest")),
        )
    },
    "/push/v1/challenges": {
        "get": op(
            "The device user's pending push challenges",
            {
                200: json_response("Pending challenges", ref("PushChallenges")),
                401: json_response("Missing, invalid or replayed device proof", _PUSH_PROBLEM),
                403: json_response("Enrollment not confirmed yet", _PUSH_PROBLEM),
            },
            tags=("push",),
            operation_id="pushChallenges",
            security=[{"DeviceProof": []}],
        )
    },
    "/push/v1/challenges/{challenge_id}/answer": {
        "post": op(
            "Approve or reject a push challenge",
            {
                200: json_response("Answered", ref("PushAnswerResponse")),
                400: json_response("Bad input or signature", _PUSH_PROBLEM),
                401: json_response("Missing, invalid or replayed device proof", _PUSH_PROBLEM),
                403: json_response("Enrollment not confirmed yet", _PUSH_PROBLEM),
                404: json_response("Unknown challenge", _PUSH_PROBLEM),
                409: json_response("Already answered", _PUSH_PROBLEM),
                410: json_response("Expired", _PUSH_PROBLEM),
                413: json_response("Body too large", _PUSH_PROBLEM),
                415: json_response("Not JSON", _PUSH_PROBLEM),
            },
            tags=("push",),
            operation_id="pushAnswer",
            parameters=[param("challenge_id", "path", string(maxLength=100))],
            body=json_body(ref("PushAnswerRequest")),
            security=[{"DeviceProof": []}],
        )
    },
    "/connect": {
        "get": op(
            "The connect_uri of connected accounts: spend the ticket, go to the provider",
            {302: redirect("To the identity provider"), 400: html("Unknown, used or expired ticket")},
            tags=("connected accounts",),
            operation_id="connectPage",
            parameters=[param("ticket")],
        )
    },
    "/connect/callback": {
        "get": op(
            "The identity provider's redirect back",
            {
                302: redirect("Back to the application with a connect_code or an error"),
                400: html("No connect flow in this browser"),
            },
            tags=("connected accounts",),
            operation_id="connectCallback",
            parameters=[param("code"), param("state"), param("error"), param("error_description")],
        )
    },
    "/authenticators/{aaguid}/icon.svg": {
        "get": op(
            "An authenticator's icon by AAGUID",
            {
                200: {"description": "The icon", "content": {"image/svg+xml": {"schema": _STR}, "image/png": {}}},
                404: {"description": "No icon", "content": {"text/plain": {"schema": _STR}}},
            },
            tags=("ops",),
            operation_id="authenticatorIcon",
            parameters=[param("aaguid", "path"), param("theme", schema=string(enum=["light", "dark"]))],
        )
    },
    "/account": {
        "get": op(
            "The account page",
            {200: html("The page")},
            tags=("account page",),
            operation_id="accountPage",
        )
    },
    "/account/": {
        "get": op(
            "The account page",
            {200: html("The page")},
            tags=("account page",),
            operation_id="accountPageSlash",
        )
    },
    "/account/config.json": {
        "get": op(
            "The account page's configuration",
            {
                200: json_response("Configuration", ref("AccountPageConfig")),
                503: json_response("The account page's application is missing", _OAUTH_ERROR),
            },
            tags=("account page",),
            operation_id="accountPageConfig",
        )
    },
    "/healthz": {
        "get": op(
            "Liveness",
            {200: json_response("The process answers", ref("Status"))},
            tags=("ops",),
            operation_id="healthz",
        )
    },
    "/readyz": {
        "get": op(
            "Readiness: database and Redis reachable",
            {
                200: json_response("Ready", ref("Readiness")),
                503: json_response("Not ready", ref("Readiness")),
            },
            tags=("ops",),
            operation_id="readyz",
        )
    },
    "/metrics": {
        "get": op(
            "Prometheus metrics",
            {200: {"description": "Metrics", "content": {"text/plain": {"schema": _STR}}}},
            tags=("ops",),
            operation_id="metrics",
        )
    },
}
