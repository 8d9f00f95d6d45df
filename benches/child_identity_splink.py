"""Benchmark child: Splink 5 on DuckDB over the same synthetic lake, scored the same way. Args: LAKE.

Splink expects standardized columns, so the cleaning a Splink user writes first (lower-casing, digits-only
phones and SSNs, ZIP5) runs in DuckDB and is timed as part of Splink's run, as carelake's normalizers are part
of its run. The model follows Splink's documented recipe: prior from deterministic rules, u from random sampling
(10M pairs, as in the reference measurement), m by EM on two blocking rules; predictions at p >= 0.5, clusters
at 0.9 (carelake clusters at 0.9 too).
"""

import logging
import sys
import time

import deltalake
import duckdb
import pyarrow.parquet as pq
import splink.comparison_library as cl
from _child import peak_rss_gib, report
from splink import Linker, SettingsCreator, block_on
from splink.backends.duckdb import DuckDBAPI

lake = sys.argv[1]
# File by file: pyarrow's dataset scanner can abort the interpreter at exit (apache/arrow#34314).
records = pq.read_table(deltalake.DeltaTable(f"{lake}/person_records").file_uris())
truth = pq.read_table(deltalake.DeltaTable(f"{lake}/truth_person_records").file_uris())

started = time.perf_counter()
con = duckdb.connect()
con.register("records_arrow", records)
con.execute(
    """
    create table people as select
        source_system || ':' || source_record_id as unique_id,
        nullif(lower(trim(split_part(first_name, ' ', 1))), '') as first_name,
        nullif(lower(trim(last_name)), '') as surname,
        strftime(birth_date, '%Y-%m-%d') as dob,
        case upper(left(trim(coalesce(sex, '')), 1)) when 'F' then 'f' when 'M' then 'm' end as sex,
        nullif(regexp_replace(coalesce(ssn, ''), '[^0-9]', '', 'g'), '') as ssn,
        nullif(right(regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g'), 10), '') as phone,
        nullif(lower(trim(email)), '') as email,
        nullif(left(regexp_replace(coalesce(postal_code, ''), '[^0-9]', '', 'g'), 5), '') as postcode,
        nullif(lower(trim(address_line1)), '') as address,
        nullif(upper(trim(member_number)), '') as member_number
    from records_arrow
    """
)
settings = SettingsCreator(
    link_type="dedupe_only",
    comparisons=[
        cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("dob", input_is_string=True),
        cl.ExactMatch("sex"),
        cl.LevenshteinAtThresholds("ssn", [1]),
        cl.ExactMatch("phone"),
        cl.EmailComparison("email"),
        cl.ExactMatch("postcode"),
        cl.JaroWinklerAtThresholds("address", [0.9]),
        cl.ExactMatch("member_number"),
    ],
    blocking_rules_to_generate_predictions=[
        block_on("ssn"),
        block_on("member_number"),
        block_on("dob", "surname"),
        block_on("dob", "first_name"),
        block_on("phone"),
        block_on("email"),
        block_on("postcode", "surname"),
    ],
)
db_api = DuckDBAPI(connection=con)
linker = Linker(db_api.register(con.table("people")), settings, log_level=logging.WARNING)
linker.training.estimate_probability_two_random_records_match(
    [block_on("ssn", "dob"), block_on("first_name", "surname", "dob")], recall=0.7
)
linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "surname"))
linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
predictions = linker.inference.predict(threshold_match_probability=0.5)
clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.9)
con.execute(f"create table pairs as select unique_id_l, unique_id_r, match_probability from {predictions.physical_name}")
con.execute(f"create table clustered as select unique_id, cluster_id from {clusters.physical_name}")
seconds = time.perf_counter() - started
# The peak of the run itself; scoring against the truth below joins tables of its own.
run_peak = peak_rss_gib()

con.register("truth_arrow", truth)
con.execute("create table truth as select source_system || ':' || source_record_id as unique_id, person_id from truth_arrow")


def f1(tp: float, predicted: float, actual: float) -> float:
    p = tp / predicted if predicted else 1.0
    r = tp / actual if actual else 1.0
    return 2 * p * r / (p + r) if p + r else 0.0


actual = con.execute("select sum(n * (n - 1) / 2) from (select count(*) n from truth group by person_id)").fetchall()[0][0]
pairwise = {}
for threshold in (0.5, 0.9):
    tp, predicted = con.execute(
        f"""
        select count(*) filter (where a.person_id = b.person_id), count(*)
        from pairs p join truth a on a.unique_id = p.unique_id_l join truth b on b.unique_id = p.unique_id_r
        where p.match_probability >= {threshold}
        """
    ).fetchall()[0]
    pairwise[threshold] = f1(tp, predicted, actual)
tp, predicted = con.execute(
    """
    with c as (select c.cluster_id, t.person_id from clustered c join truth t using (unique_id))
    select (select sum(n * (n - 1) / 2) from (select count(*) n from c group by cluster_id, person_id)),
           (select sum(n * (n - 1) / 2) from (select count(*) n from c group by cluster_id))
    """
).fetchall()[0]
report(
    {
        "seconds": seconds,
        "records": records.num_rows,
        "pairwise_f1": max(pairwise.values()),
        "pairwise_f1_at_0.5": pairwise[0.5],
        "pairwise_f1_at_0.9": pairwise[0.9],
        "cluster_f1": f1(tp, predicted, actual),
        "run_peak_rss_gib": run_peak,
    }
)
