"""Push-notification enrollment: an enrollment ticket carried in an `otpauth://` URI, as Guardian's QR codes do.

The device (our `myaccount authenticator`) reads the URI, posts its public key with the ticket to
`{base_url}/push/v1/enroll`, and from then on signs its answers to push challenges with that key.
"""

from urllib.parse import quote, urlencode

from myaccount.methods.base import Challenge

__all__ = ["begin"]


def begin(*, issuer: str, account_label: str, base_url: str, ticket: str) -> Challenge:
    label = quote(f"{issuer}:{account_label}", safe="")
    query = urlencode({"enrollment_tx_id": ticket, "base_url": base_url, "issuer": issuer}, quote_via=quote)
    return Challenge(public={"barcode_uri": f"otpauth://push/{label}?{query}"}, state={})
