"""Optional API keys.

Keys come from a file (``--api-keys-file``: one key per line, blank lines and ``#`` comments
ignored) and/or ``$TOSGUARD_API_KEYS`` (comma-separated). With no key configured the service is
open. With keys, every request except ``/healthz``, ``/readyz`` and ``/openapi.json`` (and
``/metrics`` when ``--public-metrics``) must send one, as ``Authorization: Bearer KEY`` or
``X-API-Key: KEY``, or it gets 401.

Keys are compared in constant time: the SHA-256 digest of the key offered is compared with
:func:`hmac.compare_digest` against the digest of *every* configured key, without stopping at
the first match, so neither the timing nor the length of a key leaks. Keys are never logged;
the access log names a key by its id, the first 12 hex digits of its SHA-256 digest
(``printf %s KEY | sha256sum | cut -c1-12``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import Diagnostic, Span, UsageError
from .config import API_KEYS_ENV

MIN_KEY_LENGTH = 16


def key_id(key: str | bytes) -> str:
    data = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(data).hexdigest()[:12]


@dataclass(frozen=True)
class ApiKeys:
    digests: tuple[bytes, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.digests)

    def match(self, offered: bytes | None) -> str | None:
        """The id of the key offered when it is one of ours, else None (constant time)."""
        if offered is None or not self.digests:
            return None
        digest = hashlib.sha256(offered).digest()
        found = False
        for known in self.digests:
            found |= hmac.compare_digest(digest, known)
        return digest.hex()[:12] if found else None

    @classmethod
    def load(cls, path: str | None, environ: Mapping[str, str] | None = None) -> ApiKeys:
        """Read the configured keys; raise :class:`UsageError` for an unreadable file or a key
        too short to be a secret."""
        env = os.environ if environ is None else environ
        keys: list[tuple[str, str]] = []  # (key, where it came from)
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                reason = getattr(error, "strerror", None) or str(error)
                raise UsageError(Diagnostic("serve-api-keys", f"cannot read `{path}`: {reason}",
                                            Span(path), "give a readable UTF-8 file with one "
                                            "key per line")) from None
            for number, line in enumerate(text.splitlines(), 1):
                line = line.strip()
                if line and not line.startswith("#"):
                    keys.append((line, f"{path}:{number}"))
        for part in env.get(API_KEYS_ENV, "").split(","):
            if part.strip():
                keys.append((part.strip(), f"${API_KEYS_ENV}"))
        for key, where in keys:
            if len(key) < MIN_KEY_LENGTH:
                raise UsageError(Diagnostic(
                    "serve-api-keys", f"the API key at {where} is shorter than "
                    f"{MIN_KEY_LENGTH} characters", Span(where),
                    "generate one with `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'`"))
        return cls(tuple(sorted({hashlib.sha256(k.encode()).digest() for k, _ in keys})))


def offered_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The key a request offers, from ``Authorization: Bearer`` or ``X-API-Key``."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
        elif name == b"x-api-key" and value.strip():
            return value.strip()
    return None
