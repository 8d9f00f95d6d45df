"""The ``carelake`` command line.

Exit codes: 0 success, 2 bad input or configuration, 1 anything else (130 when interrupted). The same entry
point serves Databricks ``python_wheel_task`` jobs.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from carelake import __version__, _native, api
from carelake._progress import ProgressReporter, log, setup_logging
from carelake.exceptions import CarelakeError, ConfigError
from carelake.jobs import audiences_stage, caregaps_stage, identity_stage, report_error

if TYPE_CHECKING:
    from collections.abc import Sequence

    from carelake._native import AudienceReport, CareGapsReport, ConfigCheck, IdentityReport, IngestReport, RateAgreement

def _iso_date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="carelake",
        description="Patient engagement on the lakehouse: identity, HEDIS-style care gaps, audiences.",
    )
    parser.add_argument("--version", action="version", version=f"carelake {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug log lines")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="synthetic lake + whole pipeline + summary, on the native engine",
        description="Generate a synthetic lake, run every stage on the native engine, and print a summary.",
    )
    demo.add_argument("--out", default="carelake-demo", help="output folder (default: ./carelake-demo)")
    demo.add_argument("--members", type=_positive, default=10_000, help="synthetic members (default: 10000)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    demo.add_argument("--as-of", type=_iso_date, default=None, help="as-of date (default: today)")

    gen = sub.add_parser(
        "generate",
        help="synthetic canonical inputs with ground truth",
        description="Write every canonical input table as Delta, plus ground truth, deterministic for a seed.",
    )
    gen.add_argument("--out", required=True, help="lake folder or object-store prefix")
    gen.add_argument("--members", type=_positive, required=True, help="number of true people")
    gen.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    gen.add_argument("--as-of", type=_iso_date, default=None, help="as-of date (default: today)")
    gen.add_argument(
        "--visit-scale",
        type=_positive,
        default=1,
        help="multiply everyday visits: 1 gives about 10 clinical events per member, 5 about 50 (default: 1)",
    )

    ing = sub.add_parser(
        "ingest",
        help="check every canonical input and quarantine bad rows",
        description="Read each canonical input of a lake, check its schema, quarantine malformed rows, record the run.",
    )
    ing.add_argument("--lake", required=True, help="lake folder or object-store prefix")
    ing.add_argument("--out", required=True, help="where quarantine and runs tables go")
    ing.add_argument("--as-of", type=_iso_date, default=None, help="as-of date (default: today)")

    ident = sub.add_parser(
        "identity",
        help="resolve person records into stable member ids",
        description="Block, compare, train a Fellegi-Sunter model, cluster, and keep member ids stable across runs.",
    )
    ident.add_argument("--records", required=True, help="the person_records table (Delta, Parquet or CSV)")
    ident.add_argument("--out", default=None, help="where identity_xref, identity_links and identity_changes go")
    ident.add_argument(
        "--count-pairs",
        action="store_true",
        help="only count the candidate pairs per blocking rule (compares and writes nothing; --out not needed)",
    )
    ident.add_argument("--previous", default=None, help="previous identity_xref (default: the one in --out)")
    ident.add_argument("--model", default=None, help="reuse a saved identity_model.json instead of training")
    ident.add_argument("--truth", default=None, help="ground-truth table: also report precision, recall and F1")
    ident.add_argument("--as-of", type=_iso_date, default=None, help="as-of date (default: today)")

    gaps = sub.add_parser(
        "caregaps",
        help="HEDIS-style care gaps per member, measure and rate",
        description=(
            "Evaluate the HEDIS-style measures (BCS-E, COL-E, CCS-E, GSD, CBP, EED, KED, SPD and any you add) for "
            "every member: care_gaps (open, closed, excluded, not_applicable with evidence and due dates) and "
            "measure_rates. Not NCQA-certified. Value sets come from your licensed NCQA Value Set Directory."
        ),
    )
    gaps.add_argument("--lake", required=True, help="lake with enrollment and clinical_events (and person_records)")
    gaps.add_argument(
        "--value-sets",
        required=True,
        action="append",
        metavar="FILE|sample",
        help="VSD / MLD file (.xlsx or .csv), repeat for several; 'sample' = the shipped public-code sample",
    )
    gaps.add_argument("--out", required=True, help="where care_gaps and measure_rates go")
    gaps.add_argument("--year", type=int, default=None, help="measurement year (default: the as-of year)")
    gaps.add_argument("--identity", default=None, help="folder with identity_xref and member_profile (default: --out)")
    gaps.add_argument("--measures-dir", type=Path, default=None, help="folder of extra measure definition files")
    gaps.add_argument("--measure", action="append", default=None, help="run only this measure id (repeatable)")
    gaps.add_argument("--as-of", type=_iso_date, default=None, help="as-of date (default: today)")
    gaps.add_argument("--truth", action="store_true", help="synthetic lake: also report agreement with planted scenarios")

    aud = sub.add_parser(
        "audiences",
        help="audiences and change sets per outreach tool, within consent, quiet hours and caps",
        description=(
            "Run each audience's SQL over the output tables, apply consent, opt-outs, quiet hours in local time, "
            "frequency caps and channel choice, and write change sets per destination (reverse ETL)."
        ),
    )
    aud.add_argument("--config", required=True, type=Path, help="pipeline YAML file with audiences and destinations")
    aud.add_argument("--lake", default=None, help="lake (default: the config's)")
    aud.add_argument("--out", default=None, help="output folder (default: the config's)")
    aud.add_argument("--as-of", type=_iso_date, default=None, help="as-of date (default: config, else today)")
    aud.add_argument("--dry-run", action="store_true", help="show counts and a sample, write nothing")

    run = sub.add_parser(
        "run",
        help="run the whole pipeline from a config file",
        description="Run every stage configured in a pipeline file.",
    )
    run.add_argument("--config", required=True, type=Path, help="pipeline YAML file")
    run.add_argument("--as-of", type=_iso_date, default=None, help="as-of date (default: config, else today)")
    run.add_argument(
        "--engine",
        choices=["native", "spark"],
        default="native",
        help="native (one process) or spark (identity spread over Spark; needs PySpark and Java 17)",
    )
    run.add_argument("--dry-run", action="store_true", help="check the config and inputs, write nothing")

    val = sub.add_parser(
        "validate",
        help="check a pipeline config and its inputs' schemas",
        description="Parse a pipeline YAML file and check the schema of every input it names (reads no rows).",
    )
    what = val.add_mutually_exclusive_group(required=True)
    what.add_argument("--config", type=Path, help="pipeline YAML file")
    what.add_argument(
        "--print-schema",
        action="store_true",
        help="print the pipeline file's JSON Schema (for editors and linters; docs/pipeline.schema.json) and exit",
    )
    val.add_argument("--no-sources", action="store_true", help="check the file only, do not open inputs")
    val.add_argument(
        "--engine",
        choices=["native", "spark"],
        default="native",
        help="where the audience SQL will run: native plans it here (no rows read); spark leaves it to Spark's planner",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    handlers = {
        "audiences": _audiences,
        "caregaps": _caregaps,
        "demo": _demo,
        "generate": _generate,
        "identity": _identity,
        "ingest": _ingest,
        "run": _run,
        "validate": _validate,
    }
    try:
        return handlers[args.command](args)
    except CarelakeError as e:
        return report_error(e, "carelake")
    except KeyboardInterrupt:
        print("carelake: interrupted", file=sys.stderr)
        return 130


def _generate(args: argparse.Namespace) -> int:
    summary = api.generate(
        args.out,
        args.members,
        seed=args.seed,
        as_of=args.as_of,
        progress=ProgressReporter("members"),
        visit_scale=args.visit_scale,
    )
    for t in summary["tables"]:
        log("generate.table", table=t["table"], rows=t["rows"], location=t["location"])
    if summary["already_present"]:
        print(f"{args.out}: this lake (seed {args.seed}, {args.members} members) is already there; nothing rewritten.")
    else:
        _print_tables("Synthetic lake", summary["tables"])
        print(f"Generated {args.members:,} members in {summary['seconds']:.1f} s (as of {summary['as_of']}).")
    return 0


def _ingest(args: argparse.Namespace) -> int:
    report = api.ingest(args.lake, args.out, as_of=args.as_of, progress=ProgressReporter("tables"))
    _print_ingest(report)
    return 0


def _identity(args: argparse.Namespace) -> int:
    if args.count_pairs:
        counts = api.count_pairs(args.records)
        print(f"{counts['records']:,} usable person records ({counts['quarantined']:,} quarantined)")
        print(f"  {'blocking rule':<28} {'pairs':>14} {'oversized blocks':>17} {'largest block':>14}")
        for r in counts["rules"]:
            print(f"  {r['rule']:<28} {r['pairs']:>14,} {r['oversized_blocks']:>17,} {r['largest_block']:>14,}")
        print(f"  total (before removing pairs found by several rules): {sum(r['pairs'] for r in counts['rules']):,}")
        return 0
    if args.out is None:
        raise ConfigError("carelake identity needs --out (or --count-pairs)")
    report = api.identity(
        args.records,
        args.out,
        previous=args.previous,
        model=args.model,
        as_of=args.as_of,
        progress=ProgressReporter("steps"),
    )
    _print_identity(report)
    if args.truth:
        _print_evaluation(api.evaluate_identity(args.out, args.truth))
    return 0


def _caregaps(args: argparse.Namespace) -> int:
    report = api.caregaps(
        args.lake,
        args.out,
        value_sets=args.value_sets,
        year=args.year,
        identity=args.identity,
        measures_dir=args.measures_dir,
        measures=args.measure,
        as_of=args.as_of,
        progress=ProgressReporter("rows"),
    )
    _print_caregaps(report)
    if args.truth:
        _print_caregap_agreement(api.evaluate_caregaps(args.out, args.lake, identity=args.identity))
    return 0


def _audiences(args: argparse.Namespace) -> int:
    report = api.audiences(
        args.config, lake=args.lake, out=args.out, as_of=args.as_of, dry_run=args.dry_run, progress=ProgressReporter("steps")
    )
    _print_audiences(report)
    return 0


def _run(args: argparse.Namespace) -> int:
    checked = api.validate_config(args.config, check_sql=args.engine == "native")
    as_of = args.as_of or checked["as_of"]
    if args.dry_run:
        _print_config(checked)
        print("Dry run: nothing written.")
        return 0
    if args.engine == "spark":
        print("Engine: spark (identity, the care-gap event scan and audience SQL on Spark)\n")
    ingested, resolved = identity_stage(checked, as_of, args.engine)
    _print_ingest(ingested)
    print()
    _print_identity(resolved)
    if checked["caregaps"] is not None:
        print()
        _print_caregaps(caregaps_stage(checked, as_of, args.engine))
    if checked["audiences"]:
        print()
        _print_audiences(audiences_stage(str(args.config), as_of, args.engine))
    return 0


def _validate(args: argparse.Namespace) -> int:
    if args.print_schema:
        # The text the published docs/pipeline.schema.json holds, as the core writes it.
        sys.stdout.write(_native.pipeline_schema())
        return 0
    checked = api.validate_config(args.config, check_sources=not args.no_sources, check_sql=args.engine == "native")
    _print_config(checked)
    print(f"{args.config}: valid.")
    return 0


def _demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    out = Path(args.out).resolve()
    lake, output = out / "lake", out / "output"
    print(f"carelake {__version__} demo: {args.members:,} synthetic members, seed {args.seed}, native engine\n")
    summary = api.generate(
        str(lake), args.members, seed=args.seed, as_of=args.as_of, progress=ProgressReporter("members")
    )
    _print_tables(f"Synthetic lake ({lake})", summary["tables"])
    report = api.ingest(str(lake), str(output), as_of=summary["as_of"], progress=ProgressReporter("tables"))
    _print_ingest(report)
    print()
    resolved = api.identity(
        str(lake / "person_records"), str(output), as_of=summary["as_of"], progress=ProgressReporter("steps")
    )
    _print_identity(resolved)
    _print_evaluation(api.evaluate_identity(str(output), str(lake / "truth_person_records")))
    print()
    gaps = api.caregaps(
        str(lake), str(output), value_sets="sample", as_of=summary["as_of"], progress=ProgressReporter("rows")
    )
    _print_caregaps(gaps)
    _print_caregap_agreement(api.evaluate_caregaps(str(output), str(lake)))
    print()
    config = out / "pipeline.yml"
    config.write_text(_demo_config(lake, output, summary["as_of"]))
    _print_audiences(api.audiences(str(config), as_of=summary["as_of"], progress=ProgressReporter("steps")))
    print(f"  audiences and destinations: {config}")
    print("\nRead the outputs back (Delta tables with table and column comments):")
    print(f"  python -c \"import carelake, pyarrow as pa; print(pa.table(carelake.read_table('{output}', 'member_profile')))\"")
    print(
        "  python -c \"import duckdb, deltalake; "
        f"files = deltalake.DeltaTable('{lake}/clinical_events').file_uris(); "
        "print(duckdb.sql(f'select code_system, count(*) from read_parquet({files}) group by 1 order by 2 desc'))\""
    )
    print(f"\nDone in {time.monotonic() - started:.1f} s, as of {summary['as_of']}.")
    return 0


def _demo_config(lake: Path, output: Path, as_of: str) -> str:
    """The demo's pipeline file: a preventive-care recall and an appointment reminder, plus destinations."""
    return f"""# carelake demo pipeline (written by `carelake demo`)
version: 1
lake: {lake}
output: {output}
as_of: {as_of}
caregaps:
  value_sets: [sample]
destinations:
  texts: {{kind: sms, fields: [phone, first_name, preferred_language, message_topic, due_date, appointment_at]}}
  emails: {{kind: email, fields: [email, first_name, message_topic, due_date, appointment_at]}}
  calls: {{kind: voice, fields: [phone, first_name, preferred_language, appointment_at]}}
  care_team: {{kind: crm, fields: [first_name, last_name, phone, email, measure, gap_reason, due_date]}}
audiences:
  - name: preventive_recall
    purpose: care_gaps
    sql: >-
      select member_id, min(measure) as measure, 'preventive screening' as message_topic,
             min(due_date) as due_date, min(reason) as gap_reason
      from care_gaps where status = 'open' and measure in ('COL-E', 'BCS-E') group by member_id
    channels: [sms, email]
    destinations: [texts, emails, care_team]
    holdout: 0.05
  - name: appointment_reminders
    purpose: care_reminders
    priority: 10
    sql: >-
      select member_id, 'appointment' as message_topic, min(start_at) as appointment_at
      from appointments
      where status in ('booked', 'confirmed')
        and start_at >= timestamp '{as_of} 00:00:00' and start_at < timestamp '{as_of} 00:00:00' + interval '8 days'
      group by member_id
    channels: [sms, voice, email]
    destinations: [texts, calls, emails]
"""


