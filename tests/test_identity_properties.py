"""Hypothesis properties of identity-first evaluation (which terms govern each source):

* an id no policy knows never makes a manifest pass: replacing a known provider, licence,
  agreement or verification id by an unknown one never turns a ``non_compliant`` or
  ``undetermined`` verdict into ``compliant`` (a service is a closed vocabulary of the manifest
  format: an unknown one is a manifest error, tested in ``test_manifest``);
* adding a ``human`` source never adds a finding;
* the verdict never depends on the order of the sources.
"""

from __future__ import annotations

import copy

from hypothesis import assume, given
from hypothesis import strategies as st

import test_properties as generated

UNKNOWN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=3, max_size=12).map(
    lambda text: f"zz-{text}"
)


def _known_id_places(manifest: dict) -> list[tuple]:
    """Where the manifest holds an id a policy might know: (container, key, index or None)."""
    places: list[tuple] = []
    for source in manifest["sources"]:
        for key in ("provider", "license"):
            if key in source:
                places.append((source, key, None))
    organization = manifest.get("organization") or {}
    for key in ("agreements", "verified_with"):
        for position in range(len(organization.get(key) or ())):
            places.append((organization, key, position))
    return places


def _findings(report) -> list[tuple]:
    return sorted((f.rule, f.subject, f.status, f.severity) for f in report.findings)


@generated.SETTINGS
@given(generated.manifests(), st.data(), UNKNOWN)
def test_an_unknown_id_never_makes_a_manifest_pass(manifest, data, unknown) -> None:
    before = generated.run(manifest)
    assume(before.verdict != "compliant")
    changed = copy.deepcopy(manifest)
    places = _known_id_places(changed)
    assume(places)
    container, key, position = data.draw(st.sampled_from(places))
    if position is None:
        container[key] = unknown
    else:
        container[key][position] = unknown
    after = generated.run(changed)
    assert after.verdict != "compliant", (before.to_json(), after.to_json())
    assert any(f.clause.startswith("unknown-") for f in after.findings)


@generated.SETTINGS
@given(generated.manifests(), st.lists(st.sampled_from(generated.USES), unique=True, max_size=3))
def test_adding_a_human_source_adds_no_finding(manifest, uses) -> None:
    before = generated.run(manifest)
    added = copy.deepcopy(manifest)
    added["sources"].append({"id": "written-by-us", "kind": "human", "use": uses})
    after = generated.run(added)
    assert _findings(after) == _findings(before)
    assert after.verdict == before.verdict


@generated.SETTINGS
@given(generated.manifests(), st.randoms(use_true_random=False))
def test_the_verdict_does_not_depend_on_the_order_of_sources(manifest, random) -> None:
    shuffled = copy.deepcopy(manifest)
    random.shuffle(shuffled["sources"])
    before, after = generated.run(manifest), generated.run(shuffled)
    assert after.verdict == before.verdict

    # the same findings, each about the same source (named by id, not by position)
    def named(report, sources) -> list[tuple]:
        by_pointer = {f"/sources/{i}": s["id"] for i, s in enumerate(sources)}
        return sorted(
            (f.rule, by_pointer.get(f.subject, f.subject), f.status) for f in report.findings
        )

    assert named(after, shuffled["sources"]) == named(before, manifest["sources"])
