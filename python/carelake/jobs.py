"""Entry points for Databricks ``python_wheel_task`` jobs (and any scheduler): one per stage, one for the whole
pipeline.

Every entry point takes the job parameters ``--config`` (the pipeline YAML, e.g. on a Unity Catalog volume),
``--as-of``, ``--catalog`` and ``--schema`` (where the output tables are registered), ``--dry-run`` and ``--engine``
(identity resolution on the native engine or spread over the job's Spark cluster). Stages write Delta under the
config's ``output`` (a volume or external location); with a Spark
session available (as in a Databricks job), each output table is then registered in ``catalog.schema`` so SQL users
and Genie see it with its comments. Exit codes follow the command line: 0 ok, 2 bad input or config, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from carelake import api
from carelake._progress import ProgressReporter, log, log_error, setup_logging
from carelake.exceptions import CarelakeError, ConfigError, InputError, SchemaError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from carelake._native import AudienceReport, CareGapsReport, IdentityReport, IngestReport

USER_ERRORS = (SchemaError, ConfigError, InputError)

STAGE_TABLES = {
    "identity": ["identity_xref", "member_profile", "identity_links", "identity_changes"],
    "caregaps": ["care_gaps", "measure_rates"],
    "audiences": ["audience_members", "audience_events", "suppressions", "sync_runs"],
}


def _parser(stage: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"carelake-{stage}-job", description=f"carelake {stage} job")
    p.add_argument("--config", required=True, help="pipeline YAML file")
    p.add_argument("--as-of", default=None, help="as-of date (default: the config's, else today)")
    p.add_argument("--catalog", default=None, help="Unity Catalog catalog to register the outputs in")
    p.add_argument("--schema", default=None, help="schema to register the outputs in")
    p.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    p.add_argument(
        "--engine",
        choices=["native", "spark"],
        default="native",
        help="native (one process) or spark (the kernels on Spark executors, audience SQL as Spark SQL; same outputs)",
    )
    return p


def register_tables(output: str, tables: list[str], catalog: str | None, schema: str | None) -> list[str]:
    """Register Delta outputs as external tables in ``catalog.schema`` when a Spark session is available.

    Returns the names registered (none without Spark or without catalog and schema).
    """
    if not (catalog and schema):
        return []
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        log("register.skipped", reason="no pyspark in this environment")
        return []
    spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
    done = []
    for table in tables:
        location = f"{output.rstrip('/')}/{table}"
        name = f"`{catalog}`.`{schema}`.`{table}`"
        spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING DELTA LOCATION '{location}'")
        done.append(f"{catalog}.{schema}.{table}")
    return done


def report_error(error: CarelakeError, prefix: str) -> int:
    """Log and print an error; return its exit code (2 for bad input or config, 1 otherwise)."""
    log_error("error", kind=type(error).__name__, message=str(error))
    print(f"{prefix}: {error}", file=sys.stderr)
    return 2 if isinstance(error, USER_ERRORS) else 1


def identity_stage(checked: dict, as_of: str | None, engine: str = "native") -> tuple[IngestReport, IdentityReport]:
    """Ingest every input of a checked config, then resolve its person_records (with the config's mapping) on
    the native engine or on Spark (same outputs)."""
    # Every table is read where the file puts it (`sources.<table>.uri`), with its column mapping.
    ingested = api.ingest(
        checked["lake"], checked["output"], as_of=as_of, sources=checked["sources"], progress=ProgressReporter("tables")
    )
    records = next(t["location"] for t in ingested["tables"] if t["table"] == "person_records")
    options = {
        "as_of": as_of,
        "progress": ProgressReporter("steps"),
        "columns": checked["columns"]["person_records"],
    }
    if engine == "spark":
        from carelake import spark as carelake_spark

        resolved = carelake_spark.identity(carelake_spark.get_session(), records, checked["output"], **options)
    else:
        resolved = api.identity(records, checked["output"], **options)
    return ingested, resolved


def caregaps_stage(checked: dict, as_of: str | None, engine: str = "native") -> CareGapsReport:
    """The care-gap stage of a checked config (its ``caregaps`` section must be there), on either engine."""
    gaps = checked["caregaps"]
    options = {
        "value_sets": gaps["value_sets"],
        "year": gaps["year"],
        "measures_dir": gaps["measures_dir"],
        "measures": gaps["measures"] or None,
        "as_of": as_of,
        "progress": ProgressReporter("rows"),
        "sources": checked["sources"],
    }
    if engine == "spark":
        from carelake import spark as carelake_spark

        return carelake_spark.caregaps(carelake_spark.get_session(), checked["lake"], checked["output"], **options)
    return api.caregaps(checked["lake"], checked["output"], **options)


def _run(stage: str, argv: Sequence[str] | None, body: Callable[[argparse.Namespace, dict], list[str]]) -> int:
    args = _parser(stage).parse_args(argv)
    setup_logging()
    try:
        checked = api.validate_config(args.config, check_sql=args.engine == "native")
        as_of = args.as_of or checked["as_of"]
        args.as_of = as_of
        tables = body(args, checked)
        if not args.dry_run:
            registered = register_tables(checked["output"], tables, args.catalog, args.schema)
            log(f"{stage}.registered", tables=len(registered))
        return 0
    except CarelakeError as e:
        return report_error(e, f"carelake {stage}")


def _identity(args: argparse.Namespace, checked: dict) -> list[str]:
    if args.dry_run:
        return []  # validate_config has opened every input and checked its columns
    identity_stage(checked, args.as_of, args.engine)
    return STAGE_TABLES["identity"] + ["quarantine", "runs"]


def _caregaps(args: argparse.Namespace, checked: dict) -> list[str]:
    gaps = checked["caregaps"]
    if gaps is None:
        raise ConfigError(f"{args.config}: no caregaps section")
    if args.dry_run:
        return []
    caregaps_stage(checked, args.as_of, args.engine)
    return STAGE_TABLES["caregaps"]


def audiences_stage(config: str, as_of: str | None, engine: str = "native", dry_run: bool = False) -> AudienceReport:
    """The audiences of a pipeline file, their SQL run by DataFusion (native) or Spark SQL (spark)."""
    options = {"as_of": as_of, "dry_run": dry_run, "progress": ProgressReporter("audiences")}
    if engine == "spark":
        from carelake import spark as carelake_spark

        return carelake_spark.audiences(carelake_spark.get_session(), config, **options)
    return api.audiences(config, **options)


def _audiences(args: argparse.Namespace, checked: dict) -> list[str]:
    if not checked["audiences"]:
        raise ConfigError(f"{args.config}: no audiences configured")
    audiences_stage(args.config, args.as_of, args.engine, args.dry_run)
    return STAGE_TABLES["audiences"]


def identity(argv: Sequence[str] | None = None) -> int:
    """Entry point ``carelake-identity-job``: ingest and identity resolution."""
    return _run("identity", argv, _identity)


def caregaps(argv: Sequence[str] | None = None) -> int:
    """Entry point ``carelake-caregaps-job``: HEDIS-style care gaps."""
    return _run("caregaps", argv, _caregaps)


def audiences(argv: Sequence[str] | None = None) -> int:
    """Entry point ``carelake-audiences-job``: audiences and change sets."""
    return _run("audiences", argv, _audiences)


def pipeline(argv: Sequence[str] | None = None) -> int:
    """Entry point ``carelake-pipeline-job``: every configured stage in order."""

    def body(args: argparse.Namespace, checked: dict) -> list[str]:
        tables = _identity(args, checked)
        if checked["caregaps"] is not None:
            tables += _caregaps(args, checked)
        if checked["audiences"]:
            tables += _audiences(args, checked)
        return tables

    return _run("pipeline", argv, body)


if __name__ == "__main__":
    sys.exit(pipeline())
