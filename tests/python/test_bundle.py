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
    order = [t["task_key"] for t in nightly["tasks"]]
    assert order == ["identity", "caregaps", "audiences", "governance"]
    assert all(t["depends_on"][0]["task_key"] == order[i] for i, t in enumerate(nightly["tasks"][1:]))


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
