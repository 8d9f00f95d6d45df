"""Type stubs for the Rust extension module ``carelake._native``."""

from collections.abc import Callable, Mapping
from os import PathLike
from typing import Any, Protocol, TypedDict

__version__: str

class ArrowStreamExportable(Protocol):
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

class _ArrowStreamResult(ArrowStreamExportable, Protocol):
    def __arrow_c_schema__(self) -> object: ...

ProgressCallback = Callable[[str, str, int], object]

class CarelakeError(Exception): ...
class SchemaError(CarelakeError): ...
class ConfigError(CarelakeError): ...
class InputError(CarelakeError): ...
class ConflictError(CarelakeError): ...
class StorageError(CarelakeError): ...
class InternalError(CarelakeError): ...

class GeneratedTable(TypedDict):
    table: str
    location: str
    rows: int

class GenerateSummary(TypedDict):
    tables: list[GeneratedTable]
    seconds: float
    already_present: bool
    as_of: str

class TableCheck(TypedDict):
    table: str
    location: str | None
    rows_read: int
    rows_ok: int
    quarantined: dict[str, int]

class IngestReport(TypedDict):
    run_id: str
    quarantine_location: str
    runs_location: str
    already_recorded: bool
    tables: list[TableCheck]

class WriteOutcome(TypedDict):
    version: int
    rows: int
    files: int
    already_committed: bool

class ConfigCheck(TypedDict):
    lake: str
    output: str
    as_of: str | None
    inputs: dict[str, str | None]

def read_table(uri: str, table: str | None = None) -> _ArrowStreamResult: ...
def write_delta(
    uri: str,
    data: ArrowStreamExportable,
    mode: str = "overwrite",
    comment: str | None = None,
    run_key: str | None = None,
) -> WriteOutcome: ...
def conform(
    table: str, data: ArrowStreamExportable, columns: Mapping[str, str] | None = None
) -> tuple[_ArrowStreamResult, _ArrowStreamResult]: ...
def generate(
    out: str,
    members: int,
    seed: int = 42,
    as_of: str | None = None,
    progress: ProgressCallback | None = None,
) -> GenerateSummary: ...
def ingest(
    lake: str,
    output: str,
    as_of: str | None = None,
    sources: Mapping[str, tuple[str | None, Mapping[str, str]]] | None = None,
    progress: ProgressCallback | None = None,
) -> IngestReport: ...
def validate_config(path: str | PathLike[str], check_sources: bool = True) -> ConfigCheck: ...
