"""The package: version, typing files, the exception tree, and no panics reaching Python."""

from __future__ import annotations

from importlib import resources

import pyarrow as pa
import pytest

import carelake
from carelake import exceptions


def test_version_and_typing_files() -> None:
    assert carelake.__version__.count(".") == 2
    files = resources.files("carelake")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_native.pyi").is_file()


def test_exception_tree() -> None:
    for cls in (exceptions.SchemaError, exceptions.ConfigError, exceptions.InputError, exceptions.ConflictError, exceptions.StorageError, exceptions.InternalError):
        assert issubclass(cls, exceptions.CarelakeError)


def test_missing_table_is_an_input_error(tmp_path) -> None:
    with pytest.raises(exceptions.InputError, match="person_records"):
        carelake.read_table(str(tmp_path), "person_records")


def test_bad_arguments_are_config_errors(tmp_path) -> None:
    with pytest.raises(exceptions.ConfigError, match="members"):
        carelake.generate(str(tmp_path), 0)
    with pytest.raises(exceptions.ConfigError, match="as_of"):
        carelake.generate(str(tmp_path), 5, as_of="23/11/2026")
    with pytest.raises(exceptions.ConfigError, match="scheme"):
        carelake.read_table("ftp://example/lake")
    with pytest.raises(exceptions.ConfigError, match="mode"):
        carelake.write_delta(str(tmp_path / "t"), pa.table({"a": [1]}), mode="upsert")


def test_schema_error_names_table_and_column_but_no_values() -> None:
    data = pa.table({"source_system": ["ehr"], "source_record_id": ["1"], "first_name": ["Zebediah"]})
    with pytest.raises(exceptions.SchemaError) as info:
        carelake.conform("person_records", data)
    message = str(info.value)
    assert "person_records" in message and "last_name" in message
    assert "Zebediah" not in message


def test_storage_errors_keep_their_cause(tmp_path) -> None:
    # A file where a table folder should be: the Delta write fails in storage, with the cause chained.
    blocker = tmp_path / "table"
    blocker.write_text("not a folder")
    with pytest.raises(exceptions.StorageError, match="Delta table at file://") as info:
        carelake.write_delta(str(blocker), pa.table({"a": [1]}))
    assert isinstance(info.value.__cause__, OSError)
    assert "exists" in str(info.value.__cause__)