def _print_tables(title: str, tables: list) -> None:
    print(title)
    for t in tables:
        print(f"  {t['table']:<22} {t['rows']:>12,} rows")
    print()


def _print_ingest(report: IngestReport) -> None:
    print(f"Ingest (run {report['run_id']}{', already recorded' if report['already_recorded'] else ''})")
    print(f"  {'table':<22} {'read':>12} {'usable':>12} {'quarantined':>12}  reasons")
    for t in report["tables"]:
        if t["location"] is None:
            print(f"  {t['table']:<22} {'(absent)':>12}")
            continue
        bad = sum(t["quarantined"].values())
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(t["quarantined"].items()))
        print(f"  {t['table']:<22} {t['rows_read']:>12,} {t['rows_ok']:>12,} {bad:>12,}  {reasons}")
    print(f"  quarantine: {report['quarantine_location']}")
    print(f"  run log:    {report['runs_location']}")


def _print_identity(report: IdentityReport) -> None:
    usable = report["records"] - report["quarantined"]
    print(f"Identity (run {report['run_id']})")
    print(f"  {usable:,} person records -> {report['members']:,} members")
    print(f"  {report['candidate_pairs']:,} candidate pairs compared, {report['links']:,} links")
    changes = ", ".join(f"{k} {v:,}" for k, v in sorted(report["changes"].items())) or "none"
    print(f"  member id changes: {changes}")
    oversized = [r for r in report["blocking"] if r["oversized_blocks"]]
    for r in oversized:
        print(f"  blocking rule {r['rule']}: {r['oversized_blocks']:,} oversized blocks skipped")
    print(f"  outputs: {report['output']}/identity_xref, member_profile, identity_links, identity_changes, identity_model.json")


