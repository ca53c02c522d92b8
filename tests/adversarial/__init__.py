"""The standing adversarial suite: schemathesis fuzzing (test_fuzz.py) and the attack catalogue (test_attacks_*.py).

docs/SECURITY.md maps each threat to its defence and to the test here (or elsewhere) that fails without it.
"""

import secrets


def client_address() -> tuple[str, int]:
    """A random address in the IPv6 documentation range (RFC 3849): rate-limit buckets keyed by IP (and account)
    outlive a test in Redis and are shared by every run on the machine, so each test client gets its own."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}", 50000
