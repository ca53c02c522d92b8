"""The account page's QR encoder (static/qr.js), run in Chromium and compared module for module with segno."""

import random
import string
from collections.abc import Iterator
from typing import Any, cast

import pytest
from playwright.sync_api import Browser, Page
from segno import consts

from myaccount.web.account_page import standalone_app
from tests.support.browser import chromium, segno_rows
from tests.support.live import free_port, serve

pytestmark = pytest.mark.browser

LEVELS = "LMQH"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def static_site() -> Iterator[str]:
    """Just the page's files (no identity server needed): the encoder is a module the page imports."""
    port = free_port()
    config = {"origin": "http://localhost:1", "client_id": "x", "audience": "x", "scope": "x", "tenant_name": "QR"}
    with serve(standalone_app(config), port):
        yield f"http://localhost:{port}"


@pytest.fixture(scope="module")
def page(browser: Browser, static_site: str) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    opened.goto(f"{static_site}/account/static/account.css")  # same origin as the module, nothing running
    try:
        yield opened
    finally:
        context.close()


def _encode(page: Page, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate(
        """async (cases) => {
            const qr = await import("/account/static/qr.js");
            return cases.map(({ text, level, version, mask }) => {
                const code = qr.encode(text, { level, version: version ?? undefined, mask: mask ?? undefined });
                return {
                    version: code.version,
                    mask: code.mask,
                    rows: code.modules.map((row) => row.map((dark) => (dark ? "1" : "0")).join("")),
                    capacity: qr.dataCodewords(code.version, "LMQH".indexOf(level)),
                };
            });
        }""",
        cases,
    )
    return result


def _byte_capacity(version: int, level: str) -> int:
    """How many bytes fit, from segno's own tables (mode indicator and count bits subtracted)."""

    capacities = cast(dict[int, dict[int, int]], consts.SYMBOL_CAPACITY)
    bits = capacities[version][consts.ERROR_MAPPING[level]]
    return (bits - 4 - (8 if version <= 9 else 16)) // 8


def test_tables_match_segno(page: Page) -> None:
    """Block structure (ISO/IEC 18004 Table 9) and alignment pattern positions (Annex E) for all 160 symbols."""
    tables = page.evaluate(
        """async () => {
            const qr = await import("/account/static/qr.js");
            const versions = Array.from({ length: 40 }, (_, i) => i + 1);
            return {
                ecc: qr.ECC_CODEWORDS_PER_BLOCK,
                blocks: qr.NUM_ERROR_CORRECTION_BLOCKS,
                data: [0, 1, 2, 3].map((level) => versions.map((v) => qr.dataCodewords(v, level))),
                alignment: versions.map((v) => qr.alignmentPositions(v)),
            };
        }"""
    )
    ecc_table = cast(dict[int, dict[int, tuple[Any, ...]]], consts.ECC)
    for version in range(1, 41):
        assert tables["alignment"][version - 1] == (list(consts.ALIGNMENT_POS[version - 2]) if version > 1 else [])
        for index, level in enumerate(LEVELS):
            groups = ecc_table[version][consts.ERROR_MAPPING[level]]
            assert {g.num_total - g.num_data for g in groups} == {tables["ecc"][index][version]}
            assert sum(g.num_blocks for g in groups) == tables["blocks"][index][version]
            assert sum(g.num_blocks * g.num_data for g in groups) == tables["data"][index][version - 1]


def test_symbols_match_segno(page: Page) -> None:
    """Every version (levels in turn, all four for the smallest and largest), forced masks, text that needs it."""
    rng = random.Random(18004)
    alphabet = string.ascii_letters + string.digits + "/:?&=%é€"
    cases: list[dict[str, Any]] = []
    for version in range(1, 41):
        for level in LEVELS if version in (1, 2, 3, 40) else LEVELS[version % 4]:
            capacity = _byte_capacity(version, level)
            # Long enough to need this version (more than the one before holds), short enough to fit.
            low = _byte_capacity(version - 1, level) + 1 if version > 1 else 1
            text = ""
            while not low <= len(text.encode()) <= capacity:
                text = "".join(rng.choice(alphabet) for _ in range(rng.randint(low, capacity)))
                while len(text.encode()) > capacity:
                    text = text[:-1]
            cases.append({"text": text, "level": level, "version": version, "mask": rng.randint(0, 7)})
    encoded = _encode(page, cases)
    for case, ours in zip(cases, encoded, strict=True):
        version, rows = segno_rows(case["text"], level=case["level"], version=case["version"], mask=case["mask"])
        assert ours["version"] == version
        assert ours["rows"] == rows, f"version {version}-{case['level']} mask {case['mask']}"


def test_automatic_version_and_mask(page: Page) -> None:
    texts = [
        "otpauth://totp/MyAccount:alice%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        "&issuer=MyAccount&algorithm=SHA1&digits=6&period=30",
        "otpauth://push/MyAccount%3Aalice%40example.com?enrollment_tx_id="
        + "x" * 32
        + "&base_url=https%3A%2F%2Fid.example.com&issuer=MyAccount",
        "héllo wörld ✓",
        "",
    ]
    cases: list[dict[str, Any]] = [
        {"text": text, "level": level, "version": None, "mask": None} for text in texts for level in LEVELS
    ]
    for case, ours in zip(cases, _encode(page, cases), strict=True):
        # The smallest version that fits, as segno picks it; the mask is ours (penalty rules, §7.8.3), and the
        # symbol with that mask is the one segno makes with it.
        version, _ = segno_rows(case["text"], level=case["level"])
        assert ours["version"] == version
        assert ours["rows"] == segno_rows(case["text"], level=case["level"], mask=ours["mask"])[1]


def test_svg_draws_each_dark_module_with_a_quiet_zone(page: Page) -> None:
    drawn = page.evaluate(
        """async () => {
            const qr = await import("/account/static/qr.js");
            const svg = qr.qrSvg("otpauth://totp/x?secret=ABC", { label: "QR code" });
            const code = qr.encode("otpauth://totp/x?secret=ABC");
            return {
                viewBox: svg.getAttribute("viewBox"),
                label: svg.getAttribute("aria-label"),
                role: svg.getAttribute("role"),
                squares: (svg.querySelector("path").getAttribute("d").match(/M/g) || []).length,
                dark: code.modules.flat().filter(Boolean).length,
                size: code.size,
            };
        }"""
    )
    assert drawn["viewBox"] == f"0 0 {drawn['size'] + 8} {drawn['size'] + 8}"
    assert drawn["squares"] == drawn["dark"]
    assert (drawn["label"], drawn["role"]) == ("QR code", "img")


def test_too_long_text_is_refused(page: Page) -> None:
    message = page.evaluate(
        """async () => {
            const qr = await import("/account/static/qr.js");
            try { qr.encode("x".repeat(3000), { level: "H" }); return "encoded"; } catch (e) { return e.message; }
        }"""
    )
    assert message == "the text is too long for a QR code"
