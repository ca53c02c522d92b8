"""ASGI entry point for servers that import an app factory (`granian --factory myaccount.asgi:app_from_env`).

Settings come from the environment (`MYACCOUNT_*`) and the TOML file named by `MYACCOUNT_CONFIG`, if any.
"""

import os
from pathlib import Path

from starlette.applications import Starlette

from myaccount.app import create_app
from myaccount.observability import configure_logging
from myaccount.settings import load_settings

__all__ = ["app_from_env"]


def app_from_env() -> Starlette:
    config = os.environ.get("MYACCOUNT_CONFIG")
    settings = load_settings(Path(config) if config else None)
    configure_logging(settings.log_level, json_format=settings.log_json)
    return create_app(settings)
