"""carelake: a composable patient-engagement engine for the lakehouse.

Identity resolution, HEDIS-style care gaps and compliant outreach audiences, computed where the patient data
already lives (Delta tables on local disk or object storage, or Spark on Databricks).
"""

from carelake import exceptions
from carelake._native import __version__
from carelake.api import (
    audiences,
    caregaps,
    conform,
    count_pairs,
    evaluate_caregaps,
    evaluate_identity,
    generate,
    identity,
    ingest,
    measure_definitions,
    pipeline_schema,
    read_table,
    sample_value_sets,
    validate_config,
    write_delta,
)

__all__ = [
    "__version__",
    "audiences",
    "caregaps",
    "conform",
    "count_pairs",
    "evaluate_caregaps",
    "evaluate_identity",
    "exceptions",
    "generate",
    "identity",
    "ingest",
    "measure_definitions",
    "pipeline_schema",
    "read_table",
    "sample_value_sets",
    "validate_config",
    "write_delta",
]
