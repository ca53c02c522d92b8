"""Short "browser / operating system" labels for the `user_agent` field of a passkey, in Auth0's style.

Auth0 shows e.g. `Chrome 131.0.0 / Mac OS X 10.15.7`: uap-core family names, versions as major.minor.patch with
missing parts as 0 (the formatting of the `useragent` npm package). Windows is shown by release name and Linux,
which sends no version, by name alone. We recognise the browsers and systems that can create passkeys; anything
else (a native app's `CFNetwork/… Darwin/…`, a bot) is kept as sent, shortened.
"""

import functools
import re

__all__ = ["summarise"]

_MAX_RAW = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_VERSION = r"(\d+(?:[._]\d+)*)"

# First match wins, so the tokens that ride on top of others come first: Edge, Opera and Samsung Internet also
# send `Chrome/…`, Chromium sends `Chrome/…` too, and every Chromium-based UA ends in `Safari/…`.
_BROWSERS: tuple[tuple[re.Pattern[str], str, str | None], ...] = (
    # (pattern with the version as group 1, family, family when the UA says Mobile)
    (re.compile(rf"\bEdg(?:e|A|iOS)?/{_VERSION}"), "Edge", "Edge Mobile"),
    (re.compile(rf"\bOPR/{_VERSION}"), "Opera", None),
    (re.compile(rf"\bSamsungBrowser/{_VERSION}"), "Samsung Internet", None),
    (re.compile(rf"\bFxiOS/{_VERSION}"), "Firefox iOS", None),
    (re.compile(rf"\bFirefox/{_VERSION}"), "Firefox", "Firefox Mobile"),
    (re.compile(rf"\bCriOS/{_VERSION}"), "Chrome Mobile iOS", None),
    (re.compile(rf"\bChromium/{_VERSION}"), "Chromium", None),
    (re.compile(rf"\bHeadlessChrome/{_VERSION}"), "HeadlessChrome", None),
    (re.compile(rf"\bChrome/{_VERSION}"), "Chrome", "Chrome Mobile"),
    (re.compile(rf"\bVersion/{_VERSION}\b.*\bSafari/"), "Safari", "Mobile Safari"),
)

# iOS and Android come before the systems their UAs also name ("like Mac OS X", "Linux; Android").
_SYSTEMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"\b(?:iPhone|CPU) OS {_VERSION}"), "iOS"),
    (re.compile(rf"\bAndroid {_VERSION}"), "Android"),
    (re.compile(rf"\bMac OS X {_VERSION}"), "Mac OS X"),
    (re.compile(rf"\bCrOS \S+ {_VERSION}"), "Chrome OS"),
    (re.compile(r"\bWindows NT (\d+\.\d+)"), "Windows"),
    (re.compile(r"\bLinux\b()"), "Linux"),
)

# Windows UAs carry the NT kernel version; we show the release it stands for, as a name ("Windows 10", not
# "Windows 10.0.0"). Windows 11 still says NT 10.0, so it shows as Windows 10, as it does in uap-core.
_WINDOWS_RELEASES = {"10.0": "10", "6.3": "8.1", "6.2": "8", "6.1": "7", "6.0": "Vista", "5.1": "XP"}


@functools.lru_cache(maxsize=1024)  # a handful of user agents make most requests
def summarise(user_agent: str | None) -> str | None:
    """`Chrome 131.0.0 / Mac OS X 10.15.7` for a browser we recognise, else the UA itself cut to 200 characters.

    Control characters are dropped either way: the value is shown on account pages and written to logs.
    """
    if user_agent is None:
        return None
    cleaned = _CONTROL.sub("", user_agent).strip()
    if not cleaned:
        return None
    browser = _browser(cleaned)
    system = _system(cleaned)
    if browser is None or system is None:
        return cleaned[:_MAX_RAW]
    return f"{browser} / {system}"


def _browser(user_agent: str) -> str | None:
    mobile = re.search(r"\bMobile\b", user_agent) is not None
    for pattern, family, mobile_family in _BROWSERS:
        if found := pattern.search(user_agent):
            name = mobile_family if mobile and mobile_family else family
            return f"{name} {_three_part(found.group(1))}"
    return None


def _system(user_agent: str) -> str | None:
    for pattern, family in _SYSTEMS:
        if found := pattern.search(user_agent):
            version = found.group(1)
            if family == "Windows":
                return f"Windows {_WINDOWS_RELEASES.get(version, version)}"
            return f"{family} {_three_part(version)}" if version else family
    return None


def _three_part(version: str) -> str:
    """`131.0.6778.86` → `131.0.6778`, `17_5` → `17.5.0`: the `useragent` package's major.minor.patch."""
    parts = re.split(r"[._]", version)[:3]
    return ".".join(parts + ["0"] * (3 - len(parts)))
