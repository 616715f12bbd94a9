"""Optional API keys.

Keys come from a file (``--api-keys-file``: one key per line, blank lines and ``#`` comments
ignored) and/or ``$TOSGUARD_API_KEYS`` (comma-separated). With neither configured the service is
open. With keys, every request except ``/healthz``, ``/readyz`` and ``/openapi.json`` (and
``/metrics`` when ``--public-metrics``) must send one, as ``Authorization: Bearer KEY`` or
``X-API-Key: KEY``, or it gets 401.

Configuring keys and getting none is an error, never an open service: a key file of only blank
lines and comments, or ``$TOSGUARD_API_KEYS`` set to nothing but commas and spaces (or to the
empty string, as ``TOSGUARD_API_KEYS=$UNSET_VARIABLE`` gives), is refused like a short key.

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
NO_KEYS_HELP = (
    "write one key per line (`#` starts a comment), or leave out `--api-keys-file` "
    "to serve without keys"
)


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
        """Read the configured keys; raise :class:`UsageError` for an unreadable file, a key
        too short to be a secret, or a configured source that yields no key (a key file of
        only comments, ``$TOSGUARD_API_KEYS`` of only commas): keys asked for and not found
        must stop the service, not open it."""
        env = os.environ if environ is None else environ
        keys: list[tuple[str, str]] = []  # (key, where it came from)
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                reason = getattr(error, "strerror", None) or str(error)
                raise UsageError(
                    Diagnostic(
                        "serve-api-keys",
                        f"cannot read `{path}`: {reason}",
                        Span(path),
                        "give a readable UTF-8 file with one key per line",
                    )
                ) from None
            lines = text.splitlines()
            from_file = [
                (line.strip(), f"{path}:{number}")
                for number, line in enumerate(lines, 1)
                if line.strip() and not line.strip().startswith("#")
            ]
            if not from_file:
                what = {0: "it is empty", 1: "its only line is blank or a comment"}.get(
                    len(lines), f"its {len(lines)} lines are blank or comments"
                )
                raise UsageError(
                    Diagnostic(
                        "serve-api-keys-empty",
                        f"the API key file `{path}` holds no key: {what}",
                        Span(path, 1, 1) if lines else Span(path),
                        NO_KEYS_HELP,
                        source_line=lines[0] if lines else "",
                    )
                )
            keys += from_file
        if API_KEYS_ENV in env:
            from_env = [
                (part.strip(), f"${API_KEYS_ENV}")
                for part in env[API_KEYS_ENV].split(",")
                if part.strip()
            ]
            if not from_env:
                raise UsageError(
                    Diagnostic(
                        "serve-api-keys-empty",
                        f"`${API_KEYS_ENV}` is set but holds no key",
                        Span(f"${API_KEYS_ENV}"),
                        "set it to keys separated by commas, or unset it to serve without keys",
                    )
                )
            keys += from_env
        for key, where in keys:
            if len(key) < MIN_KEY_LENGTH:
                raise UsageError(
                    Diagnostic(
                        "serve-api-keys",
                        f"the API key at {where} is shorter than {MIN_KEY_LENGTH} characters",
                        Span(where),
                        "generate one with `python -c 'import secrets; "
                        "print(secrets.token_urlsafe(32))'`",
                    )
                )
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
