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
    module = subprocess.run([sys.executable, "-m", "carelake", "--help"], capture_output=True, text=True, check=False)
    assert module.returncode == 0 and "usage: carelake" in module.stdout


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


def test_run_reads_each_table_where_the_file_puts_it_with_its_mapping(tmp_path, small_lake) -> None:
    """`sources.<table>.uri` and `.columns` hold for every stage of `carelake run`: person_records from a CSV with
    its own column names and clinical_events from a Parquet file elsewhere give the members and care gaps of the
    same data in the lake."""
    import shutil

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    lake, raw = tmp_path / "lake", tmp_path / "raw"
    raw.mkdir()
    for table in ("enrollment", "appointments", "consents", "communications"):
        shutil.copytree(small_lake / table, lake / table)
    renamed = {"first_name": "FNAME", "last_name": "LNAME", "birth_date": "DOB"}
    people = read_delta(small_lake / "person_records")
    pacsv.write_csv(people.rename_columns([renamed.get(c, c) for c in people.column_names]), raw / "members.csv")
    events = read_delta(small_lake / "clinical_events")
    pq.write_table(events.rename_columns(["dx_code" if c == "code" else c for c in events.column_names]), raw / "ev.parquet")
    gaps = "caregaps:\n  value_sets: [sample]\n"
    config = tmp_path / "pipeline.yml"
    config.write_text(
        f"lake: {lake}\noutput: {tmp_path / 'out'}\nas_of: 2026-11-23\n{gaps}sources:\n"
        f"  person_records:\n    uri: {raw / 'members.csv'}\n"
        "    columns: {first_name: FNAME, last_name: LNAME, birth_date: DOB}\n"
        f"  clinical_events:\n    uri: {raw / 'ev.parquet'}\n    columns: {{code: dx_code}}\n"
    )
    plain = tmp_path / "plain.yml"
    plain.write_text(f"lake: {small_lake}\noutput: {tmp_path / 'plain'}\nas_of: 2026-11-23\n{gaps}")
    for path in (config, plain):
        out = _run("run", "--config", str(path))
        assert out.returncode == 0, out.stderr

    def outcome(output: str) -> tuple[int, list]:
        statuses = read_delta(tmp_path / output / "care_gaps").group_by(["measure", "status"]).aggregate([("member_id", "count")])
        return read_delta(tmp_path / output / "member_profile").num_rows, sorted(statuses.to_pylist(), key=str)

    assert outcome("out") == outcome("plain")
    ingested = read_delta(tmp_path / "out" / "runs").to_pylist()
    assert any("members.csv" in r["inputs"] and r["stage"] == "ingest" for r in ingested)


