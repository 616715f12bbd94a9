"""Running the service: uvicorn, one or several worker processes, and signals.

``tosguard serve`` first loads and compiles the policy set and reads the API keys in its own
process, so that a broken policy file or key file stops it with the CLI's diagnostics (exit 2)
before a port is opened; the compiled set also lands in the on-disk cache, from which workers
then load it in milliseconds.

* One worker (the default): uvicorn serves from this process with the set already loaded.
  ``SIGHUP`` reloads it in place; a reload that fails keeps the set in use.
* ``--workers N``: uvicorn's supervisor starts N worker processes that share the port, each
  loading the set at start-up. ``SIGHUP`` to the supervisor (the ``tosguard serve`` process)
  makes it replace the workers one at a time, each new one serving only once it has loaded the
  set; if the new set does not load, the new worker never becomes ready, the supervisor keeps
  the old worker and abandons the restart, so the set in use is kept. ``SIGHUP`` sent to one
  worker reloads that worker in place. Metrics are shared through ``PROMETHEUS_MULTIPROC_DIR``,
  a temporary directory removed at exit.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile

from .config import SETTINGS_ENV, Settings


def preflight(settings: Settings):
    """Load the policy set and the API keys, raising the library's errors."""
    from .auth import ApiKeys
    from .state import load_policy_set

    ApiKeys.load(settings.api_keys_file)
    return load_policy_set(settings.policy_paths(), use_cache=settings.use_cache)


def uvicorn_options(settings: Settings, host: str, port: int) -> dict:
    from .logs import log_config

    return {
        "host": host,
        "port": port,
        "log_config": log_config(settings.log_level),
        "log_level": settings.log_level,
        "access_log": False,  # the service writes its own, structured, access log
        "server_header": False,
        "timeout_graceful_shutdown": 30,
    }


def run(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from .app import SUPERVISOR_ENV, create_app
    from .metrics import MULTIPROC_ENV

    policy_set = preflight(settings)
    options = uvicorn_options(settings, host, port)
    if settings.workers <= 1:
        app = create_app(settings, policy_set=policy_set, handle_sighup=True)
        uvicorn.run(app, **options)
        return
    del policy_set  # each worker loads its own (from the cache the preflight filled)
    gc.collect()
    metrics_dir = tempfile.mkdtemp(prefix="tosguard-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir
    os.environ[SETTINGS_ENV] = settings.to_env()
    os.environ[SUPERVISOR_ENV] = str(os.getpid())
    try:
        uvicorn.run("tosguard.service.app:create_app_from_env", factory=True,
                    workers=settings.workers, **options)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
