"""Hypothesis properties of the engine on generated manifests:

* the engine raises only its own errors (never a bare Python exception);
* the report is deterministic;
* adding a clause that is satisfied for the manifest adds no violation;
* the verdict agrees with the findings, and ``--all`` accounts for every counted result.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tosguard.api import check
from tosguard.engine.library import Library, compile_contents, load_library
from tosguard.errors import TosguardError
from tosguard.manifest.model import (
    DISTRIBUTIONS,
    PURPOSES,
    ROUTES,
    SERVICES,
    SOURCE_KINDS,
    TRACES,
    USES,
    parse_manifest,
)

SHIPPED = load_library(use_cache=False)
COUNTRIES = ["US", "DE", "NO", "AE", "CN", "RU", "GB", "FR", "IN", "BR"]
PROVIDERS = ["openai", "meta", "anthropic", "google", "deepseek"]
LICENSES = ["llama3.1", "MIT", "Apache-2.0", "CC-BY-4.0", "gemma"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def maybe(strategy):
    """A value, or absent (``None`` drops the key): missing facts must be handled too."""
    return st.one_of(st.none(), strategy)


def dates():
    return st.dates().map(lambda d: d.isoformat())


@st.composite
def sources(draw, index: int):
    source = {
        "id": f"s{index}",
        "kind": draw(maybe(st.sampled_from(SOURCE_KINDS))),
        "provider": draw(maybe(st.sampled_from(PROVIDERS))),
        "model": draw(maybe(st.sampled_from(["gpt-4o", "o3-mini", "Llama-3.1-8B", "x"]))),
        "service": draw(maybe(st.sampled_from(SERVICES))),
        "access": draw(
            maybe(
                st.fixed_dictionaries(
                    {"route": st.sampled_from(ROUTES), "from_country": st.sampled_from(COUNTRIES)}
                )
            )
        ),
        "records": draw(maybe(st.integers(0, 10**9))),
        "reasoning_traces": draw(maybe(st.sampled_from(TRACES))),
        "use": draw(maybe(st.lists(st.sampled_from(USES), unique=True, max_size=3))),
        "license": draw(maybe(st.sampled_from(LICENSES))),
    }
    start, end = sorted([draw(dates()), draw(dates())])
    source["collected"] = draw(st.sampled_from([None, {"from": start, "to": end}, {"from": start}]))
    return {k: v for k, v in source.items() if v is not None}


@st.composite
def manifests(draw):
    count = draw(st.integers(0, 5))
    manifest = {"tosguard": 1, "sources": [draw(sources(i)) for i in range(count)]}
    organization = draw(
        maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "country": st.sampled_from(COUNTRIES),
                    "agreements": st.lists(
                        st.sampled_from(["meta-llama-license", "other"]), unique=True
                    ),
                    "monthly_active_users": st.integers(0, 10**10),
                    "verified_with": st.lists(st.sampled_from(PROVIDERS), unique=True),
                },
            )
        )
    )
    model = draw(
        maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.sampled_from(["Llama-x", "acme-7b", "llama-y"]),
                    "purpose": st.sampled_from(PURPOSES),
                    "distribution": st.sampled_from(DISTRIBUTIONS),
                    "commercial": st.booleans(),
                    "attributions": st.lists(
                        st.sampled_from(["Built with Llama", "x"]), unique=True
                    ),
                    "downstream_licenses": st.lists(st.sampled_from(LICENSES), unique=True),
                },
            )
        )
    )
    if organization is not None:
        manifest["organization"] = organization
    if model is not None:
        manifest["model"] = model
    return manifest


def run(manifest: dict, library: Library = SHIPPED, include_all: bool = False):
    loaded = parse_manifest(json.dumps(manifest).encode(), "m.json", "json")
    return check(library, loaded, as_of="2026-01-01", include_all=include_all)


@SETTINGS
@given(manifests())
def test_report_is_deterministic(manifest) -> None:
    assert run(manifest).to_json() == run(manifest).to_json()


@SETTINGS
@given(manifests())
def test_verdict_agrees_with_findings_and_counts(manifest) -> None:
    report = run(manifest, include_all=True)
    errors = [f for f in report.findings if f.severity == "error"]
    if any(f.status == "violated" for f in errors):
        assert report.verdict == "non_compliant"
    elif any(f.status == "undetermined" for f in errors):
        assert report.verdict == "undetermined"
    else:
        assert report.verdict == "compliant"
    summary = dict(report.summary)
    listed = summary.pop("listed")
    counted = dict.fromkeys(summary, 0)
    for finding in report.findings:
        counted[finding.category] += 1
    assert counted == summary == listed  # with --all every result is listed, in one category
    if report.verdict == "compliant":
        assert not any(f.category in ("violated", "undetermined") for f in report.findings)
    for finding in report.findings:
        assert (finding.status == "undetermined") or not finding.missing


NEVER_TRUE = """
policy extra {
  provider  %s
  document  "Extra"
  service   api, open-weights, fine-tuning, enterprise
  effective 2020-01-01
  url       "https://example.org/extra"
  clause impossible {
    topic distillation
    kind prohibition
    when false
    cite { section "1" quote "q" }
  }
  clause satisfied-by-declaration {
    topic distillation
    kind prohibition
    when source.records is declared and source.records < 0
    cite { section "2" quote "q" }
  }
}
"""


@SETTINGS
@given(manifests(), st.sampled_from(PROVIDERS))
def test_adding_a_satisfied_clause_adds_no_violation(manifest, provider) -> None:
    base = run(manifest)
    extra_policy = (Path("extra.tos"), "extra.tos", (NEVER_TRUE % provider).encode())
    extended = Library(SHIPPED.policies + compile_contents([extra_policy]), "x", [])
    more = run(manifest, extended)

    def violated(report):
        return sorted(
            json.dumps(f.as_dict(), sort_keys=True)
            for f in report.findings
            if f.status == "violated"
        )

    assert violated(more) == violated(base)
    assert more.verdict == base.verdict


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def mangled_manifests(draw):
    """Valid manifests with random parts replaced by random JSON values."""
    manifest = draw(manifests())
    for _ in range(draw(st.integers(1, 3))):
        target = manifest
        keys = ["sources", "organization", "model", "tosguard", "facts", "extra"]
        key = draw(st.sampled_from(keys))
        entries = manifest.get("sources")
        dicts = [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
        if key == "sources" and dicts and draw(st.booleans()):
            target = draw(st.sampled_from(dicts))
            key = draw(st.sampled_from(sorted(target) + ["bogus"]))
        target[key] = draw(json_values)
    return manifest


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled_manifests())
def test_engine_raises_only_its_own_errors(manifest) -> None:
    try:
        run(manifest)
    except TosguardError as error:
        assert error.diagnostics and all(d.code != "manifest-internal" for d in error.diagnostics)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_manifest_errors(data: bytes) -> None:
    try:
        loaded = parse_manifest(data, "m.yaml", None)
    except TosguardError as error:
        assert all(d.code != "manifest-internal" for d in error.diagnostics)
        return
    check(SHIPPED, loaded, as_of="2026-01-01")


POLICY_TEXT = (
    Path(__file__).parent.parent / "policies" / "meta" / "llama-3.1-license.tos"
).read_text(encoding="utf-8")
TOKENS = [
    "{",
    "}",
    "(",
    ")",
    '"',
    "==",
    "=",
    "and",
    "or",
    "not",
    "when",
    "clause",
    "policy",
    "countries {",
    "XX",
    "2024-13-01",
    "any source where",
    "\u201c",
    "\x00",
    "\n",
    "#",
]


@st.composite
def mutated_policies(draw):
    """The Llama licence policy with a few random cuts and insertions."""
    text = POLICY_TEXT
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            length = draw(st.integers(1, 40))
            text = text[:position] + text[position + length :]
        else:
            insert = draw(st.sampled_from(TOKENS) | st.text(max_size=5))
            text = text[:position] + insert + text[position:]
    return text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_policies())
def test_malformed_policies_raise_only_policy_errors(text: str) -> None:
    try:
        compile_contents([(Path("p.tos"), "p.tos", text.encode("utf-8", "surrogatepass"))])
    except TosguardError as error:
        for diagnostic in error.diagnostics:
            assert diagnostic.span.file == "p.tos"
            assert diagnostic.message and diagnostic.code.startswith("policy-")
