"""``tosguard diff``: clause-level changes between two versions of a policy or library, and
whose verdict or findings change."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tosguard.errors import PolicyError
from tosguard.tools.diff import render_text, run, word_diff

ROOT = Path(__file__).parent.parent
DEMO = Path(__file__).parent / "golden" / "explain"
AS_OF = date(2026, 6, 1)


@pytest.fixture()
def sides(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(DEMO / "policies", old)
    shutil.copytree(DEMO / "policies", new)
    return old, new


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_identical_libraries_have_no_changes(sides) -> None:
    old, new = sides
    result = run([old], [new], as_of=AS_OF)
    assert not result.changed
    assert "no changes to policies" in render_text(result)


def test_clause_fields_changed_added_removed(sides) -> None:
    old, new = sides
    terms = new / "acme-2026.tos"
    edit(
        terms,
        "    kind     prohibition\n    when     trains_on_output\n",
        "    kind     prohibition\n    severity warning\n    when     trains_on_output and "
        "model.commercial\n",
    )
    edit(
        terms,
        '"You may not use Output to develop models."',
        '"You may not use Output to train or develop models."',
    )
    edit(
        terms,
        "  clause attribution {",
        "  clause resale {\n    topic resale\n    kind "
        'prohibition\n    when source.access.route == "reseller"\n    remedy "r"\n    cite '
        '{ section "4" quote "no resale" }\n  }\n\n  clause attribution-removed-below {',
    )
    edit(terms, "clause attribution-removed-below", "clause attribution-renamed")
    result = run([old], [new], as_of=AS_OF)
    assert result.changed
    (change,) = result.policies
    assert (change.policy, change.change, change.new_version) == (
        "acme-terms",
        "changed",
        date(2026, 1, 1),
    )
    by_id = {c.clause: c for c in change.clauses}
    assert {k: v.change for k, v in by_id.items()} == {
        "competing-models": "changed",
        "resale": "added",
        "attribution-renamed": "added",
        "attribution": "removed",
    }
    fields = {f.field: (f.old, f.new) for f in by_id["competing-models"].fields}
    assert fields["severity"] == ("error", "warning")
    assert fields["when"] == ("trains_on_output", "trains_on_output and model.commercial")
    text = render_text(result)
    assert "cite.quote: You may not use Output to {+train or+} develop models." in text
    assert "+ prohibition resale: added" in text and "- obligation attribution: removed" in text


def test_set_change_shows_values_and_the_clauses_that_depend_on_it(sides) -> None:
    old, new = sides
    edit(
        new / "common.tos",
        '{"pretraining", "fine-tuning", "distillation", "rlhf"}',
        '{"pretraining", "fine-tuning", "distillation", "rewriting"}',
    )
    result = run([old], [new], as_of=AS_OF)
    (definition,) = result.definitions
    assert (definition.name, definition.added_values, definition.removed_values) == (
        "training_uses",
        ["rewriting"],
        ["rlhf"],
    )
    depending = {
        (p.new_version, c.clause)
        for p in result.policies
        for c in p.clauses
        if "training_uses" in c.depends_on_changed
    }
    assert depending == {
        (date(2025, 1, 1), "competing-models"),
        (date(2026, 1, 1), "competing-models"),
    }
    assert "values added: rewriting" in render_text(result)


def test_two_single_versions_are_compared_whatever_their_dates() -> None:
    result = run(
        [DEMO / "policies" / "acme-2025.tos"],
        [DEMO / "policies" / "acme-2026.tos"],
        as_of=AS_OF,
        extra=[DEMO / "policies" / "common.tos"],
    )
    (change,) = result.policies
    assert (change.change, change.old_version, change.new_version) == (
        "new version",
        date(2025, 1, 1),
        date(2026, 1, 1),
    )
    by_id = {c.clause: c.change for c in change.clauses}
    assert by_id == {"competing-models": "changed", "internal": "removed"}
    fields = {f.field for c in change.clauses for f in c.fields}
    assert {"when", "remedy", "cite.quote"} <= fields
    assert {f.field for f in change.fields} == {"version", "effective"}


def test_new_version_is_compared_with_the_one_it_follows(sides) -> None:
    old, new = sides
    text = (new / "acme-2026.tos").read_text(encoding="utf-8")
    changed = text.replace("2026", "2027").replace(
        "    when     trains_on_output\n", "    when     trains_on_output and model.commercial\n"
    )
    (new / "acme-2027.tos").write_text(changed, encoding="utf-8")
    result = run([old], [new], as_of=AS_OF)
    (change,) = result.policies
    assert (change.change, change.old_version, change.new_version) == (
        "new version",
        date(2026, 1, 1),
        date(2027, 1, 1),
    )


def test_policy_added_and_removed(sides) -> None:
    old, new = sides
    (new / "acme-2025.tos").unlink()
    edit(new / "acme-2026.tos", "policy acme-terms {", "policy acme-terms-v2 {")
    result = run([old], [new], as_of=AS_OF)
    changes = {(p.policy, p.change) for p in result.policies}
    assert changes == {("acme-terms", "removed"), ("acme-terms-v2", "added")}


def test_manifests_show_whose_findings_change(sides) -> None:
    old, new = sides
    edit(
        new / "acme-2026.tos",
        "    when     trains_on_output\n",
        '    when     trains_on_output and model.purpose == "code"\n',
    )
    result = run([old], [new], manifests=[DEMO / "demo.yaml"], as_of=AS_OF)
    (manifest,) = result.manifests
    assert manifest.changed
    changed = {(r.clause, r.subject): (r.old, r.new) for r in manifest.results}
    # no agreement is declared, so none waives the clause (claims must be declared)
    assert changed[("acme-terms/competing-models", "/sources/0")] == (
        ["violated"],
        ["violated", "satisfied"],
    )
    text = render_text(result)
    assert "acme-terms/competing-models /sources/0: violated → violated, satisfied" in text
    assert "1 of 1 manifest affected" in text


def test_word_diff() -> None:
    assert word_diff("a b c", "a b c") == "a b c"
    assert word_diff("a b c", "a x c") == "a [-b-]{+x+} c"
    long = " ".join(f"w{i}" for i in range(40))
    assert word_diff(long + " end", long + " fin").startswith("… w34")


def test_invalid_side_raises_policy_error(sides) -> None:
    old, new = sides
    edit(new / "acme-2026.tos", "effective 2026-01-01", "efective 2026-01-01")
    with pytest.raises(PolicyError):
        run([old], [new], as_of=AS_OF)


def test_cli_exit_codes_and_json(sides) -> None:
    old, new = sides

    def diff(*args: str):
        result = subprocess.run(
            [sys.executable, "-m", "tosguard", "diff", *args],
            cwd=ROOT,
            capture_output=True,
            timeout=120,
        )
        assert b"Traceback" not in result.stderr, result.stderr.decode()
        return result

    assert diff(str(old), str(new)).returncode == 0
    edit(
        new / "acme-2026.tos",
        "    when     trains_on_output\n",
        '    when     trains_on_output and model.purpose == "code"\n',
    )
    changed = diff(
        str(old),
        str(new),
        "--manifests",
        str(DEMO / "demo.yaml"),
        str(DEMO / "demo.yaml"),
        "--as-of",
        "2026-06-01",
        "--format",
        "json",
    )
    assert changed.returncode == 1
    data = json.loads(changed.stdout)
    assert data["changed"] and len(data["manifests"]) == 2
    assert data["policies"][0]["clauses"][0]["clause"] == "competing-models"
    assert diff(str(old), "no/such/dir").returncode == 2
    assert diff(str(old), str(new), "stray.yaml").returncode == 2
