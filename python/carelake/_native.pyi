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
# Per input table: an explicit location (None: the lake's) and {canonical column: source column}.
Sources = Mapping[str, tuple[str | None, Mapping[str, str]]]

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

class CareGapsSettings(TypedDict):
    value_sets: list[str]
    measures: list[str]
    measures_dir: str | None
    year: int | None

class AudienceChannel(TypedDict):
    channel: str
    consent_basis: str

class AudiencePlan(TypedDict):
    name: str
    purpose: str
    channels: list[AudienceChannel]
    destinations: list[str]
    exclude: list[str]
    priority: int | None
    holdout: float

class DestinationPlan(TypedDict):
    kind: str
    fields: list[str]
    path: str | None
    min_members: int

class FrequencyCapPlan(TypedDict):
    rule: str
    max: int
    window_hours: int
    channels: list[str]
    same_subject: bool
    states: list[str]

class ConfigCheck(TypedDict):
    lake: str
    output: str
    as_of: str | None
    inputs: dict[str, str | None]
    columns: dict[str, dict[str, str]]
    sources: dict[str, tuple[str | None, dict[str, str]]]
    caregaps: CareGapsSettings | None
    audiences: list[AudiencePlan]
    destinations: dict[str, DestinationPlan]
    frequency_caps: list[FrequencyCapPlan]

class BlockingRuleReport(TypedDict):
    rule: str
    pairs: int
    new_pairs: int
    oversized_blocks: int
    records_in_oversized_blocks: int
    largest_block: int

class IdentityReport(TypedDict):
    run_id: str
    records: int
    quarantined: int
    members: int
    candidate_pairs: int
    links: int
    changes: dict[str, int]
    refused_links: dict[str, int]
    output: str
    blocking: list[BlockingRuleReport]
    phase_seconds: list[tuple[str, float]]

class Scores(TypedDict):
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int

class IdentityEvaluation(TypedDict):
    pairwise: Scores
    cluster: Scores

class RateSummary(TypedDict):
    measure: str
    rate: str
    eligible: int
    not_applicable: int
    excluded: int
    closed: int
    open: int
    rate_value: float | None
    higher_is_better: bool

class ValueSetFileInfo(TypedDict):
    origin: str
    sha256: str
    rows: int
    versions: list[str]

class CareGapsReport(TypedDict):
    run_id: str
    year: int
    members_from: str
    members: int
    events_read: int
    events_matched: int
    enrollment_read: int
    members_without_birth_date: int
    members_without_sex: int
    rows: int
    quarantined: dict[str, int]
    output: str
    phase_seconds: list[tuple[str, float]]
    rates: list[RateSummary]
    value_set_files: list[ValueSetFileInfo]

class RateAgreement(TypedDict):
    compared: int
    agreed: int
    accuracy: float
    not_applicable: int
    missing: int
    unplanted: int

class AudienceSummary(TypedDict):
    name: str
    selected: int
    without_member_id: int
    members: int
    suppressed: dict[str, int]
    changes: dict[str, tuple[int, int]]
    below_minimum: dict[str, int]

class AudienceReport(TypedDict):
    run_id: str
    dry_run: bool
    output: str
    audiences: list[AudienceSummary]
    sample: list[tuple[str, str, str, str | None]]
    quarantined: dict[str, int]
    phase_seconds: list[tuple[str, float]]

def audiences(
    config: str | PathLike[str],
    lake: str | None = None,
    out: str | None = None,
    as_of: str | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    selected: list[ArrowStreamExportable] | None = None,
) -> AudienceReport: ...
def audience_queries(config: str | PathLike[str]) -> list[tuple[str, str]]:
    """The audiences of a pipeline file as (name, sql), in order."""

