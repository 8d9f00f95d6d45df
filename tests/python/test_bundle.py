"""The Databricks bundle, the job entry points and the SQL assets, checked offline."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import carelake.jobs
from conftest import AS_OF

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT.parent / "shared" / "databricks" / "validate_bundle.py"


def _jobs() -> dict:
    return yaml.safe_load((ROOT / "bundles" / "resources" / "jobs.yml").read_text())["resources"]["jobs"]


@pytest.mark.skipif(not VALIDATOR.exists(), reason="../shared/databricks is not beside this clone")
def test_bundle_passes_the_offline_validator() -> None:
    out = subprocess.run(
        [sys.executable, str(VALIDATOR), str(ROOT / "bundles" / "databricks.yml")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_jobs_load_as_typed_databricks_bundle_classes() -> None:
    from databricks.bundles.jobs import Job

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name, spec in _jobs().items():
        job = Job.from_dict(spec)
        assert job.tasks, name
        for task in spec["tasks"]:
            wheel = task.get("python_wheel_task")
            if wheel:
                module, func = scripts[wheel["entry_point"]].split(":")
                assert module == "carelake.jobs" and callable(getattr(carelake.jobs, func))
    nightly = _jobs()["carelake_nightly"]
    after = {t["task_key"]: {d["task_key"] for d in t.get("depends_on", [])} for t in nightly["tasks"]}
    assert after == {
        "identity": set(),
        "caregaps": {"identity"},
        "audiences": {"caregaps"},
        "metric_views": {"caregaps"},
        "governance": {"audiences", "metric_views"},
    }
    classic = _jobs()["carelake_nightly_classic"]["tasks"][0]["python_wheel_task"]["parameters"]
    assert classic[-2:] == ["--engine", "spark"]


def test_dashboard_and_genie_space() -> None:
    import json

    from databricks.bundles.dashboards import Dashboard
    from databricks.bundles.genie_spaces import GenieSpace

    analytics = yaml.safe_load((ROOT / "bundles" / "resources" / "analytics.yml").read_text())["resources"]
    (spec,) = analytics["dashboards"].values()
    Dashboard.from_dict(spec)
    dashboard = json.loads((ROOT / "bundles" / "resources" / spec["file_path"]).read_text())
    datasets = {d["name"]: "".join(d["queryLines"]) for d in dashboard["datasets"]}
    widgets = [item["widget"] for page in dashboard["pages"] for item in page["layout"]]
    assert {"gap_rates", "audience_sizes", "outreach_funnel", "suppressions_by_rule"} <= set(datasets)
    for widget in widgets:
        for query in widget["queries"]:
            assert query["query"]["datasetName"] in datasets, widget["name"]
            names = {f["name"] for f in query["query"]["fields"]}
            for encoding in widget["spec"]["encodings"].values():
                fields = encoding if isinstance(encoding, list) else [encoding]
                for field in fields:
                    assert field["fieldName"] in names, widget["name"]
    for sql in datasets.values():
        assert sql.count("(") == sql.count(")") and "SELECT" in sql
    (genie,) = analytics["genie_spaces"].values()
    GenieSpace.from_dict(genie)
    space = genie["serialized_space"]
    tables = [t["identifier"].rsplit(".", 1)[-1] for t in space["data_sources"]["tables"]]
    assert "care_gaps" in tables and space["config"]["sample_questions"]
    assert "certified" in "".join(space["instructions"]["text_instructions"][0]["content"])


def test_metric_view_sql() -> None:
    text = (ROOT / "jobs" / "sql" / "metric_views.sql").read_text()
    assert "WITH METRICS" in text and "LANGUAGE YAML" in text
    definition = yaml.safe_load(text.split("$$")[1])
    assert definition["source"] == "measure_rates"
    assert {m["name"] for m in definition["measures"]} >= {"closure_rate", "open_gaps", "denominator"}


def test_governance_sql_statements() -> None:
    text = (ROOT / "jobs" / "sql" / "governance.sql").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    statements = [s.strip() for s in body.split(";") if s.strip()]
    assert len(statements) >= 6
    for s in statements:
        assert s.split()[0] in {"CREATE", "ALTER", "GRANT"}, s[:40]
        assert s.count("(") == s.count(")"), s[:60]


def test_entry_points_run_and_fail_clearly(small_lake, tmp_path) -> None:
    config = tmp_path / "pipeline.yml"
    config.write_text(
        f"lake: {small_lake}\noutput: {tmp_path / 'out'}\nas_of: {AS_OF}\ncaregaps:\n  value_sets: [sample]\n"
    )
    assert carelake.jobs.pipeline(["--config", str(config), "--dry-run"]) == 0
    assert not (tmp_path / "out").exists()
    assert carelake.jobs.pipeline(["--config", str(config)]) == 0
    assert (tmp_path / "out" / "care_gaps").exists()
    assert carelake.jobs.audiences(["--config", str(config)]) == 2  # no audiences configured
    assert carelake.jobs.caregaps(["--config", str(tmp_path / "missing.yml")]) == 2
