import collections
import string

from myaccount.ids import alnum, new_client_id


def test_alnum_has_the_length_and_alphabet_asked_for() -> None:
    for length in (1, 10, 16, 32, 100):
        value = alnum(length)
        assert len(value) == length and set(value) <= set(string.ascii_letters + string.digits)
    assert len(new_client_id()) == 32 and len({alnum(16) for _ in range(1000)}) == 1000


def test_alnum_is_unbiased() -> None:
    """Every character about as often as the others (`byte % 62` over all 256 values would give the first 8 a
    quarter more)."""
    counts = collections.Counter("".join(alnum(64) for _ in range(4000)))  # 256,000 characters, ~4,129 each
    assert len(counts) == 62
    expected = 256_000 / 62
    # Within 6 standard deviations (sqrt(4129) ~ 64) of the expected count: such a bias would be 16 of them.
    assert all(abs(n - expected) < 6 * 64 for n in counts.values())
    first_eight = sum(counts[c] for c in "abcdefgh")
    assert abs(first_eight - 8 * expected) < 6 * 64 * 8**0.5
