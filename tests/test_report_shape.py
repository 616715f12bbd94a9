"""The report is written in one place (tosguard.report.model); the service's response models
(tosguard.service.models) describe it and must agree with it: the same keys in the same order,
no key they do not list, and every example's report valid under them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from tosguard.api import check  # noqa: E402
from tosguard.engine.library import load_library  # noqa: E402
from tosguard.manifest.model import load_manifest  # noqa: E402
from tosguard.report.model import Report  # noqa: E402
from tosguard.service import models  # noqa: E402

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.*"))
AS_OF = date(2026, 11, 22)


@pytest.fixture(scope="module")
def reports() -> list[Report]:
    library = load_library(use_cache=False)
    made = []
    for path in EXAMPLES:
        loaded = load_manifest(path)
        for include_all in (False, True):
            made.append(
                check(library, loaded, as_of=AS_OF, include_all=include_all, name=path.name)
            )
    return made


def keys(model) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def test_the_models_list_the_reports_keys_in_order(reports) -> None:
    report = next(r for r in reports if r.findings and any(f.citation for f in r.findings))
    data = report.as_dict()
    assert keys(models.Report) == list(data)
    assert keys(models.Summary) == list(data["summary"])
    assert keys(models.Listed) == list(data["summary"]["listed"])
    finding = next(f for f in data["findings"] if f["citation"] and f["policy_location"])
    assert keys(models.Finding) == list(finding)
    assert keys(models.Location) == list(finding["location"])
    assert keys(models.Citation) == list(finding["citation"])
    assert keys(models.PolicyLocation) == list(finding["policy_location"])


def test_every_example_report_is_valid_under_the_models(reports) -> None:
    notices = 0
    for report in reports:
        data = json.loads(report.to_json())
        assert data == json.loads(json.dumps(report.as_dict()))  # the JSON is as_dict's
        models.Report.model_validate(data)
        notices += sum(f["citation"] is None for f in data["findings"])
    assert notices, "no example exercised a notice (a finding without citation)"


def test_a_key_the_models_do_not_list_is_refused(reports) -> None:
    data = json.loads(reports[0].to_json())
    data["findings"] = [{**f, "extra": 1} for f in data["findings"]] or [{"extra": 1}]
    with pytest.raises(ValueError):
        models.Report.model_validate(data)
