"""`myaccount serve`: settings for serving, then granian running `myaccount.asgi:app_from_env` in worker processes.

The parent does the one-off work (migrations, tenant file, demo) before any worker starts; workers only build the
app. They learn the parent's settings from environment variables, the one channel `app_from_env` reads, so the
public origin the parent derived from `--port` is the one every worker uses. granian handles SIGINT and SIGTERM
itself: it stops accepting, lets the workers finish their requests (for up to `STOP_TIMEOUT`), and returns.
"""

import os
import signal
import sys
from pathlib import Path

from granian import Granian
from granian.constants import Interfaces

from myaccount.settings import Settings, load_settings

__all__ = ["ASGI_TARGET", "STOP_TIMEOUT", "run", "serving_settings", "worker_environment"]

ASGI_TARGET = "myaccount.asgi:app_from_env"
STOP_TIMEOUT = 30  # seconds a worker gets to finish its requests before it is killed (Kubernetes' default grace)


def serving_settings(config: Path | None, *, port: int, tls: bool = False) -> Settings:
    """Settings as configured; the public origin defaults to `http(s)://localhost:{port}` rather than port 8000."""
    settings = load_settings(config)
    if "public_url" not in settings.model_fields_set:
        scheme = "https" if tls else "http"
        settings = load_settings(config, public_url=f"{scheme}://localhost:{port}")
    return settings


def worker_environment(settings: Settings, config: Path | None) -> dict[str, str]:
    """What the workers must agree with the parent on. The environment outranks the config file in both."""
    env = {"MYACCOUNT_PUBLIC_URL": settings.public_url, "MYACCOUNT_DATABASE_URL": settings.database_url}
    if config is not None:
        env["MYACCOUNT_CONFIG"] = str(config.resolve())
    return env


def _default_stop_signals() -> None:
    # A forked worker inherits granian's main-process handler, which only sets a flag on the parent's server object.
    # Until granian installs the worker's own handlers (once the app is built), a stop signal would be swallowed and
    # the worker would outlive the shutdown. Until then, the default: a stop signal ends the worker at once.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    config: Path | None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> int:
    """Serve until SIGINT or SIGTERM; returns granian's exit status (0 after a clean shutdown)."""
    os.environ.update(worker_environment(settings, config))
    os.register_at_fork(after_in_child=_default_stop_signals)
    sys.stdout.flush()  # workers are forked: text still buffered here would be printed twice
    server = Granian(
        ASGI_TARGET,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_access=False,
        workers_kill_timeout=STOP_TIMEOUT,
        ssl_cert=tls_cert,
        ssl_key=tls_key,
    )
    try:
        server.serve()
    except SystemExit as exc:  # granian exits non-zero when a worker died
        return exc.code if isinstance(exc.code, int) else 1
    return 0
