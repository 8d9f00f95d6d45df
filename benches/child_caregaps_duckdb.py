"""Benchmark child: the COL-E and CBP logic of carelake's definitions, written as plain DuckDB SQL over the same
Parquet files (the anchor). Args: LAKE OUT (OUT holds identity_xref and member_profile).

Same rules as src/caregaps/measures/{COL-E,CBP,common}.yaml with the sample value sets: age at Dec 31, continuous
enrollment (one gap of up to 45 days per calendar year, enrolled on Dec 31), the exclusions in order, the
numerator windows, and for CBP the most recent reading day on or after the second hypertension diagnosis with the
lowest systolic and diastolic of that day. Prints status counts so the run can check both engines agree.
"""

import sys
import time

import carelake
import deltalake
import duckdb
from _child import report

lake, out = sys.argv[1], sys.argv[2]
MP_START, MP_END, AS_OF = "DATE '2026-01-01'", "DATE '2026-12-31'", "DATE '2026-11-23'"


def files(path: str) -> str:
    return repr(deltalake.DeltaTable(path).file_uris())


started = time.perf_counter()
con = duckdb.connect()
con.execute("SET threads TO 2")
sample = f"{out}/sample_value_sets.csv"
with open(sample, "w") as f:
    f.write(carelake.sample_value_sets())
norm = "upper(CASE WHEN {s} IN ('ICD10CM','ICD10PCS') THEN replace(replace(trim({c}), '.', ''), ' ', '') ELSE trim({c}) END)"
con.execute(f"""
CREATE TEMP TABLE vs AS
SELECT DISTINCT "Value Set Name" AS vs, sys, {norm.format(s='sys', c='"Code"')} AS code
FROM (SELECT *, CASE "Code System" WHEN 'CPT-CAT-II' THEN 'CPT-II' ELSE "Code System" END AS sys
      FROM read_csv('{sample}', all_varchar = true));
CREATE TEMP TABLE m AS
SELECT member_id, birth_date, deceased_date, 2026 - year(birth_date) AS age
FROM read_parquet({files(out + '/member_profile')}) WHERE birth_date IS NOT NULL;
CREATE TEMP TABLE x AS SELECT source_system, source_record_id, member_id FROM read_parquet({files(out + '/identity_xref')});
CREATE TEMP TABLE ev AS
SELECT x.member_id, e.event_date AS d, coalesce(e.end_date, e.event_date) AS d_end,
       lower(coalesce(e.setting, '')) AS setting, e.modifier, e.value_num AS v, vs.vs
FROM read_parquet({files(lake + '/clinical_events')}) e
JOIN x USING (source_system, source_record_id)
JOIN vs ON vs.sys = e.code_system AND vs.code = {norm.format(s='e.code_system', c='e.code')}
JOIN m ON m.member_id = x.member_id
WHERE e.event_date <= {AS_OF} AND e.event_date >= m.birth_date
  AND vs.vs IN ('Hospice Encounter', 'Palliative Care Diagnosis', 'Palliative Care Encounter', 'Colorectal Cancer',
    'Total Colectomy', 'Frailty Device', 'Frailty Diagnosis', 'Frailty Symptom', 'Advanced Illness',
    'Dementia Medications', 'FOBT Lab Test', 'sDNA FIT Lab Test', 'Flexible Sigmoidoscopy', 'CT Colonography',
    'Colonoscopy', 'Essential Hypertension', 'ESRD Diagnosis', 'Dialysis Procedure', 'Nephrectomy',
    'Kidney Transplant', 'History of Kidney Transplant', 'Pregnancy', 'Systolic Blood Pressure',
    'Diastolic Blood Pressure', 'Systolic Less Than 130', 'Systolic 130-139', 'Systolic Greater Than or Equal To 140',
    'Diastolic Less Than 80', 'Diastolic 80-89', 'Diastolic Greater Than or Equal To 90');
CREATE TEMP TABLE sp AS
SELECT x.member_id, start_date AS s, coalesce(end_date, DATE '9999-12-31') AS e, product_line,
       coalesce(medical_benefit, true) AS med,
       product_line = 'medicare' AND (snp_type = 'I-SNP' OR coalesce(long_term_institution, false)) AS inst
FROM read_parquet({files(lake + '/enrollment')}) JOIN x USING (source_system, source_record_id)
WHERE end_date IS NULL OR end_date >= start_date;
""")