def _print_evaluation(evaluation: dict) -> None:
    p, c = evaluation["pairwise"], evaluation["cluster"]
    print(
        f"  accuracy vs ground truth: pairwise F1 {p['f1']:.4f} (precision {p['precision']:.4f}, recall {p['recall']:.4f}); "
        f"cluster F1 {c['f1']:.4f}"
    )


def _print_caregaps(report: CareGapsReport) -> None:
    print(f"Care gaps, HEDIS-style, not NCQA-certified (run {report['run_id']}, measurement year {report['year']})")
    files = ", ".join(f"{f['origin']} ({f['rows']:,} codes)" for f in report["value_set_files"])
    print(f"  value sets: {files}")
    print(
        f"  {report['members']:,} members (from {report['members_from']}); "
        f"{report['events_matched']:,} of {report['events_read']:,} events in a measure's value set"
    )
    print(f"  {'measure.rate':<26} {'in band':>9} {'n/a':>8} {'excluded':>9} {'closed':>8} {'open':>8} {'rate':>7}")
    for r in report["rates"]:
        rate = "-" if r["rate_value"] is None else f"{r['rate_value']:.1%}"
        mark = "" if r["higher_is_better"] else " (inverse: lower is better)"
        print(
            f"  {r['measure'] + '.' + r['rate']:<26} {r['eligible']:>9,} {r['not_applicable']:>8,} "
            f"{r['excluded']:>9,} {r['closed']:>8,} {r['open']:>8,} {rate:>7}{mark}"
        )
    if report["quarantined"]:
        reasons = ", ".join(f"{k} {v:,}" for k, v in report["quarantined"].items())
        print(f"  quarantined: {reasons}")
    for key in ("members_without_birth_date", "members_without_sex"):
        if report[key]:
            print(f"  {key.replace('_', ' ')}: {report[key]:,}")
    print(f"  outputs: {report['output']}/care_gaps, measure_rates")


