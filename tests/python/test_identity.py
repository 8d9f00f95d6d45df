"""Identity resolution from Python: outputs with explanations, accuracy, stable ids across runs, model reuse."""

from __future__ import annotations

import json

import deltalake
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import carelake
from carelake import exceptions
from conftest import assert_in_member_id_order, read_delta


@pytest.fixture(scope="module")
def resolved(small_lake, tmp_path_factory):
    out = tmp_path_factory.mktemp("identity")
    report = carelake.identity(str(small_lake / "person_records"), str(out), as_of="2026-11-23")
    return out, report


def test_outputs_cover_every_record_and_explain_links(small_lake, resolved) -> None:
    out, report = resolved
    records = pa.table(carelake.read_table(str(small_lake), "person_records"))
    xref = read_delta(out / "identity_xref")
    assert xref.num_rows == records.num_rows == report["records"]
    assert pc.count_distinct(xref["member_id"]).as_py() == report["members"]
    links = deltalake.DeltaTable(out / "identity_links")
    fields = {f.name: f for f in links.schema().fields}
    for name in ["first_name_level", "first_name_weight", "birth_date_weight", "location_level", "match_weight"]:
        assert fields[name].metadata.get("comment"), name
    table = read_delta(out / "identity_links")
    # The match weight is the sum of the comparison weights plus the prior: the explanation adds up.
    weights = [c for c in table.column_names if c.endswith("_weight") and c != "match_weight"]
    row = table.slice(0, 1).to_pylist()[0]
    prior = row["match_weight"] - sum(row[c] or 0.0 for c in weights)
    model = json.loads((out / "identity_model.json").read_text())
    import math

    assert abs(prior - math.log2(model["prior"] / (1 - model["prior"]))) < 1e-3
    assert {r["rule"] for r in report["blocking"]} >= {"ssn", "birth_date+last_soundex"}


def test_accuracy_against_ground_truth(small_lake, resolved) -> None:
    out, _ = resolved
    scores = carelake.evaluate_identity(str(out), str(small_lake / "truth_person_records"))
    assert scores["pairwise"]["f1"] > 0.95
    assert scores["cluster"]["f1"] > 0.97


def test_rerun_changes_nothing_and_ids_stay_stable(small_lake, resolved, tmp_path) -> None:
    out, report = resolved
    again = carelake.identity(str(small_lake / "person_records"), str(out), as_of="2026-11-23")
    assert again["run_id"] == report["run_id"]
    changes = read_delta(out / "identity_changes")
    assert set(changes["change"].to_pylist()) == {"new"}

    # A later extract without a tenth of the records: every remaining record keeps its member id.
    records = pa.table(carelake.read_table(str(small_lake), "person_records"))
    later = records.filter(pc.not_equal(pc.utf8_slice_codeunits(records["source_record_id"], 12, 13), "7"))
    deltalake.write_deltalake(tmp_path / "later", later)
    carelake.identity(str(tmp_path / "later"), str(tmp_path / "out"), previous=str(out / "identity_xref"), as_of="2026-11-24")
    before = read_delta(out / "identity_xref").select(["source_record_id", "member_id"])
    after = read_delta(tmp_path / "out" / "identity_xref").select(["source_record_id", "member_id"])
    joined = after.join(before, "source_record_id", right_suffix="_before")
    kept = pc.sum(pc.equal(joined["member_id"], joined["member_id_before"])).as_py()
    assert kept / joined.num_rows > 0.99


def test_a_saved_model_is_reused(small_lake, resolved, tmp_path) -> None:
    out, _ = resolved
    report = carelake.identity(str(small_lake / "person_records"), str(tmp_path), model=str(out / "identity_model.json"))
    assert report["members"] > 0
    bad = tmp_path / "bad_model.json"
    bad.write_text('{"format": 99}')
    with pytest.raises(exceptions.ConfigError):
        carelake.identity(str(small_lake / "person_records"), str(tmp_path / "x"), model=str(bad))


def test_bad_settings_and_inputs_are_clear_errors(small_lake, tmp_path) -> None:
    with pytest.raises(exceptions.ConfigError, match="identity settings"):
        carelake.identity(str(small_lake / "person_records"), str(tmp_path), settings={"blockng": {}})
    one = pa.table(
        {
            "source_system": ["ehr"],
            "source_record_id": ["1"],
            "first_name": ["Ann"],
            "last_name": ["Lee"],
            "birth_date": ["1970-01-01"],
            "updated_at": ["2026-01-01T00:00:00Z"],
        }
    )
    deltalake.write_deltalake(tmp_path / "one", one)
    with pytest.raises(exceptions.InputError, match="at least two"):
        carelake.identity(str(tmp_path / "one"), str(tmp_path / "out"))