def continuous(name: str, first: str) -> None:
    """Members continuously enrolled from `first` to Dec 31, with the product line on Dec 31."""
    con.execute(f"""
CREATE TEMP TABLE {name} AS
WITH c AS (SELECT member_id, greatest(s, {first}) AS s, least(e, {MP_END}) AS e FROM sp
           WHERE med AND s <= {MP_END} AND e >= {first}),
o AS (SELECT *, max(e) OVER (PARTITION BY member_id ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev
      FROM c),
bounds AS (SELECT member_id, min(s) AS first_s, max(e) AS last_e FROM c GROUP BY 1),
gaps AS (
  SELECT member_id, prev + 1 AS gs, s - 1 AS ge FROM o WHERE prev IS NOT NULL AND s > prev + 1
  UNION ALL SELECT member_id, {first}, first_s - 1 FROM bounds WHERE first_s > {first}
  UNION ALL SELECT member_id, last_e + 1, {MP_END} FROM bounds WHERE last_e < {MP_END}),
years AS (SELECT unnest(range(year({first}), 2027)) AS y),
per_year AS (
  SELECT g.member_id, y, count(*) AS n,
         max(least(ge, make_date(y, 12, 31)) - greatest(gs, make_date(y, 1, 1)) + 1) AS longest
  FROM gaps g JOIN years ON gs <= make_date(y, 12, 31) AND ge >= make_date(y, 1, 1) GROUP BY ALL),
anchor AS (
  SELECT member_id, arg_min(product_line, CASE product_line WHEN 'medicare' THEN 0 WHEN 'medicaid' THEN 1
         WHEN 'commercial' THEN 2 ELSE 3 END) AS line
  FROM sp WHERE med AND s <= {MP_END} AND e >= {MP_END} GROUP BY 1)
SELECT a.member_id, a.line FROM anchor a
WHERE NOT EXISTS (SELECT 1 FROM per_year p WHERE p.member_id = a.member_id AND (p.n > 1 OR p.longest > 45))
""")


continuous("ce_col", "DATE '2025-01-01'")
continuous("ce_mp", MP_START)

con.execute(f"""
CREATE TEMP TABLE common AS
SELECT m.member_id, m.age,
  m.deceased_date IS NOT NULL AND m.deceased_date <= {MP_END} AS death,
  EXISTS (SELECT 1 FROM ev WHERE ev.member_id = m.member_id AND vs = 'Hospice Encounter'
          AND d_end >= {MP_START} AND d <= {MP_END}) AS hospice,
  EXISTS (SELECT 1 FROM ev WHERE ev.member_id = m.member_id AND vs IN ('Palliative Care Diagnosis', 'Palliative Care Encounter')
          AND d_end >= {MP_START} AND d <= {MP_END}) AS palliative,
  (SELECT count(DISTINCT d) FROM ev WHERE ev.member_id = m.member_id
     AND vs IN ('Frailty Device', 'Frailty Diagnosis', 'Frailty Symptom') AND d_end >= {MP_START} AND d <= {MP_END}) >= 2 AS frail,
  ((SELECT count(DISTINCT d) FROM ev WHERE ev.member_id = m.member_id AND vs = 'Advanced Illness'
      AND setting <> 'inpatient' AND d_end >= DATE '2025-01-01' AND d <= {MP_END}) >= 2
   OR EXISTS (SELECT 1 FROM ev WHERE ev.member_id = m.member_id AND vs = 'Advanced Illness' AND setting = 'inpatient'
      AND d_end >= DATE '2025-01-01' AND d <= {MP_END})
   OR EXISTS (SELECT 1 FROM ev WHERE ev.member_id = m.member_id AND vs = 'Dementia Medications'
      AND d_end >= DATE '2025-01-01' AND d <= {MP_END})) AS advanced,
  EXISTS (SELECT 1 FROM sp WHERE sp.member_id = m.member_id AND inst AND s <= {MP_END} AND e >= {MP_START}) AS inst
FROM m WHERE m.age BETWEEN 18 AND 85;
""")


