"""Lake I/O from Python: formats, locations (local and S3), Delta comments, idempotent writes, quarantine."""

from __future__ import annotations

import json
import os

import deltalake
import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import carelake
from carelake import exceptions
from conftest import read_delta


def _people(n: int = 3) -> pa.Table:
    return pa.table(
        {
            "source_system": ["ehr"] * n,
            "source_record_id": [str(i) for i in range(n)],
            "first_name": ["Ann"] * n,
            "last_name": ["Lee"] * n,
            "birth_date": ["1970-03-05"] * n,
            "updated_at": ["2026-01-01T00:00:00Z"] * n,
        }
    )


def test_each_format_reads_back(tmp_path) -> None:
    people = _people()
    pq.write_table(people, tmp_path / "p_file.parquet")
    (tmp_path / "p_dir").mkdir()
    pq.write_table(people, tmp_path / "p_dir" / "part-0.parquet")
    pq.write_table(people, tmp_path / "p_dir" / "part-1.parquet")
    pacsv.write_csv(people, tmp_path / "p_csv.csv")
    deltalake.write_deltalake(tmp_path / "p_delta", people)
    for name, rows in [("p_file", 3), ("p_dir", 6), ("p_csv", 3), ("p_delta", 3)]:
        assert pa.table(carelake.read_table(str(tmp_path), name)).num_rows == rows, name


def test_delta_write_has_comments_cdf_and_is_idempotent(tmp_path) -> None:
    schema = pa.schema([pa.field("member_id", pa.string(), metadata={"comment": "the member"})])
    data = pa.table({"member_id": ["a", "b"]}, schema=schema)
    target = str(tmp_path / "members")
    first = carelake.write_delta(target, data, comment="Members", run_key="run-1")
    again = carelake.write_delta(target, data, comment="Members", run_key="run-1")
    assert not first["already_committed"] and again["already_committed"]
    assert again["version"] == first["version"]
    table = deltalake.DeltaTable(target)
    assert read_delta(target).num_rows == 2
    assert table.metadata().description == "Members"
    assert table.metadata().configuration["delta.enableChangeDataFeed"] == "true"
    assert table.schema().fields[0].metadata["comment"] == "the member"
    carelake.write_delta(target, data, mode="append", run_key="run-2")
    assert read_delta(target).num_rows == 4


def test_conform_quarantines_malformed_rows_with_reasons() -> None:
    data = _people(4).set_column(4, "birth_date", pa.array(["1970-03-05", "31/31/1970", None, "05-Mar-1970"]))
    rows, bad = carelake.conform("person_records", data)
    rows, bad = pa.table(rows), pa.table(bad)
    assert rows.num_rows == 3  # a null birth date is allowed (not a key); the garbage one is not
    assert bad.column("reason_code").to_pylist() == ["bad_date"]
    assert bad.column("row_number").to_pylist() == [1]
    assert json.loads(bad.column("record")[0].as_py())["birth_date"] == "31/31/1970"


def test_generated_lake_reads_with_deltalake_and_duckdb(small_lake) -> None:
    events = deltalake.DeltaTable(small_lake / "clinical_events")
    assert "coded clinical fact" in events.metadata().description
    files = events.file_uris()
    n = duckdb.sql(f"select count(*) from read_parquet({files!r})").fetchall()[0][0]
    assert n == pa.table(carelake.read_table(str(small_lake), "clinical_events")).num_rows > 0


def test_ingest_counts_and_quarantines(small_lake, tmp_path) -> None:
    report = carelake.ingest(str(small_lake), str(tmp_path), as_of="2026-11-23")
    by_table = {t["table"]: t for t in report["tables"]}
    assert set(by_table) == {"person_records", "enrollment", "clinical_events", "appointments", "consents", "communications"}
    for t in report["tables"]:
        assert t["rows_ok"] + sum(t["quarantined"].values()) == t["rows_read"]
    quarantine = read_delta(tmp_path / "quarantine")
    assert quarantine.num_rows == sum(sum(t["quarantined"].values()) for t in report["tables"])
    runs = read_delta(tmp_path / "runs").to_pylist()
    assert [r["run_id"] for r in runs] == [report["run_id"]]
    assert carelake.ingest(str(small_lake), str(tmp_path), as_of="2026-11-23")["already_recorded"]
    assert read_delta(tmp_path / "runs").num_rows == 1


def test_ingest_with_column_mapping_from_csv(tmp_path) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    source = _people(2).rename_columns(["SRC", "ID", "FNAME", "LNAME", "DOB", "CHANGED"])
    pacsv.write_csv(source, lake / "members.csv")
    columns = {"source_system": "SRC", "source_record_id": "ID", "first_name": "FNAME", "last_name": "LNAME", "birth_date": "DOB", "updated_at": "CHANGED"}
    report = carelake.ingest(str(lake), str(tmp_path / "out"), sources={"person_records": (str(lake / "members.csv"), columns)})
    assert report["tables"][0]["rows_ok"] == 2
    with pytest.raises(exceptions.SchemaError, match="person_records.*source_system"):
        carelake.ingest(str(lake), str(tmp_path / "out2"), sources={"person_records": (str(lake / "members.csv"), {})})


@pytest.mark.s3
def test_s3_read_write_and_pipeline(s3_bucket, tmp_path) -> None:
    boto3 = pytest.importorskip("boto3")
    base = f"s3://{s3_bucket}"
    people = _people(5)
    # Delta written by carelake to S3, read back by carelake.
    carelake.write_delta(f"{base}/lake/people_delta", people, comment="people", run_key="r1")
    assert carelake.write_delta(f"{base}/lake/people_delta", people, run_key="r1")["already_committed"]
    assert pa.table(carelake.read_table(f"{base}/lake", "people_delta")).num_rows == 5
    # Parquet and CSV objects uploaded by another tool.
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT"])
    pq.write_table(people, tmp_path / "x.parquet")
    pacsv.write_csv(people, tmp_path / "x.csv")
    client.upload_file(str(tmp_path / "x.parquet"), s3_bucket, "lake/people_parquet.parquet")
    client.upload_file(str(tmp_path / "x.csv"), s3_bucket, "lake/people_csv.csv")
    assert pa.table(carelake.read_table(f"{base}/lake", "people_parquet")).num_rows == 5
    assert pa.table(carelake.read_table(f"{base}/lake/people_csv.csv")).num_rows == 5
    # The whole first stage on object storage: generate into S3, ingest from S3 into S3.
    carelake.generate(f"{base}/synth", 150, seed=3, as_of="2026-11-23")
    report = carelake.ingest(f"{base}/synth", f"{base}/out", as_of="2026-11-23")
    assert report["tables"][0]["rows_read"] > 150
    assert pa.table(carelake.read_table(f"{base}/out", "runs")).num_rows == 1
    # Identity and care gaps on object storage (clinical events read selectively by byte ranges) give what
    # they give on local disk for the same lake.
    local = tmp_path / "local"
    carelake.generate(str(local / "synth"), 150, seed=3, as_of="2026-11-23")
    reports = []
    for root in (base, str(local)):
        carelake.identity(f"{root}/synth/person_records", f"{root}/out", as_of="2026-11-23")
        reports.append(carelake.caregaps(f"{root}/synth", f"{root}/out", as_of="2026-11-23"))
    remote, on_disk = reports
    assert remote["events_matched"] > 0 and remote["rows"] > 0
    for key in ("members", "events_read", "events_matched", "rows", "rates", "quarantined"):
        assert remote[key] == on_disk[key], key
