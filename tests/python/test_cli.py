"""The command line: help, exit codes, the demo, generate determinism, validate."""

from __future__ import annotations

import subprocess
import sys

import deltalake
import pytest

from carelake.cli import main
from conftest import read_delta


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "carelake.cli", *args], capture_output=True, text=True, check=False)


def test_every_command_has_help() -> None:
    for command in ["demo", "generate", "ingest", "identity", "caregaps", "audiences", "run", "validate"]:
        out = _run(command, "--help")
        assert out.returncode == 0, command
        assert "usage: carelake" in out.stdout


def test_bad_arguments_exit_with_2(tmp_path) -> None:
    assert _run("generate", "--out", str(tmp_path), "--members", "0").returncode == 2
    assert _run("generate", "--out", str(tmp_path), "--members", "5", "--as-of", "2026-02-30").returncode == 2
    bad = tmp_path / "bad.yml"
    bad.write_text("lake: ./lake\noutput: ./out\nsourcez: {}\n")
    out = _run("validate", "--config", str(bad))
    assert out.returncode == 2
    assert "sourcez" in out.stderr
    missing = tmp_path / "ok.yml"
    missing.write_text(f"lake: {tmp_path / 'nolake'}\noutput: {tmp_path / 'out'}\n")
    out = _run("run", "--config", str(missing))
    assert out.returncode == 2
    assert "person_records" in out.stderr


def test_demo_writes_delta_outputs_and_a_summary(tmp_path, capsys) -> None:
    assert main(["demo", "--out", str(tmp_path / "demo"), "--members", "300", "--as-of", "2026-11-23"]) == 0
    out = capsys.readouterr().out
    assert "person_records" in out and "quarantine" in out
    assert "Care gaps, HEDIS-style, not NCQA-certified" in out and "agreement with planted scenarios" in out
    for table in [
        "lake/person_records",
        "lake/clinical_events",
        "output/quarantine",
        "output/runs",
        "output/care_gaps",
        "output/measure_rates",
    ]:
        t = deltalake.DeltaTable(tmp_path / "demo" / table)
        assert t.metadata().description
        assert all(f.metadata.get("comment") for f in t.schema().fields), table


def test_generate_is_deterministic_for_a_seed(tmp_path) -> None:
    for name in ("a", "b"):
        out = _run("generate", "--out", str(tmp_path / name), "--members", "250", "--seed", "9", "--as-of", "2026-11-23")
        assert out.returncode == 0, out.stderr
        assert "level=info event=generate.finish" in out.stderr
    for table in ["person_records", "clinical_events", "truth_person_records"]:
        a = read_delta(tmp_path / "a" / table)
        b = read_delta(tmp_path / "b" / table)
        assert a.equals(b), table


def test_run_and_validate_a_config(tmp_path, small_lake) -> None:
    config = tmp_path / "pipeline.yml"
    config.write_text(
        f"lake: {small_lake}\noutput: {tmp_path / 'out'}\nas_of: 2026-11-23\ncaregaps:\n  value_sets: [sample]\n"
    )
    out = _run("validate", "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert "person_records" in out.stdout
    assert _run("run", "--config", str(config), "--dry-run").returncode == 0
    assert not (tmp_path / "out").exists()
    out = _run("run", "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert sorted(read_delta(tmp_path / "out" / "runs")["stage"].to_pylist()) == ["caregaps", "identity", "ingest"]
    assert read_delta(tmp_path / "out" / "member_profile").num_rows > 0
    assert read_delta(tmp_path / "out" / "care_gaps").num_rows > 0
    bad = tmp_path / "bad.yml"
    bad.write_text(f"lake: {small_lake}\noutput: {tmp_path / 'o2'}\ncaregaps:\n  value_sets: [sample]\n  measures: [XYZ]\n")
    out = _run("validate", "--config", str(bad))
    assert out.returncode == 2 and "XYZ" in out.stderr


def test_example_pipeline_config_is_valid() -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "jobs" / "pipeline.example.yml"
    out = _run("validate", "--config", str(example), "--no-sources")
    assert out.returncode == 0, out.stderr


def test_identity_count_pairs_writes_nothing(tmp_path, small_lake) -> None:
    out = _run("identity", "--records", str(small_lake / "person_records"), "--count-pairs")
    assert out.returncode == 0, out.stderr
    assert "blocking rule" in out.stdout and "total" in out.stdout
    assert _run("identity", "--records", str(small_lake / "person_records")).returncode == 2


def test_identity_command_reports_accuracy(tmp_path, small_lake) -> None:
    out = _run(
        "identity",
        "--records",
        str(small_lake / "person_records"),
        "--out",
        str(tmp_path / "id"),
        "--truth",
        str(small_lake / "truth_person_records"),
    )
    assert out.returncode == 0, out.stderr
    assert "members" in out.stdout and "cluster F1" in out.stdout
    assert _run("identity", "--records", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")).returncode == 2
