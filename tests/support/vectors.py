"""Test vectors kept as JSON files in tests/vectors/, each naming its source."""

import json
from pathlib import Path
from typing import Any

__all__ = ["VECTORS", "cases", "source"]

VECTORS = Path(__file__).parent.parent / "vectors"


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return document


def cases(name: str) -> list[dict[str, Any]]:
    """The named cases of one vector file, for `pytest.mark.parametrize(..., ids=lambda case: case["name"])`."""
    found: list[dict[str, Any]] = _load(name)["cases"]
    return found


def source(name: str) -> str:
    """Where the file's numbers come from (an RFC section URL)."""
    return str(_load(name)["source"])