def test_member_profile_is_one_golden_record_per_member(small_lake, resolved) -> None:
    out, report = resolved
    profile = deltalake.DeltaTable(out / "member_profile")
    assert all(f.metadata.get("comment") for f in profile.schema().fields)
    table = read_delta(out / "member_profile")
    assert table.num_rows == report["members"]
    assert pc.count_distinct(table["member_id"]).as_py() == table.num_rows
    assert "ssn" not in table.column_names  # only the last four digits: minimum necessary
    last4 = [v for v in table["ssn_last4"].to_pylist() if v is not None]
    assert last4 and all(len(v) == 4 and v.isdigit() for v in last4)
    zones = table["time_zone"].to_pylist()
    assert sum(z is not None for z in zones) / len(zones) > 0.95
    assert all(p is None or p.startswith("+1") for p in table["phone"].to_pylist())
    assert pc.sum(table["record_count"]).as_py() == report["records"] - report["quarantined"]
    ages = [a for a in table["age"].to_pylist() if a is not None]
    assert 0 <= min(ages) and max(ages) < 110
    # In member_id order, as identity_changes: a member's look-up reads only the row groups that can hold it.
    assert_in_member_id_order(out / "member_profile")
    assert_in_member_id_order(out / "identity_changes")


def _profiles_of(tmp_path, names: list[tuple[str, str]], **columns: list) -> tuple[dict, dict]:
    """Resolve one ehr record per (first, last) name with these further columns (as of 2026-11-23): the report,
    and each member's profile by first name (the names differ, so each record is its own member)."""
    n = len(names)
    people = pa.table(
        {
            "source_system": ["ehr"] * n,
            "source_record_id": [str(i) for i in range(n)],
            "first_name": [first for first, _ in names],
            "last_name": [last for _, last in names],
            "updated_at": ["2026-01-01T00:00:00Z"] * n,
            **columns,
        }
    )
    deltalake.write_deltalake(tmp_path / "people", people)
    report = carelake.identity(str(tmp_path / "people"), str(tmp_path / "out"), as_of="2026-11-23")
    profiles = {r["first_name"]: r for r in read_delta(tmp_path / "out" / "member_profile").to_pylist()}
    return report, profiles


def test_a_birth_date_after_the_as_of_date_is_not_the_members(tmp_path) -> None:
    """A member whose only birth date is after the as-of date has no birth date and no age (never a negative
    age); the as-of date itself is a birth date a member can have."""
    report, profiles = _profiles_of(
        tmp_path, [("Ann", "Lee"), ("Bob", "Ray"), ("Cy", "Doe")], birth_date=["2030-05-05", "2026-11-23", "1970-01-01"]
    )
    assert report["members"] == 3 and report["quarantined"] == 0
    assert (profiles["Ann"]["birth_date"], profiles["Ann"]["age"]) == (None, None)
    assert (str(profiles["Bob"]["birth_date"]), profiles["Bob"]["age"]) == ("2026-11-23", 0)
    assert profiles["Cy"]["age"] == 56


def test_a_member_without_a_street_address_is_still_placed_by_state_and_zip(tmp_path) -> None:
    """Quiet hours need a time zone: a record with a state and ZIP but no street gives one (and the state's
    rules), without claiming a mailing address; a street address, when there is one, is taken whole."""
    _, profiles = _profiles_of(
        tmp_path,
        [("Di", "Fox"), ("Ed", "Kim"), ("Flo", "Ng")],
        birth_date=["1980-01-01", "1981-01-01", "1982-01-01"],
        address_line1=[None, "5 Pine", None],
        city=["Peoria", "Miami", None],
        state=["IL", "FL", None],
        postal_code=["61602-1234", "33101", None],
    )
    place = ("address_line1", "city", "state", "postal_code", "time_zone", "has_mailing_address")
    assert [profiles["Di"][k] for k in place] == [None, "Peoria", "IL", "61602", "America/Chicago", False]
    assert [profiles["Ed"][k] for k in place] == ["5 Pine", "Miami", "FL", "33101", "America/New_York", True]
    assert [profiles["Flo"][k] for k in place] == [None, None, None, None, None, False]
