"""Headless Chromium for browser tests: Debian's `/usr/bin/chromium` driven by Playwright (never `playwright
install`), and WebAuthn virtual authenticators through the DevTools protocol (DESIGN.md §8).

The sync API is used on purpose: the servers under test run in threads of this process (uvicorn), so there is no
event loop of ours for Playwright's to clash with.
"""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import segno
import segno.encoder
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, sync_playwright

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "SCREENSHOTS",
    "VIRTUAL_AAGUID",
    "VirtualAuthenticator",
    "WebAuthn",
    "chromium",
    "screenshot",
    "segno_rows",
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Chromium's virtual authenticators report this AAGUID.
VIRTUAL_AAGUID = "01020304-0506-0708-0102-030405060708"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class VirtualAuthenticator:
    """One authenticator of the DevTools WebAuthn domain (a device with its own credentials)."""

    cdp: CDPSession
    id: str

    def credentials(self) -> list[dict[str, Any]]:
        answer = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        found: list[dict[str, Any]] = answer["credentials"]
        return found

    def set_user_verified(self, verified: bool) -> None:
        self.cdp.send("WebAuthn.setUserVerified", {"authenticatorId": self.id, "isUserVerified": verified})

    def remove(self) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.id})


class WebAuthn:
    """The WebAuthn domain of one page: add platform authenticators that answer create() and get()."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")

    def add_authenticator(self, *, synced: bool = False, user_verified: bool = True) -> VirtualAuthenticator:
        options: dict[str, Any] = {
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": user_verified,
            "automaticPresenceSimulation": True,
        }
        if synced:
            options.update(defaultBackupEligibility=True, defaultBackupState=True)
        answer = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
        return VirtualAuthenticator(self.cdp, answer["authenticatorId"])


def screenshot(page: Page, name: str, *, folder: str = "", full_page: bool = True) -> Path:
    """Save a PNG under build/screenshots/[folder/]name.png (git-ignored) and return its path."""
    directory = SCREENSHOTS / folder if folder else SCREENSHOTS
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@contextmanager
def _standard_padding() -> Iterator[None]:
    """segno appends a whole zero byte when the bit stream already ends on a codeword boundary (in byte mode it
    always does); ISO/IEC 18004 §7.4.10 pads only a partial codeword, as the page's encoder does. Both symbols
    decode alike; to compare them module for module, segno pads as the standard says while this is active."""
    original = cast(Callable[[Any, int, int], None], segno.encoder.write_padding_bits)

    def write_padding_bits(buff: Any, version: int, length: int) -> None:
        if length % 8:
            original(buff, version, length)

    segno.encoder.write_padding_bits = write_padding_bits
    try:
        yield
    finally:
        segno.encoder.write_padding_bits = original


def segno_rows(
    text: str, *, level: str = "M", version: int | None = None, mask: int | None = None
) -> tuple[int, list[str]]:
    """segno's QR code for `text` (UTF-8, byte mode, the level as given) as its version and rows of 0/1."""
    with _standard_padding():
        code = segno.make(
            text,
            error=level.lower(),
            version=version,
            mask=mask,
            mode="byte",
            encoding="utf-8",
            boost_error=False,
            micro=False,
        )
    return int(code.version), ["".join("1" if module else "0" for module in row) for row in code.matrix]