def caregaps(
    lake: str,
    out: str,
    value_sets: list[str],
    year: int | None = None,
    identity: str | None = None,
    measures_dir: str | PathLike[str] | None = None,
    measures: list[str] | None = None,
    as_of: str | None = None,
    progress: ProgressCallback | None = None,
    sources: Sources | None = None,
) -> CareGapsReport: ...
def evaluate_caregaps(out: str, lake: str, identity: str | None = None) -> dict[str, RateAgreement]: ...
def sample_value_sets() -> str: ...
def measure_definitions() -> dict[str, str]: ...
def identity(
    records: str,
    out: str,
    previous: str | None = None,
    model: str | None = None,
    settings: str | None = None,
    as_of: str | None = None,
    progress: ProgressCallback | None = None,
    columns: Mapping[str, str] | None = None,
) -> IdentityReport: ...
def evaluate_identity(out: str, truth: str) -> IdentityEvaluation: ...

class RulePairCount(TypedDict):
    rule: str
    pairs: int
    oversized_blocks: int
    records_in_oversized_blocks: int
    largest_block: int

class PairCounts(TypedDict):
    records: int
    quarantined: int
    rules: list[RulePairCount]

def count_pairs(
    records: str, settings: str | None = None, columns: Mapping[str, str] | None = None
) -> PairCounts: ...
def identity_prepare_batch(batch: Any, columns: Mapping[str, str] | None = None) -> Any:
    """Conform and normalize one pyarrow RecordBatch of person_records (Spark engine kernel)."""

def identity_prepared_columns() -> list[tuple[str, str]]:
    """The prepared columns the identity kernels exchange, as (name, Spark SQL type)."""

def identity_blocking_keys(batch: Any, settings: str | None = None) -> Any:
    """Blocking keys (rule, block_key, record_key) of one batch of prepared records (Spark engine kernel)."""

def identity_blocking_rules(settings: str | None = None) -> list[tuple[str, int]]:
    """The blocking rules as (name, block-size cap), in priority order."""

def identity_compare_batch(batch: Any, model: str | None = None, settings: str | None = None) -> Any:
    """Packed comparison vectors of one batch of candidate pairs; with a model, only possible links."""

def identity_clustering(settings: str | None = None) -> tuple[float, int]:
    """The clustering threshold and the most links clustered on the Spark driver."""

def identity_cluster_components(links: ArrowStreamExportable, settings: str | None = None) -> Any:
    """Cluster whole connected components of links with the guards: cluster labels and refusals per guard."""

def identity_model_json(uri: str) -> str:
    """The JSON text of a saved identity model, checked."""

def jaro_winkler(left: Any, right: Any) -> Any:
    """Jaro-Winkler similarity of two string arrays, row by row, as a pyarrow array."""

def identity_from_pairs(
    records: ArrowStreamExportable,
    compared: ArrowStreamExportable,
    blocking: str,
    out: str,
    source: str,
    previous: str | None = None,
    model: str | None = None,
    settings: str | None = None,
    as_of: str | None = None,
    progress: ProgressCallback | None = None,
    columns: Mapping[str, str] | None = None,
    scored: int | None = None,
    cluster_labels: ArrowStreamExportable | None = None,
) -> IdentityReport:
    """The Spark engine's driver step: train, score, cluster (unless ``cluster_labels`` are given) and write."""

def caregaps_event_filter(
    batch: Any,
    value_sets: list[str],
    measures_dir: str | None = None,
    measures: list[str] | None = None,
    columns: Mapping[str, str] | None = None,
) -> Any:
    """The rows of one raw clinical_events batch with a measure's value-set code, or a blank or unknown code (system)."""

def caregaps_from_events(
    lake: str,
    out: str,
    events: ArrowStreamExportable,
    events_read: int,
    source: str,
    value_sets: list[str],
    year: int | None = None,
    identity: str | None = None,
    measures_dir: str | None = None,
    measures: list[str] | None = None,
    as_of: str | None = None,
    progress: ProgressCallback | None = None,
    sources: Sources | None = None,
) -> CareGapsReport:
    """The Spark engine's care-gap driver step over the clinical events its executors kept."""

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
    visit_scale: int = 1,
) -> GenerateSummary: ...
def ingest(
    lake: str,
    output: str,
    as_of: str | None = None,
    sources: Sources | None = None,
    progress: ProgressCallback | None = None,
) -> IngestReport: ...
def validate_config(path: str | PathLike[str], check_sources: bool = True, check_sql: bool = True) -> ConfigCheck: ...
def pipeline_schema() -> str: ...