def _validate_file(tmp_path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`carelake validate --no-sources` of a pipeline file of this text."""
    config = tmp_path / "pipeline.yml"
    config.write_text(text)
    return _run("validate", "--config", str(config), "--no-sources", *args)


def test_validate_names_every_problem_of_a_file_in_one_error_log_line(tmp_path) -> None:
    bad = """
lake: ./lake
output: ./out
destinations:
  media: {kind: ads_meta, fields: [hashed_email, measure]}
audiences:
  - {name: diabetes_outreach, sql: 'select member_id from care_gaps', purpose: marketing, channels: [ads],
     destinations: [media]}
  - {name: recall, sql: 'selec member_id', purpose: care_gaps, channels: [sms, pigeon], destinations: [fax]}
"""
    out = _validate_file(tmp_path, bad)
    assert out.returncode == 2
    logged = [line for line in out.stderr.splitlines() if " event=error " in line]
    assert len(logged) == 1 and " level=error " in logged[0], out.stderr
    assert 'message="config error: ' in logged[0] and "5 problems:\\n  - " in logged[0], logged[0]
    printed = out.stderr[out.stderr.index("carelake: config error") :]
    problems = ["field 'measure'", "contains 'diabetes'", "unknown channel 'pigeon'", "unknown destination 'fax'", "sql:"]
    for problem in problems:
        assert sum(problem in line for line in printed.splitlines()) == 1, (problem, printed)


def test_validate_plans_each_audience_sql_where_the_native_engine_runs_it(tmp_path) -> None:
    config = """
lake: ./lake
output: ./out
destinations:
  texts: {kind: sms, fields: [phone, message_topic]}
audiences:
  - {name: recall, sql: 'select member_id, measure as message_topic from care_gaps', purpose: care_gaps,
     channels: [sms], destinations: [texts]}
  - {name: topics, sql: 'select measure from care_gaps', purpose: care_gaps, channels: [sms], destinations: [texts]}
  - {name: claims, sql: 'select member_id from claims', purpose: care_gaps, channels: [sms], destinations: [texts]}
"""
    out = _validate_file(tmp_path, config)
    assert out.returncode == 2
    assert "2 problems:" in out.stderr and "audience 'recall'" not in out.stderr, out.stderr
    assert "audience 'topics': sql: the result has no member_id column" in out.stderr
    assert "audience 'claims': sql:" in out.stderr and "claims' not found" in out.stderr
    # Where Spark runs the SQL, its own planner checks it.
    out = _validate_file(tmp_path, config, "--engine", "spark")
    assert out.returncode == 0, out.stderr


def test_example_pipeline_config_is_valid() -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "jobs" / "pipeline.example.yml"
    out = _run("validate", "--config", str(example), "--no-sources")
    assert out.returncode == 0, out.stderr
    # What the audiences come to: texts for care gaps need prior express consent, email none.
    assert "sms (prior express consent), email (no prior consent needed)" in out.stdout
    assert "CAP_HEALTHCARE_1_PER_DAY" in out.stdout and "texts" in out.stdout


def test_validate_reports_what_each_audience_and_destination_comes_to(tmp_path) -> None:
    import carelake

    config = tmp_path / "pipeline.yml"
    config.write_text(
        """
lake: ./lake
output: ./out
destinations:
  texts: {kind: sms, fields: [phone, first_name]}
  media: {kind: ads_google, fields: [hashed_email]}
  small_media: {kind: ads_meta, fields: [hashed_phone], min_members: 20}
audiences:
  - {name: reminders, purpose: care_reminders, sql: select member_id from member_profile, channels: [sms],
     destinations: [texts], priority: 5}
  - {name: seasonal, purpose: marketing, sql: select member_id from member_profile, channels: [sms, ads],
     destinations: [texts, media, small_media], exclude: [reminders], holdout: 0.1}
outreach_rules:
  frequency_caps: [{rule: CAP_TEXAS_WEEKLY, max: 2, window_hours: 168, channels: [sms], states: [TX]}]
"""
    )
    checked = carelake.validate_config(config, check_sources=False)
    reminders, seasonal = checked["audiences"]
    assert reminders["name"] == "reminders" and reminders["priority"] == 5 and reminders["holdout"] == 0.0
    assert reminders["channels"] == [{"channel": "sms", "consent_basis": "prior_express"}]
    # Marketing texts need prior express written consent (TCPA); the exclusion and holdout are as written.
    assert seasonal["channels"][0] == {"channel": "sms", "consent_basis": "written"}
    assert seasonal["exclude"] == ["reminders"] and seasonal["holdout"] == 0.1 and seasonal["priority"] is None
    destinations = checked["destinations"]
    assert destinations["texts"] == {"kind": "sms", "fields": ["phone", "first_name"], "path": None, "min_members": 0}
    # Ad audiences get the platforms' least size unless the file sets another.
    assert destinations["media"]["min_members"] == 100 and destinations["small_media"]["min_members"] == 20
    caps = {c["rule"]: c for c in checked["frequency_caps"]}
    assert "CAP_HEALTHCARE_1_PER_DAY" in caps
    assert caps["CAP_TEXAS_WEEKLY"] == {
        "rule": "CAP_TEXAS_WEEKLY",
        "max": 2,
        "window_hours": 168,
        "channels": ["sms"],
        "same_subject": False,
        "states": ["TX"],
    }
    out = _run("validate", "--config", str(config), "--no-sources")
    assert out.returncode == 0, out.stderr
    assert "sms (prior express written consent)" in out.stdout
    assert "at least 20 members" in out.stdout and "excludes reminders" in out.stdout
    assert "CAP_TEXAS_WEEKLY" in out.stdout and "at most 2 per 7 days (sms) in TX" in out.stdout


def test_the_published_schema_is_printed_and_accepts_the_example_and_flags_mistakes(tmp_path) -> None:
    import json
    from pathlib import Path

    import jsonschema
    import yaml

    import carelake

    root = Path(__file__).resolve().parents[2]
    published = (root / "docs" / "pipeline.schema.json").read_text()
    out = _run("validate", "--print-schema")
    assert out.returncode == 0, out.stderr
    assert out.stdout == published
    schema = carelake.pipeline_schema()
    assert schema == json.loads(published)
    jsonschema.Draft7Validator.check_schema(schema)

    class TextDates(yaml.SafeLoader):
        """YAML 1.2 as editors read it: an ISO date is a string (PyYAML's 1.1 rules would make it a date)."""

    TextDates.yaml_implicit_resolvers = {
        k: [(tag, regexp) for tag, regexp in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    example_text = (root / "jobs" / "pipeline.example.yml").read_text()
    assert example_text.startswith("# yaml-language-server: $schema=../docs/pipeline.schema.json")
    # The example with its commented-out lines turned on (destinations, sources, caps) is valid too.
    uncommented = "\n".join(
        line.replace("# ", "", 1) if line.lstrip().startswith("# ") and ":" in line and line.startswith("  ") else line
        for line in example_text.splitlines()
    )
    validator = jsonschema.Draft7Validator(schema)
    for text in (example_text, uncommented):
        doc = yaml.load(text, Loader=TextDates)
        assert not list(validator.iter_errors(doc)), [e.message for e in validator.iter_errors(doc)]
    doc = yaml.load(example_text, Loader=TextDates)
    # Mistakes an editor now underlines, each also refused when the file is loaded.
    mistakes = [
        {**doc, "sourcez": {}},
        {**doc, "sources": {"claims": {}}},
        {**doc, "sources": {"consents": {"columns": {"contact_pt": "PHONE"}}}},
        {**doc, "destinations": {"texts": {"kind": "pager"}}},
        {**doc, "destinations": {"Texts": {"kind": "sms"}}},
        {**doc, "destinations": {"texts": {"kind": "sms", "fields": ["diagnosis"]}}},
        {**doc, "audiences": [{**doc["audiences"][0], "channels": ["fax"]}]},
        {**doc, "audiences": [{**doc["audiences"][0], "purpose": "fun"}]},
        {**doc, "audiences": [{**doc["audiences"][0], "holdout": 1.5}]},
        {**doc, "outreach_rules": {"consent_basis": {"care_gaps": {"sms": "implied"}}}},
        {**doc, "version": 2},
    ]
    from carelake.exceptions import ConfigError

    for i, bad in enumerate(mistakes):
        assert list(validator.iter_errors(bad)), bad
        path = tmp_path / f"bad{i}.yml"
        path.write_text(yaml.safe_dump(bad))
        with pytest.raises(ConfigError):
            carelake.validate_config(path, check_sources=False)


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
