"""The Spark engine on local PySpark (local[2]): its outputs equal the native engine's, row for row."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import carelake
from carelake import spark as carelake_spark

from conftest import AS_OF, read_delta

IDENTITY_TABLES = ["identity_xref", "identity_links", "identity_changes", "member_profile"]


@pytest.fixture(scope="module")
def spark():
    session = carelake_spark.get_session("local[2]", shuffle_partitions=4)
    yield session
    session.stop()


def _rows(table: pa.Table) -> list[tuple]:
    """Rows without the run id (it names the engine's input), in a stable order."""
    kept = table.drop_columns([c for c in table.column_names if c == "run_id"])
    return sorted(kept.to_pylist(), key=lambda r: tuple(str(v) for v in r.values()))


def test_identity_on_spark_equals_native(spark, small_lake: Path, tmp_path: Path) -> None:
    records = str(small_lake / "person_records")
    native = carelake.identity(records, str(tmp_path / "native"), as_of=AS_OF)
    on_spark = carelake_spark.identity(spark, records, str(tmp_path / "spark"), as_of=AS_OF)
    for key in ("records", "quarantined", "members", "candidate_pairs", "links", "changes", "blocking"):
        assert on_spark[key] == native[key], key
    assert native["candidate_pairs"] > 0 and native["members"] < native["records"]
    for table in IDENTITY_TABLES:
        a = read_delta(tmp_path / "native" / table)
        b = read_delta(tmp_path / "spark" / table)
        assert a.schema == b.schema, table
        assert _rows(a) == _rows(b), table
    # With the model given, the executors score the pairs and send only possible links, and with no links
    # allowed on the driver they also cluster them, component by component: same tables again. A size cap of
    # 3 makes the guards refuse links, so their decisions are compared too.
    model = str(tmp_path / "native" / "identity_model.json")
    settings = {"clustering": {"driver_max_links": 0, "max_cluster_size": 3}}
    again = carelake.identity(records, str(tmp_path / "native_model"), model=model, settings=settings, as_of=AS_OF)
    scored = carelake_spark.identity(
        spark, records, str(tmp_path / "spark_model"), model=model, settings=settings, as_of=AS_OF
    )
    assert "spark_cluster" in dict(scored["phase_seconds"])
    assert again["refused_links"].get("max_cluster_size", 0) > 0
    for key in ("members", "candidate_pairs", "links", "blocking", "refused_links"):
        assert scored[key] == again[key], key
    for table in IDENTITY_TABLES:
        a = read_delta(tmp_path / "native_model" / table)
        b = read_delta(tmp_path / "spark_model" / table)
        assert _rows(a) == _rows(b), table


def test_connected_components_point_every_node_at_its_smallest(spark) -> None:
    from carelake.spark.components import connected_components

    # A chain in scrambled key order (label propagation would need as many rounds as it is long), a star, a
    # duplicated edge, a self-loop and a lone pair.
    chain = [f"c{i:02d}" for i in (7, 3, 12, 0, 9, 15, 1, 4, 11, 6, 14, 2, 10, 8, 13, 5)]
    edges = list(zip(chain, chain[1:]))
    edges += [("s0", f"s{i}") for i in range(1, 6)] + [("s3", "s0"), ("s4", "s4"), ("p1", "p0")]
    frame = spark.createDataFrame(edges, "src string, dst string")
    components, rounds = connected_components(frame)
    found = {r["node"]: r["component"] for r in components.collect()}
    assert found == {**{n: "c00" for n in chain}, **{f"s{i}": "s0" for i in range(6)}, "p0": "p0", "p1": "p0"}
    assert 0 < rounds < len(chain)


def test_spark_identity_keeps_member_ids_and_quarantines_like_native(spark, small_lake: Path, tmp_path: Path) -> None:
    # A record without its id is quarantined by the driver, counted, not lost; a copy under a new id joins its
    # twin's member.
    rows = read_delta(small_lake / "person_records")
    schema = pa.schema([f.with_nullable(True) for f in rows.schema])
    extra = rows.slice(0, 2).to_pylist()
    extra[0]["source_record_id"] = None
    extra[1]["source_record_id"] = "spark-test-copy"
    added = pa.Table.from_pylist(extra, schema=schema)
    frame = spark.createDataFrame(pa.concat_tables([rows.cast(schema), added]))
    out = str(tmp_path / "out")
    first = carelake_spark.identity(spark, frame, out, as_of=AS_OF)
    assert first["quarantined"] == 1 and first["records"] == rows.num_rows + 2
    second = carelake_spark.identity(spark, frame, out, as_of=AS_OF)
    assert second["changes"] == {} and second["members"] == first["members"]
    xref = {
        (r["source_system"], r["source_record_id"]): r["member_id"]
        for r in read_delta(Path(out) / "identity_xref").to_pylist()
    }
    twin = (extra[1]["source_system"], rows.column("source_record_id")[1].as_py())
    assert xref[(extra[1]["source_system"], "spark-test-copy")] == xref[twin]
    quarantine = read_delta(Path(out) / "quarantine")
    # Audience SQL runs as Spark SQL; a broken query is a config error naming the audience, not a crash.
    config = tmp_path / "broken.yml"
    config.write_text(
        f"lake: {tmp_path}\noutput: {out}\naudiences:\n  - name: broken\n    purpose: care_gaps\n"
        "    sql: select nothing from nowhere\n    channels: [sms]\n    destinations: [texts]\n"
        "destinations:\n  texts: {kind: sms, fields: [phone]}\n"
    )
    with pytest.raises(carelake.exceptions.ConfigError, match="audience 'broken'"):
        carelake_spark.audiences(spark, config, as_of=AS_OF)
    # The rerun is the same run (same input, settings and as-of date): its quarantine rows are not appended twice.
    assert quarantine.num_rows == 1 and quarantine.column("reason")[0].as_py()


AUDIENCES = """
destinations:
  texts: {{kind: sms, fields: [phone, first_name, message_topic, due_date]}}
  seasonal_media: {{kind: ads_meta, fields: [hashed_email, hashed_phone], min_members: 10}}
audiences:
  - name: preventive_recall
    purpose: care_gaps
    sql: >-
      select member_id, 'screening' as message_topic, min(due_date) as due_date
      from care_gaps where status = 'open' group by member_id
    channels: [sms]
    destinations: [texts]
  - name: upcoming_visits
    purpose: care_reminders
    sql: >-
      select member_id, 'appointment' as message_topic from appointments
      where status in ('booked', 'confirmed') group by member_id
    channels: [sms]
    destinations: [texts]
    priority: 2
  - name: seasonal_outreach
    purpose: marketing
    sql: select member_id from member_profile
    channels: [ads]
    destinations: [seasonal_media]
    exclude: [preventive_recall]
"""

# Columns that name the run or the moment it ran, not what it computed.
RUN_COLUMNS = {"run_id", "emitted_at", "started_at", "finished_at"}


def test_pipeline_run_with_the_spark_engine_equals_native(small_lake: Path, tmp_path: Path) -> None:
    """``carelake run --engine spark`` end to end (its own local Spark), against a native run of the lake. The Spark
    run's file places person_records in a CSV file with its own column names, and clinical_events and
    appointments (which an audience's SQL reads) in Parquet files elsewhere, as a data engineer maps sources:
    each stage reads them there, under their canonical names."""
    import subprocess
    import sys

    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    import shutil

    raw, lakes = tmp_path / "raw", {"native": small_lake, "spark": tmp_path / "lake"}
    raw.mkdir()
    for table in ("enrollment", "consents", "communications"):
        shutil.copytree(small_lake / table, lakes["spark"] / table)
    people = read_delta(small_lake / "person_records")
    pacsv.write_csv(people.rename_columns([{"last_name": "LNAME"}.get(c, c) for c in people.column_names]), raw / "p.csv")
    events = read_delta(small_lake / "clinical_events")
    pq.write_table(events.rename_columns(["dx_code" if c == "code" else c for c in events.column_names]), raw / "e.parquet")
    # The booking system writes statuses in capitals: both engines read them as the canonical spelling.
    visits = read_delta(small_lake / "appointments")
    visits = visits.set_column(visits.column_names.index("status"), "appt_status", pc.utf8_upper(visits["status"]))
    pq.write_table(visits, raw / "a.parquet")
    placed = {
        "native": "",
        "spark": f"sources:\n  person_records:\n    uri: {raw / 'p.csv'}\n    columns: {{last_name: LNAME}}\n"
        f"  clinical_events:\n    uri: {raw / 'e.parquet'}\n    columns: {{code: dx_code}}\n"
        f"  appointments:\n    uri: {raw / 'a.parquet'}\n    columns: {{status: appt_status}}\n",
    }
    outputs = {}
    for engine in ("native", "spark"):
        config = tmp_path / f"{engine}.yml"
        config.write_text(
            f"lake: {lakes[engine]}\noutput: {tmp_path / engine}\nas_of: {AS_OF}\ncaregaps:\n  value_sets: [sample]\n"
            + placed[engine]
            + AUDIENCES.format()
        )
        run = subprocess.run(
            [sys.executable, "-m", "carelake.cli", "run", "--config", str(config), "--engine", engine],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        outputs[engine] = run.stdout
    assert "Engine: spark" in outputs["spark"]
    runs = {r["stage"]: r["inputs"] for r in read_delta(tmp_path / "spark" / "runs").to_pylist()}
    assert '"engine":"spark"' in runs["identity"].replace(" ", "")
    assert '"engine":"spark"' in runs["caregaps"].replace(" ", "")
    tables = ["identity_xref", "member_profile", "care_gaps", "measure_rates"]
    tables += ["audience_members", "suppressions", "outreach_texts", "outreach_seasonal_media", "sync_runs"]
    for table in tables:
        a, b = read_delta(tmp_path / "native" / table), read_delta(tmp_path / "spark" / table)
        a = a.drop_columns([c for c in a.column_names if c in RUN_COLUMNS])
        b = b.drop_columns([c for c in b.column_names if c in RUN_COLUMNS])
        assert a.num_rows > 0, table
        assert _rows(a) == _rows(b), table


def test_audience_views_are_conformed_as_the_native_engine_conforms_them(spark) -> None:
    """A mapped source column is found exactly, else ignoring case, and takes its canonical name; a column already
    named like a mapped canonical column gives way; an enumeration's spelling is the canonical one; a row that
    fails to conform is left out of the view (the native stage quarantines it)."""
    from carelake.spark.audiences import _conformed

    frame = spark.createDataFrame(
        [("A1", "ehr", "R1", "2026-11-30 09:00:00", "BOOKED", "old"), ("A2", "ehr", "R2", "someday", "booked", "old")],
        ["appointment_id", "source_system", "source_record_id", "start_at", "Appt_Status", "status"],
    )
    view = _conformed(frame, "appointments", {"status": "APPT_STATUS"})
    rows = [r.asDict() for r in view.collect()]
    assert [(r["appointment_id"], r["status"]) for r in rows] == [("A1", "booked")]
    assert "Appt_Status" not in view.columns and "member_id" in view.columns


def test_spark_audience_sql_over_a_missing_table_names_the_tables_there(spark, small_lake: Path, tmp_path: Path) -> None:
    import shutil

    from carelake.exceptions import ConfigError

    lake, out = tmp_path / "lake", tmp_path / "out"
    for table in ("person_records", "consents", "communications"):
        shutil.copytree(small_lake / table, lake / table)
    carelake.identity(str(lake / "person_records"), str(out), as_of=AS_OF)
    config = tmp_path / "visits.yml"
    config.write_text(
        f"lake: {lake}\noutput: {out}\nas_of: {AS_OF}\n"
        "destinations:\n  texts: {kind: sms, fields: [phone]}\n"
        "audiences:\n  - name: upcoming_visits\n    purpose: care_reminders\n"
        "    sql: select member_id from appointments\n    channels: [sms]\n    destinations: [texts]\n"
    )
    with pytest.raises(ConfigError) as error:
        carelake_spark.audiences(spark, config)
    message = str(error.value)
    assert "audience 'upcoming_visits'" in message and "TABLE_OR_VIEW_NOT_FOUND" in message
    assert "the tables there are: member_profile, communications, consents" in message


def test_a_csv_separated_by_semicolons_or_tabs_is_read_as_the_native_engine_reads_it(spark, tmp_path: Path) -> None:
    for name, text in (("semi.csv", "source_system;source_record_id\nehr;1\n"), ("tabs.csv", "a\tb\nx, y\tz\n")):
        (tmp_path / name).write_text(text)
        frame = carelake_spark.read_lake_table(spark, str(tmp_path / name))
        assert len(frame.columns) == 2, name
        assert len(pa.table(carelake.read_table(str(tmp_path / name))).column_names) == 2, name
