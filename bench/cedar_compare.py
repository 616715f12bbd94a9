"""(c) The starter rules as Cedar policies (bench/cedar/starter.cedar), run with
``cedarpy.is_authorized_batch`` on the same parsed manifest as tosguard's ``evaluate()``, in the
same process; plus the agreement check, source by source and clause by clause.

tosguard runs the same rules: the starter policy files, pinned in bench/cedar/tosguard-starter/
(the shipped library grows and changes; the Cedar file encodes the starter rules only). The
whole shipped library is timed as well, for reference."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import cedarpy
from timing import Timings, repeat

from tosguard.engine.evaluate import evaluate

BENCH = Path(__file__).resolve().parent
POLICY_FILE = BENCH / "cedar" / "starter.cedar"
STARTER_POLICIES = BENCH / "cedar" / "tosguard-starter"
COMMON_TOS = {
    "pinned starter": STARTER_POLICIES / "openai" / "common.tos",
    "shipped library": BENCH.parent / "policies" / "openai" / "common.tos",
}
BASELINE_ID = "baseline"
SOURCE_FIELDS = ("kind", "provider", "service", "use", "license")
ACCESS_FIELDS = ("route", "from_country")
MODEL_FIELDS = ("name", "purpose", "distribution", "attributions", "downstream_licenses")
USE_ACTION = {"type": "Action", "id": "use"}


# ---- policies ---------------------------------------------------------------------------------
@dataclass
class CedarPolicies:
    handle: cedarpy.PolicySet
    ids: dict[str, str]  # Cedar's policy0, policy1 … → the @id annotation

    @classmethod
    def load(cls, path: Path = POLICY_FILE) -> CedarPolicies:
        text = path.read_text(encoding="utf-8")
        static = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
        ids = {name: body["annotations"]["id"] for name, body in static.items()}
        return cls(cedarpy.PolicySet.from_str(text), ids)

    @property
    def encoded_clauses(self) -> set[str]:
        """``policy/clause`` of every tosguard clause encoded as a Cedar ``forbid``."""
        return {value for value in self.ids.values() if value != BASELINE_ID}


def _country_codes(text: str, pattern: str) -> set[str]:
    match = re.search(pattern, text, re.S)
    return set(re.findall(r"\b[A-Z]{2}\b", match.group(1))) if match else set()


def country_sets_match() -> dict[str, dict]:
    """The Cedar geography set must be ``openai_supported_countries`` of common.tos (pinned
    starter and shipped library)."""
    cedar = _country_codes(
        POLICY_FILE.read_text(encoding="utf-8"),
        r"!\(\[(.*?)\]\.contains\(context\.source\.from_country\)",
    )
    found = {}
    for label, path in COMMON_TOS.items():
        library = _country_codes(
            path.read_text(encoding="utf-8"),
            r"set openai_supported_countries = countries \{(.*?)\}",
        )
        found[label] = {
            "library": len(library),
            "cedar": len(cedar),
            "equal": library == cedar,
            "only_in_library": sorted(library - cedar),
            "only_in_cedar": sorted(cedar - library),
        }
    return found


def load_starter_library():
    from tosguard.api import load_library

    return load_library([STARTER_POLICIES])


# ---- requests ---------------------------------------------------------------------------------
def _declared(obj, names: tuple[str, ...]) -> dict:
    """The declared fields of a manifest object (undeclared ones are left out of the context,
    so the Cedar policies' ``has`` guards see them as missing)."""
    found = {}
    if obj is None:
        return found
    for name in names:
        value = getattr(obj, name)
        if value is not None:
            found[name] = value
    return found


def openai_fine_tuning_base(manifest) -> bool:
    """OpenAI's Permitted Exception (b), precomputed because Cedar cannot quantify over the
    other sources: a declared OpenAI model on OpenAI's fine-tuning service (two-valued: an
    undeclared fact counts as false)."""
    return any(
        s.provider == "openai" and s.kind == "model-weights" and s.service == "fine-tuning"
        for s in manifest.sources
    )


def build_requests(manifest) -> tuple[list[dict], list[dict]]:
    """One Cedar request per source, and the entities (the organization, as principal)."""
    organization = manifest.organization
    principal = {
        "type": "Organization",
        "id": (organization.name if organization and organization.name else "-"),
    }
    entities = [
        {
            "uid": principal,
            "parents": [],
            "attrs": _declared(organization, ("monthly_active_users", "agreements")),
        }
    ]
    shared = {
        "model": _declared(manifest.model, MODEL_FIELDS),
        "manifest": {"openai_fine_tuning_base": openai_fine_tuning_base(manifest)},
    }
    requests = []
    for source in manifest.sources:
        attributes = _declared(source, SOURCE_FIELDS)
        attributes.update(_declared(source.access, ACCESS_FIELDS))
        requests.append(
            {
                "principal": principal,
                "action": USE_ACTION,
                "resource": {"type": "Source", "id": source.id},
                "context": {"source": attributes, **shared},
            }
        )
    return requests, entities


def authorize(policies: CedarPolicies, requests: list[dict], entities: list[dict]):
    return cedarpy.is_authorized_batch(requests, policies.handle, entities)


# ---- timing -----------------------------------------------------------------------------------
def time_side_by_side(
    starter, shipped, manifest, as_of: date, policies: CedarPolicies, repeats: int
) -> dict:
    """Interleaved runs: tosguard ``evaluate()`` with the starter rules (the same rules as
    Cedar); Cedar request building; Cedar's batch. The whole shipped library is timed once,
    in the first round, for reference."""
    same, whole, build, batch = Timings(), Timings(), Timings(), Timings()
    results = evaluation = None
    for round_ in range(repeats):
        results = evaluation = None  # let the previous run's results go before timing
        one, evaluation = repeat(lambda: evaluate(starter, manifest, as_of), 1)
        same.seconds += one.seconds
        if round_ == 0:  # for reference only, and much slower: once
            one, _ = repeat(lambda: evaluate(shipped, manifest, as_of), 1)
            whole.seconds += one.seconds
        one, (requests, entities) = repeat(lambda: build_requests(manifest), 1)
        build.seconds += one.seconds
        one, results = repeat(lambda r=requests, e=entities: authorize(policies, r, e), 1)
        batch.seconds += one.seconds
        del requests, entities
    cedar_total = Timings([b + a for b, a in zip(build.seconds, batch.seconds, strict=True)])
    return {
        "sources": len(manifest.sources),
        "clauses": {
            "starter": starter.clause_count,
            "shipped": shipped.clause_count,
            "cedar_forbid": len(policies.encoded_clauses),
        },
        "tosguard_evaluate": same.as_dict(),
        "tosguard_evaluate_shipped_library": whole.as_dict(),
        "cedar_build_requests": build.as_dict(),
        "cedar_is_authorized_batch": batch.as_dict(),
        "cedar_total": cedar_total.as_dict(),
        "cedar_total_over_tosguard": cedar_total.median / same.median,
        "cedar_batch_over_tosguard": batch.median / same.median,
        "cedar_total_over_tosguard_shipped": cedar_total.median / whole.median,
        "_results": results,
        "_evaluation": evaluation,
    }


# ---- agreement --------------------------------------------------------------------------------
def cedar_denials(results, policies: CedarPolicies) -> list[frozenset[str]]:
    """For each source, the encoded clauses whose ``forbid`` fired."""
    denied = []
    for result in results:
        reasons = {policies.ids[r] for r in result.diagnostics.reasons} - {BASELINE_ID}
        if result.diagnostics.errors:
            reasons.add("cedar-error: " + "; ".join(map(str, result.diagnostics.errors)))
        if bool(reasons) != (result.decision == cedarpy.Decision.Deny):
            reasons.add("cedar-decision-mismatch")
        denied.append(frozenset(reasons))
    return denied


def _ir():
    """tosguard's IR module (``tosguard.engine.ir``; ``tosguard.engine.compile`` before it was
    split out)."""
    try:
        from tosguard.engine import ir
    except ImportError:
        from tosguard.engine import compile as ir
    return ir


def _quantifiers(condition):
    """The outermost quantifiers in a compiled condition (tosguard IR)."""
    if condition is None:
        return []
    if isinstance(condition, _ir().Quantifier):
        return [condition]
    return [q for child in condition.children() for q in _quantifiers(child)]


def contributing_sources(library, manifest, policy_id: str, clause_id: str) -> set[int]:
    """The sources a model- or organization-scope finding rests on, by tosguard's own compiled
    conditions: those for which a quantifier of the clause (``any source where …``) holds, or,
    for a clause without one, the sources its policy governs."""
    found: set[int] = set()
    document = library.documents.get(policy_id)
    for version in document.versions if document else ():
        clause = next((c for c in version.clauses if c.id == clause_id), None)
        if clause is None:
            continue
        env, governs = _ir().Env(manifest), version.governs_closure()
        indices = range(len(manifest.sources))
        for index in indices:
            env.governed[index] = governs(env.at(index))
        bodies = [q.body.build() for q in _quantifiers(clause.when)]
        if not bodies:
            found |= {i for i, governed in env.governed.items() if governed is True}
        for body in bodies:
            found |= {i for i in indices if body(env.at(i)) is True}
    return found


@dataclass
class TosguardView:
    """tosguard's outcomes for the encoded clauses, by source."""

    violated: list[set[str]]
    undetermined: dict[tuple[int, str], tuple[str, ...]]  # (source or -1, clause) → missing


def tosguard_denials(library, manifest, evaluation, encoded: set[str]) -> TosguardView:
    count = len(manifest.sources)
    view = TosguardView([set() for _ in range(count)], {})
    for outcome in evaluation.outcomes:
        key = f"{outcome.clause.policy}/{outcome.clause.id}"
        if key not in encoded or outcome.clause.severity != "error":
            continue
        index = _source_index(outcome.subject)
        if outcome.status == "undetermined":
            view.undetermined[(index, key)] = outcome.missing
        elif outcome.status == "violated":
            targets = (
                [index]
                if index >= 0
                else contributing_sources(
                    library, manifest, outcome.clause.policy, outcome.clause.id
                )
            )
            for target in targets:
                view.violated[target].add(key)
    return view


def _source_index(subject: str) -> int:
    return int(subject.rsplit("/", 1)[1]) if subject.startswith("/sources/") else -1


def _facts(source) -> dict:
    facts = {
        **_declared(source, (*SOURCE_FIELDS, "derived_from", "collected")),
        **_declared(source.access, ACCESS_FIELDS),
    }
    return json.loads(json.dumps(facts, default=_plain))


def _plain(value):
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return str(value)


def _explain(index: int, key: str, view: TosguardView, manifest) -> str:
    """Why tosguard and Cedar differ on one (source, clause): a fail-closed unknown, or, when
    unexplained, the shape of the source (its facts are kept as the group's example)."""
    missing = view.undetermined.get((index, key)) or view.undetermined.get((-1, key))
    if missing is not None:
        paths = sorted({re.sub(r"/sources/\d+/", "/sources/*/", m) for m in missing})
        return (
            "tosguard: undetermined (fail closed), missing "
            + ", ".join(paths[:4])
            + ("; Cedar reads an undeclared fact as false" if paths else "")
        )
    source = manifest.sources[index]
    shape = {
        "kind": source.kind,
        "provider": source.provider,
        "service": source.service,
        "derived_from": "yes" if source.derived_from else "no",
    }
    return "unexplained, sources of shape " + json.dumps(shape)


def before_the_terms(evaluation) -> set[int]:
    """Sources used before the earliest version of a document the set holds: tosguard judges
    no terms there (`no-version-in-force`), while Cedar's rules have no dates. The starter
    versions begin on 2025-05-31 and the generated sources from 2024-09-01, so these are left
    out of the comparison, and counted."""
    return {
        int(n.subject.rsplit("/", 1)[1])
        for n in evaluation.notices
        if n.code == "no-version-in-force"
    }


def agreement(library, manifest, evaluation, results, policies: CedarPolicies) -> dict:
    encoded = policies.encoded_clauses
    cedar = cedar_denials(results, policies)
    view = tosguard_denials(library, manifest, evaluation, encoded)
    early = before_the_terms(evaluation)
    dated = [i for i in range(len(cedar)) if i not in early]
    agree_sources = sum(bool(cedar[i]) == bool(view.violated[i]) for i in dated)
    per_clause, groups, examples = {}, Counter(), {}
    for key in sorted(encoded):
        in_cedar = {i for i in dated if key in cedar[i]}
        in_tosguard = {i for i in dated if key in view.violated[i]}
        per_clause[key] = {
            "cedar_deny": len(in_cedar),
            "tosguard_violated": len(in_tosguard),
            "both": len(in_cedar & in_tosguard),
        }
        for direction, indices in (
            ("cedar deny, tosguard not violated", in_cedar - in_tosguard),
            ("tosguard violated, cedar allow", in_tosguard - in_cedar),
        ):
            for index in sorted(indices):
                group = (direction, key, _explain(index, key, view, manifest))
                groups[group] += 1
                source = manifest.sources[index]
                examples.setdefault(group, {"id": source.id, "facts": _facts(source)})
    return {
        "sources": len(cedar),
        "before_the_terms": len(early),
        "cedar_deny": sum(bool(cedar[i]) for i in dated),
        "tosguard_violated": sum(bool(view.violated[i]) for i in dated),
        "agree": agree_sources,
        "disagree": len(dated) - agree_sources,
        "per_clause": per_clause,
        "disagreements": [
            {
                "direction": d,
                "clause": k,
                "explanation": e,
                "count": n,
                "example": examples[(d, k, e)],
            }
            for (d, k, e), n in groups.most_common()
        ],
    }


def check_variant(library, manifest, as_of: date, policies: CedarPolicies) -> dict:
    """Agreement only (no timing) on one manifest."""
    evaluation = evaluate(library, manifest, as_of)
    requests, entities = build_requests(manifest)
    return agreement(
        library, manifest, evaluation, authorize(policies, requests, entities), policies
    )
