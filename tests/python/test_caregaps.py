"""Care gaps from Python and the command line: outputs, value-set files (csv and xlsx), new measures as files,
and clear errors for bad value sets and definitions."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import duckdb
import pytest

import carelake
from carelake.exceptions import ConfigError, InputError

from conftest import AS_OF, assert_in_member_id_order, read_delta


@pytest.fixture(scope="module")
def resolved(small_lake, tmp_path_factory):
    """The small lake after identity resolution: (lake, output folder)."""
    out = tmp_path_factory.mktemp("resolved")
    carelake.identity(str(small_lake / "person_records"), str(out), as_of=AS_OF)
    return small_lake, out


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "carelake.cli", *args], capture_output=True, text=True, check=False)


def test_caregaps_writes_care_gaps_and_rates(resolved) -> None:
    lake, out = resolved
    report = carelake.caregaps(str(lake), str(out), as_of=AS_OF)
    assert report["members_from"] == "identity"
    assert report["value_set_files"][0]["origin"] == "sample"
    assert len(report["value_set_files"][0]["sha256"]) == 64
    assert {r["measure"] for r in report["rates"]} == {"BCS-E", "COL-E", "CCS-E", "GSD", "CBP", "EED", "KED", "SPD"}
    gaps = read_delta(out / "care_gaps")
    assert gaps.num_rows == report["rows"]
    assert set(gaps.column("status").to_pylist()) <= {"open", "closed", "excluded", "not_applicable"}
    # Genie and SQL users see a description on the table and a comment on every column.
    import deltalake

    table = deltalake.DeltaTable(out / "care_gaps")
    assert "not NCQA-certified" in table.metadata().description
    assert all(f.metadata.get("comment") for f in table.schema().fields)
    files = deltalake.DeltaTable(out / "measure_rates").file_uris()
    rows = duckdb.sql(
        f"select measure, rate, sum(denominator), sum(numerator) from read_parquet({files}) "
        "where stratum = 'all' group by all order by all"
    ).fetchall()
    assert len(rows) == 10
    agreement = carelake.evaluate_caregaps(str(out), str(lake))
    compared = sum(a["compared"] for a in agreement.values())
    agreed = sum(a["agreed"] for a in agreement.values())
    assert compared > 100 and agreed / compared > 0.97
    # member_profile is written in member_id order and care_gaps follows it: a member's look-up reads only the
    # files and row groups whose member_id range holds it.
    assert_in_member_id_order(out / "member_profile")
    assert_in_member_id_order(out / "care_gaps")


def test_xlsx_value_set_directory(resolved, tmp_path) -> None:
    """A workbook laid out like NCQA's VSD: a title row above the header, an extra sheet, numeric code cells."""
    openpyxl = pytest.importorskip("openpyxl")
    lake, _ = resolved
    book = openpyxl.Workbook()
    index = book.active
    index.title = "Measures to Value Sets"
    index.append(["Measure ID", "Measure Name", "Value Set Name", "Value Set OID"])
    index.append(["COL-E", "Colorectal Cancer Screening", "Colonoscopy", "1.2.3"])
    sheet = book.create_sheet("Value Sets to Codes")
    sheet.append(["HEDIS MY 2026 sample (public codes)"])
    rows = list(csv.reader(io.StringIO(carelake.sample_value_sets())))
    header = rows[0]
    sheet.append(header)
    code_at = header.index("Code")
    for row in rows[1:]:
        cells: list[object] = list(row)
        if cells[code_at].isdigit() and not cells[code_at].startswith("0"):
            cells[code_at] = int(cells[code_at])  # as Excel stores plain numbers
        sheet.append(cells)
    path = tmp_path / "HEDIS MY 2026 Volume 2 Value Set Directory.xlsx"
    book.save(path)
    out = tmp_path / "out"
    report = carelake.caregaps(str(lake), str(out), value_sets=str(path), identity=str(resolved[1]), as_of=AS_OF)
    sample = carelake.caregaps(str(lake), str(tmp_path / "sample"), identity=str(resolved[1]), as_of=AS_OF)
    assert report["value_set_files"][0]["rows"] == sample["value_set_files"][0]["rows"]
    assert [r["closed"] for r in report["rates"]] == [r["closed"] for r in sample["rates"]]


def test_a_new_measure_is_a_new_file(resolved, tmp_path) -> None:
    lake, out = resolved
    text = carelake.measure_definitions()["COL-E.yaml"]
    text = text.replace("id: COL-E", "id: COL-X").replace("name: Colorectal Cancer Screening", "name: Colonoscopy only")
    start = text.index("      numerator:")
    text = text[:start] + "      numerator: {events: [Colonoscopy], from: 'MP-9:01-01', arm: colonoscopy}\n"
    folder = tmp_path / "measures"
    folder.mkdir()
    (folder / "COL-X.yaml").write_text(text)
    report = carelake.caregaps(
        str(lake), str(tmp_path / "x"), identity=str(out), measures_dir=folder, measures=["COL-X", "COL-E"], as_of=AS_OF
    )
    by = {r["measure"]: r for r in report["rates"]}
    assert set(by) == {"COL-X", "COL-E"}
    assert by["COL-X"]["eligible"] == by["COL-E"]["eligible"]
    assert by["COL-X"]["closed"] <= by["COL-E"]["closed"]


def test_bad_value_sets_and_definitions_are_clear_errors(resolved, tmp_path) -> None:
    lake, out = resolved
    bad = tmp_path / "vsd.csv"
    bad.write_text("Value Set Name,Code\nMammography,77067\n")
    with pytest.raises(InputError, match=r"vsd\.csv.*Code System"):
        carelake.caregaps(str(lake), str(tmp_path / "o"), value_sets=str(bad), identity=str(out), as_of=AS_OF)
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "mine.yaml").write_text(
        "measure:\n  id: MINE\n  name: Mine\n  population:\n    age: [18, 75]\n    product_lines: [commercial]\n"
        "    enrollment: {from: 'MP:01-01'}\n  rates:\n    - id: total\n      numerator: {events: [No Such Set]}\n"
    )
    with pytest.raises(ConfigError, match=r"mine\.yaml: rates\[0\]\.numerator\.events\[0\]: value set 'No Such Set'"):
        carelake.caregaps(str(lake), str(tmp_path / "o"), identity=str(out), measures_dir=folder, as_of=AS_OF)


def test_caregaps_command(resolved, tmp_path) -> None:
    lake, out = resolved
    done = _cli(
        "caregaps", "--lake", str(lake), "--value-sets", "sample", "--year", "2026", "--out", str(tmp_path / "o"),
        "--identity", str(out), "--as-of", AS_OF, "--truth",
    )
    assert done.returncode == 0, done.stderr
    assert "COL-E.total" in done.stdout and "agreement with planted scenarios" in done.stdout
    missing = _cli("caregaps", "--lake", str(lake), "--value-sets", str(tmp_path / "none.xlsx"), "--out", str(tmp_path / "p"))
    assert missing.returncode == 2
    assert "none.xlsx" in missing.stderr
    future = _cli("caregaps", "--lake", str(lake), "--value-sets", "sample", "--year", "2030", "--out", str(tmp_path / "q"))
    assert future.returncode == 2 and "measurement year 2030" in future.stderr
