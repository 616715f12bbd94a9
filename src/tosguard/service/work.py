"""The work behind the endpoints, as plain synchronous functions over the library API: what
runs on the event loop (small inputs) or in the evaluation threads (large ones). No web types
here, so each can be tested and timed alone.
"""

from __future__ import annotations

from datetime import date

from ..api import check as run_check
from ..engine import budget as budgets
from ..engine.budget import Budget, FindingsLimitExceeded
from ..engine.library import Library
from ..errors import Diagnostic, ManifestError, PolicyError, TosguardError, counts
from ..manifest.model import parse_manifest
from .problems import ProblemError, diagnostic_items, item
from .state import PolicySet

#: Content types accepted by ``POST /v1/check`` and the format each means.
MANIFEST_TYPES = {
    "application/json": "json",
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "text/x-yaml": "yaml",
    "text/vnd.yaml": "yaml",
}
#: Content types accepted by ``POST /v1/policies/validate``.
POLICY_TYPES = ("text/plain", "application/octet-stream", "text/x-tosguard")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def manifest_format(content_type: str | None) -> str:
    kind = media_type(content_type)
    fmt = MANIFEST_TYPES.get(kind)
    if fmt is None and kind.endswith("+json"):
        fmt = "json"
    if fmt is None and kind.endswith("+yaml"):
        fmt = "yaml"
    if fmt is None:
        shown = f"`{kind}`" if kind else "no content type"
        raise ProblemError(
            "unsupported-media-type",
            f"a manifest is sent as `application/json` or `application/yaml`, not {shown}",
            [
                item(
                    "service-media-type",
                    f"unsupported content type {shown}",
                    help="set `Content-Type: application/yaml` (or `application/json`)",
                )
            ],
        )
    return fmt


def check_manifest(
    library: Library,
    data: bytes,
    fmt: str,
    name: str,
    day: date,
    include_all: bool,
    max_sources: int,
    budget: Budget | None = None,
    *,
    accept_unknown_ids: bool = False,
) -> tuple[bytes, str]:
    """Parse, validate and evaluate a manifest; the report's JSON (exactly the CLI's bytes)
    and its verdict. The work stops with :class:`tosguard.engine.budget.LimitExceeded` when
    ``budget`` is spent; a report over its findings limit is a 422."""
    with budgets.active(budget):
        return _check_manifest(
            library, data, fmt, name, day, include_all, max_sources, accept_unknown_ids
        )


def _check_manifest(
    library: Library,
    data: bytes,
    fmt: str,
    name: str,
    day: date,
    include_all: bool,
    max_sources: int,
    accept_unknown_ids: bool,
) -> tuple[bytes, str]:
    try:
        loaded = parse_manifest(data, name, fmt)
    except ManifestError as error:
        count = error.total  # every problem found, not only the ones listed
        raise ProblemError(
            "manifest-invalid",
            f"the manifest has {count:,} error{'s' if count != 1 else ''}",
            diagnostic_items(error.diagnostics),
        ) from None
    sources = len(loaded.manifest.sources)
    if sources > max_sources:
        raise ProblemError(
            "manifest-too-many-sources",
            f"the manifest declares {sources} "
            f"sources; this service checks at most {max_sources} per request",
            [
                item(
                    "service-too-many-sources",
                    f"{sources} sources, more than the limit of {max_sources}",
                    pointer="/sources",
                    file=name,
                    help="split the manifest, or run `tosguard check` locally",
                )
            ],
        )
    try:
        report = run_check(
            library,
            loaded,
            as_of=day,
            include_all=include_all,
            name=name,
            accept_unknown_ids=accept_unknown_ids,
        )
        return report.to_json().encode(), report.verdict
    except TosguardError as error:
        raise ProblemError(
            "manifest-invalid",
            "the manifest could not be evaluated",
            diagnostic_items(error.diagnostics),
        ) from None
    except FindingsLimitExceeded as error:
        raise ProblemError(
            "report-too-large",
            f"the report would hold more than "
            f"{error.limit:,} findings; this service returns at most that many",
            [
                item(
                    "service-too-many-findings",
                    f"more than {error.limit:,} findings",
                    pointer="/sources",
                    file=name,
                    help="declare the facts that leave findings undetermined, "
                    "split the manifest, or run `tosguard check` locally",
                )
            ],
        ) from None


def validate_policy(
    policy_set: PolicySet, data: bytes, name: str, context: str, budget: Budget | None = None
) -> tuple[list[Diagnostic], str]:
    """Lint policy text as ``tosguard lint`` does (errors and warnings), less the check of
    quotes against stored source texts, which posted text has none of; text without errors is
    then compiled as ``tosguard check`` would load it. Returns the diagnostics and the context.

    ``context="library"``: the text is a user policy over the loaded set, in the user's
    namespace, as ``tosguard check --extra-policies FILE`` loads it; a text named like a file
    of the set replaces that file, in that file's namespace (so a library file is checked as
    the library's). ``context="none"``: the text alone, as ``tosguard lint FILE`` reads it.

    The set's files are parsed once per set (:meth:`PolicySet.parsed_files`), so a request
    costs the parse of its own text plus the checks, not a parse of the whole library. The
    work stops with :class:`tosguard.engine.budget.LimitExceeded` when ``budget`` is spent.
    """
    others, user = [], False
    if context == "library":
        files = policy_set.parsed_files()
        others = [f for f in files if f.path != name]
        replaced = [f for f in files if f.path == name]
        user = replaced[0].user if replaced else True
    with budgets.active(budget):
        return _validate_policy(others, data, name, context, user)


def _validate_policy(
    others: list, data: bytes, name: str, context: str, user: bool
) -> tuple[list[Diagnostic], str]:
    from ..engine.frontend import FrontEndRun, PolicySources, parse_policy_data, run_front_end
    from ..tools.lint import lint_files

    try:
        parsed = parse_policy_data(data, name, user=user)
    except PolicyError as error:
        return list(error.diagnostics), context
    diagnostics = lint_files([parsed], others)
    if not any(d.severity == "error" for d in diagnostics):  # lint ran the validate stage
        run = FrontEndRun(PolicySources([]), revision="validate", files=[*others, parsed])
        run_front_end(run, start="compile")
    return diagnostics, context


def validation_result(
    diagnostics: list[Diagnostic], name: str, context: str, revision: str
) -> dict:
    errors, warnings = counts(diagnostics)
    listed = []
    for entry, diagnostic in zip(diagnostic_items(diagnostics), diagnostics, strict=True):
        listed.append(
            {
                "code": entry["code"],
                "severity": diagnostic.severity,
                **{k: entry[k] for k in ("message", "line", "column", "pointer", "help", "file")},
            }
        )
    return {
        "valid": errors == 0,
        "name": name,
        "context": context,
        "revision": revision,
        "errors": errors,
        "warnings": warnings,
        "diagnostics": listed,
    }
