"""The service's settings: one frozen dataclass, built by ``tosguard serve`` from its options and
handed to each worker process as JSON in an environment variable (uvicorn starts workers by
importing an app factory, so there is no other channel to them).

API keys never travel in the settings: only the path of the file that holds them, which each
worker reads itself. Keys therefore never appear in a process's arguments or environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

#: Environment variable that carries :class:`Settings` (as JSON) to uvicorn's worker processes.
SETTINGS_ENV = "TOSGUARD_SERVE_SETTINGS"
#: Environment variable holding API keys, comma-separated, as an alternative to a key file.
API_KEYS_ENV = "TOSGUARD_API_KEYS"

MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Everything an operator can configure; the defaults suit a service behind a proxy."""

    policies: tuple[str, ...] = ()  # replace the shipped library (empty: the shipped one)
    extra_policies: tuple[str, ...] = ()  # add to the library
    max_body_bytes: int = MIB  # 413 past this many request-body bytes, counted as they stream
    timeout: float = 10.0  # seconds one request may take before it gets a 503
    max_sources: int = 2000  # a larger manifest is refused with 422 (bounds evaluation time)
    api_keys_file: str | None = None  # one key per line; `#` comments; also $TOSGUARD_API_KEYS
    public_metrics: bool = False  # serve /metrics without an API key even when keys are set
    accept_unknown_ids: bool = False  # default for requests: unknown ids are warnings
    access_log: bool = True
    log_level: str = "info"
    eval_threads: int = 2  # threads per worker that run large checks and validations
    inline_max_bytes: int = 16 * 1024  # manifests up to this size are checked on the loop
    inline_slice: float = 0.025  # seconds a check may hold the loop before it moves to a thread
    max_findings: int = 20_000  # a report with more findings is refused with 422
    max_header_bytes: int = 16 * 1024  # 431 past this many bytes of request line and headers
    header_timeout: float = 10.0  # seconds a request's line and headers may take (else 408)
    max_connections: int = 0  # open connections per worker (0: 1024, or what the fd limit allows)
    workers: int = 1  # informational inside a worker: how many siblings share the port
    use_cache: bool = True  # compiled-library cache (TOSGUARD_NO_CACHE=1 turns it off)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        raw = env.get(SETTINGS_ENV)
        if not raw:
            return cls(use_cache=not env.get("TOSGUARD_NO_CACHE"))
        data = json.loads(raw)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("policies", "extra_policies"):
            values[name] = tuple(values.get(name, ()))
        return cls(**values)

    def library_paths(self) -> list[str]:
        """The library: ``--policies``, else the shipped one."""
        from ..engine.library import default_paths

        return list(self.policies) if self.policies else [str(p) for p in default_paths()]

    def policy_paths(self) -> list[str]:
        """Every policy path, the library's then the user's (``--extra-policies``)."""
        return [*self.library_paths(), *self.extra_policies]
