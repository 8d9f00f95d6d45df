-- The gap closure metric view Genie and the dashboard use, run by the nightly job's SQL step after care gaps
-- (parameters :catalog and :schema). A metric view's source is resolved at creation, in the current schema.

USE CATALOG IDENTIFIER(:catalog);
USE SCHEMA IDENTIFIER(:schema);

CREATE OR REPLACE VIEW gap_closure_metrics
WITH METRICS
LANGUAGE YAML
COMMENT 'HEDIS-style gap closure rates by measure, rate, product line and year (computed by carelake; not NCQA-certified).'
AS $$
version: 0.1
source: measure_rates
filter: stratum = 'all'
dimensions:
  - name: measure
    expr: measure
  - name: measure_name
    expr: measure_name
  - name: rate
    expr: rate
  - name: product_line
    expr: product_line
  - name: measurement_year
    expr: measurement_year
measures:
  - name: denominator
    expr: SUM(denominator)
  - name: numerator
    expr: SUM(numerator)
  - name: open_gaps
    expr: SUM(open)
  - name: exclusions
    expr: SUM(exclusions)
  - name: closure_rate
    expr: SUM(numerator) / NULLIF(SUM(denominator), 0)
$$;