def has(vs: list[str], first: str, last: str = MP_END) -> str:
    names = ", ".join(f"'{v}'" for v in vs)
    return (f"EXISTS (SELECT 1 FROM ev WHERE ev.member_id = c.member_id AND vs IN ({names}) "
            f"AND d_end >= {first} AND d <= {last})")


EVER = "DATE '0001-01-01'"
col = con.execute(f"""
SELECT status, count(*) FROM (
SELECT CASE
  WHEN ce.member_id IS NULL THEN 'not_applicable'
  WHEN death OR hospice OR palliative OR {has(['Colorectal Cancer'], EVER)} OR {has(['Total Colectomy'], EVER)}
       OR (age >= 66 AND frail AND advanced) OR (age >= 66 AND inst) THEN 'excluded'
  WHEN {has(['FOBT Lab Test'], MP_START)} OR {has(['sDNA FIT Lab Test'], "DATE '2024-01-01'")}
       OR {has(['Flexible Sigmoidoscopy'], "DATE '2022-01-01'")} OR {has(['CT Colonography'], "DATE '2022-01-01'")}
       OR {has(['Colonoscopy'], "DATE '2017-01-01'")} THEN 'closed'
  ELSE 'open' END AS status
FROM common c LEFT JOIN ce_col ce USING (member_id) WHERE c.age BETWEEN 46 AND 75) GROUP BY 1 ORDER BY 1
""").fetchall()

cbp = con.execute(f"""
WITH htn AS (
  SELECT member_id, d FROM (SELECT DISTINCT member_id, d FROM ev WHERE vs = 'Essential Hypertension'
    AND setting NOT IN ('inpatient', 'ed') AND d_end >= DATE '2025-01-01' AND d <= DATE '2026-06-30')
  QUALIFY row_number() OVER (PARTITION BY member_id ORDER BY d) = 2),
readings AS (
  SELECT ev.member_id, d_end AS day,
    bool_or(vs IN ('Systolic Less Than 130', 'Systolic 130-139')) OR coalesce(min(v) FILTER (vs = 'Systolic Blood Pressure') < 140, false) AS sys_ok,
    bool_or(vs IN ('Systolic Less Than 130', 'Systolic 130-139', 'Systolic Greater Than or Equal To 140')
            OR (vs = 'Systolic Blood Pressure' AND v IS NOT NULL)) AS sys_any,
    bool_or(vs IN ('Diastolic Less Than 80', 'Diastolic 80-89')) OR coalesce(min(v) FILTER (vs = 'Diastolic Blood Pressure') < 90, false) AS dia_ok,
    bool_or(vs IN ('Diastolic Less Than 80', 'Diastolic 80-89', 'Diastolic Greater Than or Equal To 90')
            OR (vs = 'Diastolic Blood Pressure' AND v IS NOT NULL)) AS dia_any
  FROM ev JOIN htn USING (member_id)
  WHERE (vs LIKE 'Systolic%' OR vs LIKE 'Diastolic%') AND setting NOT IN ('inpatient', 'ed')
    AND d_end >= greatest(htn.d, {MP_START}) AND d_end <= {MP_END}
  GROUP BY ALL),
latest AS (
  SELECT member_id, arg_max(sys_ok AND dia_ok, day) AS controlled FROM readings WHERE sys_any AND dia_any GROUP BY 1)
SELECT status, count(*) FROM (
SELECT CASE
  WHEN ce.member_id IS NULL THEN 'not_applicable'
  WHEN death OR hospice OR palliative
       OR {has(['ESRD Diagnosis', 'Dialysis Procedure', 'Nephrectomy', 'Kidney Transplant', 'History of Kidney Transplant'], EVER)}
       OR {has(['Pregnancy'], MP_START)}
       OR (age BETWEEN 66 AND 80 AND frail AND advanced) OR (age >= 81 AND frail) OR (age >= 66 AND inst) THEN 'excluded'
  WHEN coalesce(l.controlled, false) THEN 'closed'
  ELSE 'open' END AS status
FROM common c JOIN htn USING (member_id) LEFT JOIN ce_mp ce USING (member_id) LEFT JOIN latest l USING (member_id)
WHERE c.age BETWEEN 18 AND 85) GROUP BY 1 ORDER BY 1
""").fetchall()
seconds = time.perf_counter() - started
report({"seconds": seconds, "COL-E.total": dict(col), "CBP.total": dict(cbp)})
