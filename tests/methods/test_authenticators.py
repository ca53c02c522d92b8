import pytest

from myaccount.methods.authenticators import AuthenticatorInfo, describe

APPLE = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"
GOOGLE = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"
ONE_PASSWORD = "bada5566-a7aa-401f-bd96-45619a55120d"  # separate light and dark icons
ACS = "50a45b0c-80e7-f944-bf29-f552bfa2e048"  # PNG icons


@pytest.mark.parametrize(
    ("aaguid", "name"),
    [
        (APPLE, "Apple Passwords"),  # the iCloud Keychain AAGUID, under the name Apple uses now
        (GOOGLE, "Google Password Manager"),
        (ONE_PASSWORD, "1Password"),
    ],
)
def test_known_providers_are_named(aaguid: str, name: str) -> None:
    found = describe(aaguid)

    assert found is not None
    assert found.name == name


@pytest.mark.parametrize("spelling", [GOOGLE.upper(), GOOGLE.replace("-", ""), f" {GOOGLE} ", f"urn:uuid:{GOOGLE}"])
def test_any_uuid_spelling_finds_the_provider(spelling: str) -> None:
    found = describe(spelling)

    assert found is not None
    assert found.name == "Google Password Manager"


@pytest.mark.parametrize(
    "aaguid",
    [
        "00000000-0000-0000-0000-000000000000",  # anonymous: `none` attestation from many providers
        "01020304-0506-0708-0102-030405060708",  # Chromium's DevTools virtual authenticator
        "not-a-uuid",
        "",
    ],
)
def test_anonymous_unknown_and_malformed_aaguids_describe_nothing(aaguid: str) -> None:
    assert describe(aaguid) is None


def test_svg_icons_are_decoded_from_their_data_uris() -> None:
    found = describe(APPLE)

    assert found is not None
    assert found.icon_mime == "image/svg+xml"
    assert found.icon_light is not None and found.icon_light.lstrip().startswith(b"<svg")
    assert found.icon_dark == found.icon_light  # Apple ships one icon for both themes


def test_light_and_dark_icons_are_kept_apart() -> None:
    found = describe(ONE_PASSWORD)

    assert found is not None
    assert found.icon_light is not None and found.icon_dark is not None
    assert found.icon_light != found.icon_dark


def test_png_icons_are_decoded_to_png_bytes() -> None:
    found = describe(ACS)

    assert found is not None
    assert found.icon_mime == "image/png"
    assert found.icon_light is not None and found.icon_light.startswith(b"\x89PNG\r\n\x1a\n")


def test_lookups_are_cached_per_provider() -> None:
    first = describe(GOOGLE)

    assert describe(GOOGLE.upper()) is first
    assert isinstance(first, AuthenticatorInfo)
