"""Every diagnostic code tosguard reports, in one table.

A code is stable: scripts, editors and tests match on it. Each has the stage that reports it,
its severity (the one it has by default: a few codes are reported at either level, said in
the summary) and a one-line summary. ``docs/codes.md`` is generated from this table
(``python -m tosguard.codes``) and a test checks that every code written in ``src/`` is here,
so a new code cannot ship without its line. The service's problem types (the ``type`` of a
problem document) are a table of their own, :data:`tosguard.service.problems.KINDS`.

>>> CODES["policy-unknown-path"].stage
'language'
>>> CODES["manifest-unknown-key"].summary
'a key the manifest format does not have (with a did-you-mean)'
"""

from __future__ import annotations

from dataclasses import dataclass

#: The stages, in pipeline order, with what each reads.
STAGES = {
    "usage": "the command line: arguments, options, files to write",
    "config": "configuration files (`tosguard.toml`, `pyproject.toml`'s `[tool.tosguard]`)",
    "baseline": "baseline files of accepted risks (`check --baseline`)",
    "manifest": "usage manifests: YAML/JSON text, the manifest model",
    "language": "policy files: syntax, names, paths, values, versions, citations",
    "lint": "policy files: the further checks of `tosguard lint`",
    "provenance": "policy files: quotes against the stored source texts",
    "test": "policy test files (`tosguard test`)",
    "import": "the inputs of `tosguard import`: cards, BOMs, dataset descriptions",
    "identity": "which terms govern a source: ids and versions (findings, topic `identity`)",
    "scan": "`tosguard scan`: the data a manifest names, and the fingerprint files",
    "service": "the HTTP service: requests, the policy set it serves",
    "http": "the HTTP service: the protocol layer",
}


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    stage: str
    severity: str  # "error" or "warning"
    summary: str


def _codes(stage: str, rows: list[tuple[str, str]], severity: str = "error") -> list[Code]:
    return [Code(code, stage, severity, summary) for code, summary in rows]


