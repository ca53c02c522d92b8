"""The list endpoint renders each method once per stored row (my_account/listing.py). Whatever changes a row,
through the API or behind its back, the next list must show it: the kept bytes are keyed by the row itself."""

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import orjson
from starlette.applications import Starlette

from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.my_account.listing import MethodListing
from myaccount.my_account.service import MyAccount
from myaccount.my_account.wire import to_wire
from myaccount.store.methods import MethodStore
from tests.support.me import Me
from tests.support.soft_authenticator import SoftAuthenticator
from tests.support.tenant import Tenant


def _rendered_afresh(app: Starlette, user_id: str) -> list[dict[str, Any]]:
    """What the list must show, built from the records with no memo in the way."""
    service: MyAccount = app.state.my_account
    with service.core.db.read() as conn:
        records = service._records(conn, user_id)
    return [to_wire(r, origin=service.core.settings.origin) for r in records]


def _enroll_passkey(me: Me) -> dict[str, Any]:
    started = me.enroll({"type": "passkey"})
    credential = SoftAuthenticator().create(started.json()["authn_params_public_key"], origin="http://localhost")
    verified = me.verify(
        started.headers["location"], {"auth_session": started.json()["auth_session"], "authn_response": credential}
    )
    assert verified.status_code == 201, verified.text
    method: dict[str, Any] = verified.json()
    return method


def test_list_follows_every_change(me: Me, app: Starlette, core: Core, tenant: Tenant, clock: FrozenClock) -> None:
    user_id = tenant.user.id
    passkey = _enroll_passkey(me)
    assert me.methods() == _rendered_afresh(app, user_id)
    path = f"/authentication-methods/{quote(passkey['id'], safe='')}"

    assert me.patch(path, {"name": "Work laptop"}).status_code == 200
    listed = me.methods()
    assert [m.get("name") for m in listed if m["id"] == passkey["id"]] == ["Work laptop"]
    assert listed == _rendered_afresh(app, user_id)

    # Behind the API's back, as a sign-in with the passkey does: the next list shows it.
    used_at = clock.now() + timedelta(minutes=3)
    with core.db.write() as conn:
        assert MethodStore(conn).update(user_id, passkey["id"], last_auth_at=used_at)
    listed = me.methods()
    assert [m.get("last_auth_at") for m in listed if m["id"] == passkey["id"]] == [
        used_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ]
    assert listed == _rendered_afresh(app, user_id)

    # The password method comes from the user row: a changed password shows at once.
    before = next(m for m in listed if m["type"] == "password")
    clock.advance(seconds=5)
    started = me.enroll({"type": "password"})
    assert (
        me.verify(
            started.headers["location"],
            {"auth_session": started.json()["auth_session"], "new_password": "Tr0ub4dor&3-horse"},
        ).status_code
        == 201
    )
    after = next(m for m in me.methods() if m["type"] == "password")
    assert after["last_password_reset"] != before.get("last_password_reset")
    assert me.methods() == _rendered_afresh(app, user_id)

    assert me.delete(path).status_code == 204
    assert passkey["id"] not in [m["id"] for m in me.methods()]
    assert [m["type"] for m in me.get("/authentication-methods?type=passkey").json()["authentication_methods"]] == []


def test_type_filter_and_order(me: Me, clock: FrozenClock) -> None:
    first = _enroll_passkey(me)
    clock.advance(seconds=1)
    second = _enroll_passkey(me)
    assert me.enroll({"type": "recovery-code"}).status_code == 202
    listed = me.methods()
    # Passkeys first (oldest first), then the password, then the rest.
    assert [m["id"] for m in listed[:2]] == [first["id"], second["id"]] and listed[2]["type"] == "password"
    for type_ in ("passkey", "password", "recovery-code", "totp"):
        only = me.get(f"/authentication-methods?type={type_}").json()["authentication_methods"]
        assert only == [m for m in listed if m["type"] == type_]


def test_memo_is_bounded_and_still_right(me: Me, app: Starlette, core: Core, tenant: Tenant) -> None:
    for _ in range(3):
        _enroll_passkey(me)
    listing = MethodListing(origin=core.settings.origin, size=3)
    with core.db.raw_read() as conn:
        for _ in range(3):
            parts = listing.parts(conn, tenant.user.id)
            assert len(listing._rendered) <= 3
    assert [orjson.loads(p) for p in parts] == _rendered_afresh(app, tenant.user.id)
    with core.db.raw_read() as conn:
        assert listing.parts(conn, "auth0|nobody") == []
