"""Response schemas, for the OpenAPI document.

The report itself is serialised by :meth:`tosguard.report.model.Report.to_json`, exactly as the CLI
prints it; :class:`Report` here only describes it, and is checked against it: the report's
models forbid keys they do not list, and ``tests/test_report_shape.py`` holds them to the keys,
key order and values of :meth:`~tosguard.report.model.Report.as_dict` for every example
manifest, so that the one report model (``tosguard.report.model``) and its description cannot
drift apart. The other responses are built as plain dicts and described by these models too,
so the document says what every response holds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _ReportPart(BaseModel):
    """A part of the report: exactly the keys :mod:`tosguard.report.model` writes."""

    model_config = ConfigDict(extra="forbid")


class Location(_ReportPart):
    file: str
    line: int
    column: int


class PolicyLocation(_ReportPart):
    file: str
    line: int


class Citation(_ReportPart):
    document: str
    section: str
    effective: str | None = Field(description="Effective date of the version quoted.")
    url: str | None
    quote: str


class Finding(_ReportPart):
    policy: str | None = Field(
        description="The policy (document) id; null for a notice that concerns no one document."
    )
    provider: str | None = Field(
        description="The provider whose terms these are; null for a "
        "licence, an organization's own policy, or a notice."
    )
    clause: str = Field(
        description="The clause id, or for a notice (topic `identity`) its "
        "code, e.g. `unknown-license` or `governing-terms`."
    )
    topic: str
    status: str = Field(description="`violated`, `undetermined`, `satisfied` or `not_applicable`.")
    severity: str = Field(description="`error`, `warning` or `info`.")
    subject: str = Field(description="JSON pointer of the manifest part the clause is about.")
    location: Location
    message: str
    missing: list[str] = Field(
        description="Manifest paths whose absence left the result undetermined."
    )
    remedy: str
    citation: Citation | None = Field(
        description="The clause the finding rests on; null for "
        "a notice (topic `identity`), which rests "
        "on the policy set as a whole."
    )
    policy_location: PolicyLocation | None


class Listed(_ReportPart):
    """How many results of each category the report's `findings` hold."""

    violated: int
    undetermined: int
    warnings: int
    satisfied: int
    not_applicable: int


class Summary(_ReportPart):
    """Every result, counted in exactly one category: the five totals add up to every clause
    evaluated or counted as not applicable for the manifest."""

    violated: int = Field(
        description="Error-severity results violated: any makes the verdict `non_compliant`."
    )
    undetermined: int = Field(
        description="Error-severity results undetermined: any (and none "
        "violated) makes the verdict `undetermined`."
    )
    warnings: int = Field(
        description="Results of `warning` or `info` severity that are "
        "violated or undetermined (their `status` says which): "
        "advisory, they never change the verdict."
    )
    satisfied: int = Field(description="Satisfied results, of any severity, listed or not.")
    not_applicable: int = Field(
        description="Not-applicable results, of any severity, listed or not."
    )
    listed: Listed = Field(
        description="How many of each the `findings` hold: all violated, "
        "undetermined and warnings; the obligations met; "
        "everything with `all=true`."
    )


class Report(_ReportPart):
    """The report, format 1: byte-for-byte what `tosguard check --format json` prints."""

    tosguard: int = Field(description="The report format version.")
    tosguard_version: str = Field(description="The tosguard release that wrote the report.")
    policy_set_revision: str = Field(
        description="The revision of the policy set checked against (as in `GET /v1/policies`)."
    )
    manifest: str
    as_of: str
    verdict: str = Field(description="`compliant`, `non_compliant` or `undetermined`.")
    summary: Summary
    findings: list[Finding]


class PolicyRow(BaseModel):
    id: str
    provider: str | None = Field(
        description="The provider whose terms these are; null for an "
        "organization's own policy, which names none."
    )
    document: str
    versions: list[str] = Field(description="Effective dates of the versions, oldest first.")
    clauses: int
    files: list[str]


class PolicyList(BaseModel):
    revision: str
    policies: list[PolicyRow]


class ClauseRow(BaseModel):
    id: str
    topic: str
    kind: str
    scope: str
    severity: str


class PolicyVersion(BaseModel):
    version: str
    effective: str
    ends: str | None
    document: str
    url: str
    services: list[str]
    file: str
    line: int
    clauses: list[ClauseRow]


class PolicyDetail(BaseModel):
    id: str
    provider: str | None = Field(
        description="The provider whose terms these are; null for an "
        "organization's own policy, which names none."
    )
    revision: str
    versions: list[PolicyVersion]


class CitationDetail(Citation):
    model_config = ConfigDict(extra="ignore")

    unverified: str = Field(
        description="Why the quote is not verified against the stored "
        "source text; empty when it is."
    )


class ClauseVersion(BaseModel):
    version: str
    effective: str
    ends: str | None
    topic: str
    kind: str
    scope: str
    severity: str
    when: str | None = Field(description="The clause's condition, as written.")
    require: str | None = Field(description="What an obligation requires, as written.")
    message: str
    remedy: str
    waived_by: list[str]
    lifts: list[str] = Field(description="`policy/clause` ids this permission lifts.")
    lifted_by: list[str] = Field(description="`policy/clause` ids of permissions lifting it.")
    citation: CitationDetail
    policy_location: PolicyLocation


class ClauseDetail(BaseModel):
    policy: str
    provider: str | None = Field(
        description="The provider whose terms these are; null for an "
        "organization's own policy, which names none."
    )
    clause: str
    revision: str
    versions: list[ClauseVersion]


class ValidationDiagnostic(BaseModel):
    code: str
    severity: str
    message: str
    line: int | None
    column: int | None
    pointer: str
    help: str
    file: str


class ValidationResult(BaseModel):
    valid: bool
    name: str
    context: str = Field(
        description="`library` (checked with the loaded policy set) or `none` (alone)."
    )
    revision: str
    errors: int
    warnings: int
    diagnostics: list[ValidationDiagnostic]


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    revision: str
    policies: int
    clauses: int
    loaded_at: float
    workers: int
    reloads: int
    reload_failures: int
    last_reload: dict | None


class ReloadOutcome(BaseModel):
    revision: str
    previous: str
    changed: bool
    policies: int
    clauses: int
    workers: int = Field(
        description="Worker processes; with more than one, the others are "
        "restarted one by one to load the new set."
    )