def _print_caregap_agreement(agreement: dict[str, RateAgreement]) -> None:
    compared = sum(a["compared"] for a in agreement.values())
    agreed = sum(a["agreed"] for a in agreement.values())
    share = agreed / compared if compared else 1.0
    worst = sorted(agreement.items(), key=lambda kv: kv[1]["accuracy"])[:3]
    detail = ", ".join(f"{k} {a['accuracy']:.3f}" for k, a in worst)
    print(f"  agreement with planted scenarios: {agreed:,} of {compared:,} rows ({share:.2%}); lowest: {detail}")


def _print_audiences(report: AudienceReport) -> None:
    title = "Audiences (dry run: nothing written)" if report["dry_run"] else f"Audiences (run {report['run_id']})"
    print(title)
    for a in report["audiences"]:
        rules = sorted(a["suppressed"].items(), key=lambda kv: -kv[1])[:3]
        why = ", ".join(f"{k} {v:,}" for k, v in rules) or "none"
        print(f"  {a['name']:<24} selected {a['selected']:>8,}  kept {a['members']:>8,}  suppressed: {why}")
        if a["without_member_id"]:
            print(f"    {a['without_member_id']:,} result rows had a null member_id: they name nobody, so were skipped")
        for dest, (ups, dels) in sorted(a["changes"].items()):
            print(f"    -> {dest:<20} {ups:>8,} upserts {dels:>8,} deletes")
        for dest, members in sorted(a["below_minimum"].items()):
            print(f"    -> {dest:<20} held back: {members:,} members, fewer than its min_members (nobody added)")
    for audience, member, channel, start in report["sample"]:
        if not channel:
            when = "suppressed"
        elif start:
            when = f"{channel}, window opens {start}"
        else:
            when = f"{channel}, any time (no quiet hours apply to this channel)"
        print(f"  sample: {audience} {member} {when}")
    if report["quarantined"]:
        reasons = ", ".join(f"{k} {v:,}" for k, v in report["quarantined"].items())
        print(f"  quarantined engagement rows: {reasons}")
    if not report["dry_run"]:
        print(
            f"  outputs: {report['output']}/audience_members, audience_events, suppressions, sync_runs, "
            "outreach_<destination>"
        )