_ALL = [
    *_codes(
        "usage",
        [
            ("usage-arguments", "an argument the command does not take"),
            ("usage-bad-option", "an option value that is not valid"),
            ("usage-bad-date", "a date option (`--as-of`) that is not a date `YYYY-MM-DD`"),
            ("usage-bad-clause", "`--clause` not written `POLICY/CLAUSE`"),
            ("usage-bad-subject", "`--subject` that names no subject of the manifest"),
            ("usage-unknown-policy", "a policy or clause id that the loaded set does not have"),
            ("usage-no-tests", "`tosguard test` found no test file"),
            ("usage-missing-extra", "a command that needs an optional extra not installed"),
            ("usage-output", "`--output` cannot be written"),
            ("usage-output-is-input", "`--output` names one of the command's inputs"),
            ("usage-output-exists", "`import --output` names a file that exists (without --force)"),
            ("usage-cannot-listen", "`serve` cannot listen on the address given"),
            ("usage-max-connections", "`serve --max-connections` above what the system allows"),
            ("usage-open-files-limit", "the open-files limit is too low for the connections asked"),
            ("usage-too-many-errors", "counts the usage errors past the first 100"),
            ("usage-no-manifests", "a directory or glob pattern that holds no manifest"),
            ("serve-api-keys", "the API key file or list cannot be read"),
            ("serve-api-keys-empty", "an API key file or list that holds no key (fail closed)"),
            ("too-many-errors", "counts the diagnostics past the first 100"),
        ],
    ),
    *_codes(
        "scan",
        [
            ("scan-nothing-to-scan", "no source of the manifest names its `data`"),
            ("scan-no-fingerprints", "the policy library holds no fingerprint file"),
            ("scan-no-data", "a `data` path or glob that names no file tosguard reads"),
            ("scan-format", "a `data` file of a kind tosguard cannot read"),
            ("scan-io", "a data file that cannot be read"),
            ("scan-unreadable", "a data file that is not valid in its format"),
            ("scan-scheduler", "`--scheduler` names a Dask scheduler that cannot be reached"),
            ("scan-too-many-errors", "counts the scan errors past the first 100"),
            ("fingerprint-io", "a fingerprint file that cannot be read"),
            ("fingerprint-invalid", "a fingerprint file's key or value that is not valid"),
            ("fingerprint-pattern", "a fingerprint pattern that RE2 does not compile"),
            (
                "fingerprint-example",
                "a fingerprint that misses its example or matches its counterexample",
            ),
            ("fingerprint-duplicate-id", "two fingerprints of one provider with one id"),
            ("fingerprint-too-many-errors", "counts the fingerprint errors past the first 100"),
        ],
    ),
    *_codes(
        "config",
        [
            ("config-io", "the configuration file cannot be read"),
            ("config-syntax", "a configuration file that is not valid TOML"),
            ("config-unknown-key", "a key tosguard does not take (with a did-you-mean)"),
            ("config-bad-value", "a value of the wrong type, or not one of the allowed words"),
            ("config-too-many-errors", "counts the configuration errors past the first 100"),
        ],
    ),
    *_codes(
        "baseline",
        [
            ("baseline-io", "the baseline file cannot be read"),
            ("baseline-syntax", "a baseline that is not valid YAML"),
            ("baseline-invalid", "a malformed baseline: unknown key, missing field, bad date"),
            ("baseline-expired", "an entry whose `expires` date has come (the check fails)"),
            ("baseline-stale", "an entry that accepts no finding any more (the check fails)"),
            ("baseline-exists", "`--write-baseline` would replace a file without `--force`"),
            ("baseline-too-many-errors", "counts the baseline errors past the first 100"),
        ],
    ),
    *_codes(
        "manifest",
        [
            ("manifest-io", "the manifest cannot be read"),
            (
                "manifest-encoding",
                "not UTF-8 text (UTF-16/32, invalid bytes, controls, surrogates)",
            ),
            ("manifest-too-large", "a file over the size limit"),
            ("manifest-too-deep", "nesting deeper than 64 levels"),
            ("manifest-syntax", "YAML or JSON that does not parse"),
            ("manifest-format", "an unknown document format (not `yaml` or `json`)"),
            ("manifest-empty", "an empty document"),
            ("manifest-multiple-documents", "more than one YAML document in the file"),
            ("manifest-alias", "a YAML anchor or alias (refused: alias bombs)"),
            ("manifest-tag", "a YAML tag"),
            ("manifest-duplicate-key", "a key given twice in one mapping"),
            ("manifest-invalid-key", "a key that is a list or a mapping, or too long"),
            ("manifest-version", "a `tosguard:` format this version does not read"),
            ("manifest-missing-key", "a required key is missing"),
            (
                "manifest-unknown-key",
                "a key the manifest format does not have (with a did-you-mean)",
            ),
            ("manifest-type", "a value of the wrong type"),
            ("manifest-invalid-value", "a value outside the field's vocabulary or range"),
            ("manifest-country", "not an ISO 3166-1 alpha-2 country code"),
            ("manifest-duplicate-id", "two sources with one id"),
            ("manifest-unknown-source", "`derived_from` names no source of the manifest"),
            ("manifest-internal", "a validation failure tosguard cannot place (a bug: report it)"),
            ("manifest-too-many-errors", "counts the manifest errors past the first 100"),
        ],
    ),
    *_codes(
        "language",
        [
            ("policy-io", "a policy file or directory cannot be read"),
            ("policy-empty-set", "a policy set with no policy (it would pass every manifest)"),
            ("policy-encoding", "a policy file that is not UTF-8 text"),
            ("policy-too-large", "a policy file over the size limit"),
            ("policy-syntax", "the text does not parse"),
            ("policy-unclosed", "a `{` or string opened and never closed"),
            ("policy-bad-date", "a date that is not a valid `YYYY-MM-DD`"),
            ("policy-too-deep", "a condition nested more than 64 levels as written"),
            ("policy-too-complex", "a condition too large once its predicates are written out"),
            ("policy-duplicate-field", "a header or clause field given twice"),
            ("policy-duplicate-name", "a set or predicate defined twice"),
            ("policy-duplicate-clause", "a clause id used twice in a policy"),
            ("policy-duplicate-version", "two policies with one id and version"),
            ("policy-duplicate-value", "a value listed twice in a set"),
            ("policy-duplicate-id", "a policy of yours with the id of a library document"),
            ("policy-duplicate-license", "a licence id on the `license` line of two documents"),
            ("policy-missing-field", "a required field is missing"),
            (
                "policy-misplaced-field",
                "a field where it does not belong (e.g. `require` on a prohibition)",
            ),
            ("policy-unknown-name", "a set or predicate that is not defined (with a did-you-mean)"),
            ("policy-unknown-path", "a manifest path that does not exist (with a did-you-mean)"),
            ("policy-unknown-value", "a value outside the field's vocabulary"),
            ("policy-unknown-clause", "an exception lifts a clause that does not exist"),
            ("policy-bad-country", "not an ISO 3166-1 alpha-2 country code"),
            ("policy-bad-provider", "a provider id that is not well formed"),
            ("policy-bad-name", "a name that cannot be used there (`governed` outside a source)"),
            ("policy-bad-value", "an empty or malformed value (e.g. an empty agreement id)"),
            ("policy-bad-quantifier", "a quantifier over something that is not a list of sources"),
            ("policy-bad-regex", "a regex RE2 refuses (backreferences, lookaround) or too large"),
            ("policy-type-mismatch", "a comparison between values of different types"),
            ("policy-no-source", "`source.` used where there is no source in scope"),
            ("policy-cyclic-definition", "a predicate defined in terms of itself"),
            ("policy-overlapping-versions", "versions of one document in force on the same day"),
            ("policy-bad-dates", "`applies from` not before `effective`, or on a later version"),
            ("policy-provider-mismatch", "versions of one document naming different providers"),
            ("policy-missing-citation", "a clause without citation, or a citation part missing"),
            ("policy-too-many-errors", "counts the policy errors past the first 100"),
        ],
    ),
    *_codes(
        "language",
        [
            ("policy-own-topic", "a topic outside the vocabulary, taken as one of your own"),
        ],
        severity="warning",
    ),
    *_codes(
        "lint",
        [
            (
                "policy-never-holds",
                "a condition that can never be true (a warning for a literal `false`)",
            ),
        ],
    ),
    *_codes(
        "lint",
        [
            ("policy-version-gap", "a version ends before the next takes effect"),
            ("policy-lifts-permission", "an exception lifts a permission, which forbids nothing"),
            ("policy-missing-remedy", "a prohibition or obligation without `remedy`"),
            ("policy-unused-name", "a set or predicate defined and never used"),
            ("policy-analysis-incomplete", "the never-holds search used up its steps"),
        ],
        severity="warning",
    ),
    *_codes(
        "provenance",
        [
            ("policy-quote-not-found", "the quote is not in the stored source text it cites"),
            ("policy-source-invalid", "a stored source without `url:` header, `---` or text"),
        ],
    ),
    *_codes(
        "provenance",
        [
            ("policy-source-missing", "no stored text for the cited URL and version"),
        ],
        severity="warning",
    ),
    *_codes(
        "test",
        [
            ("test-io", "a test file cannot be read"),
            ("test-syntax", "a test file that does not parse"),
            ("test-invalid", "a test that is not well formed"),
            (
                "policy-test",
                "a policy test that fails (JUnit and SARIF results of `tosguard test`)",
            ),
        ],
    ),
    *_codes(
        "import",
        [
            ("import-io", "an input cannot be read"),
            ("import-encoding", "an input that is not UTF-8 text"),
            ("import-too-large", "an input over the size limit, or nested too deep"),
            ("import-syntax", "JSON or YAML front matter that does not parse (or duplicate keys…)"),
            ("import-format", "an input whose format cannot be told (use `--from`)"),
            ("import-no-metadata", "a card without YAML front matter"),
            ("import-schema", "an input that does not follow its format's published schema"),
            ("import-ambiguous", "inputs that describe more than one trained model"),
            ("import-hub", "a card that cannot be downloaded from the Hugging Face Hub"),
            ("import-too-many-errors", "counts the import errors past the first 100"),
        ],
    ),
    *_codes(
        "identity",
        [
            (
                "unknown-provider",
                "a provider id no loaded policy knows (a warning with `--accept-unknown-ids`)",
            ),
            ("unknown-license", "a licence id no loaded policy knows (idem)"),
            ("unknown-agreement", "an agreement id no loaded policy knows (idem)"),
            ("unknown-verification", "a verification id no loaded policy knows (idem)"),
            ("governing-terms", "which terms govern a source is open: the facts to declare"),
            ("no-governing-terms", "no loaded policy governs a source"),
            (
                "no-version-in-force",
                "no version of a document in force when the source was collected",
            ),
        ],
    ),
    *_codes(
        "service",
        [
            ("service-empty-body", "a request body that is empty"),
            ("service-media-type", "a request body of a media type the endpoint does not take"),
            ("service-unknown-path", "no endpoint at this path"),
            ("service-trailing-slash", "a path with a trailing slash (not redirected)"),
            ("service-unknown-policy", "a policy id the served set does not have"),
            ("service-unknown-clause", "a clause id the served set does not have"),
            ("service-too-many-sources", "a manifest with more sources than `--max-sources`"),
            ("service-too-many-findings", "a report with more findings than `--max-findings`"),
            ("service-reload-disabled", "reloading over HTTP is turned off"),
            ("service-invalid-parameter", "a query or path parameter with a value it cannot take"),
            ("service-unknown-parameter", "a query parameter the endpoint does not take"),
            ("service-not-acceptable", "an `Accept` header no report format satisfies"),
            ("reload-internal", "a reload that failed for a reason tosguard cannot place"),
        ],
    ),
    *_codes(
        "http",
        [
            ("http-malformed", "a request that is not well-formed HTTP/1.1"),
            ("http-header-too-large", "request headers over the size limit"),
            ("http-header-timeout", "request headers not received in time"),
            ("http-chunked-framing-too-large", "chunk extensions or trailers over the limit"),
            ("http-too-many-connections", "the connection limit is reached"),
        ],
    ),
]

#: Every code, by code.
CODES: dict[str, Code] = {code.code: code for code in _ALL}
assert len(CODES) == len(_ALL), "a code is listed twice"


def markdown() -> str:
    """The table of every code, by stage, as docs/codes.md holds it."""
    lines = [
        "# Diagnostic codes",
        "",
        "Generated from `src/tosguard/codes.py` (`python -m tosguard.codes > docs/codes.md`); do "
        "not edit by hand. Each code is stable; the severity is the default one.",
        "",
    ]
    for stage, reads in STAGES.items():
        rows = [code for code in _ALL if code.stage == stage]
        lines += [
            f"## {stage}",
            "",
            f"{reads[0].upper()}{reads[1:]}.",
            "",
            "| code | severity | meaning |",
            "|---|---|---|",
        ]
        lines += [f"| `{c.code}` | {c.severity} | {c.summary} |" for c in rows]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