def _print_config(checked: ConfigCheck) -> None:
    print(f"lake:   {checked['lake']}")
    print(f"output: {checked['output']}")
    print(f"as_of:  {checked['as_of'] or 'today'}")
    for table, found in checked["inputs"].items():
        print(f"  {table:<22} {found if found else '(absent)'}")
    gaps = checked["caregaps"]
    if gaps is not None:
        measures = ", ".join(gaps["measures"]) or "all defined"
        extra = f" (and the definitions in {gaps['measures_dir']})" if gaps["measures_dir"] else ""
        as_of_year = f"{checked['as_of'][:4]} (the as-of year)" if checked["as_of"] else "the as-of year"
        year = gaps["year"] or as_of_year
        print(f"care gaps: value sets {', '.join(gaps['value_sets'])}; measures {measures}{extra}; measurement year {year}")
    if checked["audiences"]:
        print(f"audiences ({len(checked['audiences'])}):")
    for a in checked["audiences"]:
        # Each channel with the least consent the purpose needs on it.
        channels = ", ".join(f"{c['channel']} ({_CONSENT_NEEDED[c['consent_basis']]})" for c in a["channels"])
        extras = [f"holdout {a['holdout']:.0%}"] if a["holdout"] else []
        if a["priority"] is not None:
            extras.append(f"priority {a['priority']}")
        if a["exclude"]:
            extras.append(f"excludes {', '.join(a['exclude'])}")
        print(f"  {a['name']:<24} {a['purpose']:<15} channels {channels}" + (f"; {'; '.join(extras)}" if extras else ""))
        print(f"    -> {', '.join(a['destinations'])}")
    if checked["destinations"]:
        print(f"destinations ({len(checked['destinations'])}):")
    for name, d in checked["destinations"].items():
        limits = f"; at least {d['min_members']:,} members" if d["min_members"] else ""
        where = f"; writes to {d['path']}" if d["path"] else ""
        print(f"  {name:<24} {d['kind']:<10} fields {', '.join(d['fields']) or '(none)'}{limits}{where}")
    if checked["audiences"]:
        print("frequency caps:")
        for c in checked["frequency_caps"]:
            hours = c["window_hours"]
            window = f"{hours // 24} days" if hours > 24 and hours % 24 == 0 else f"{hours} h"
            scope = ", ".join(c["channels"]) + (" on one subject" if c["same_subject"] else "")
            where = f" in {', '.join(c['states'])}" if c["states"] else ""
            print(f"  {c['rule']:<36} at most {c['max']} per {window} ({scope}){where}")


# How `carelake validate` words the least consent basis a purpose needs on a channel.
_CONSENT_NEEDED = {
    "none": "no prior consent needed",
    "prior_express": "prior express consent",
    "written": "prior express written consent",
}


if __name__ == "__main__":
    sys.exit(main())
