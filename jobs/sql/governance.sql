-- Governance for carelake's output tables, run by the nightly job's SQL step (parameters :catalog and :schema).
-- Column masks hide PHI from everyone outside the carelake-care-operations group; row filters limit analysts to
-- the product lines their groups may see; the carelake-analysts group gets read access.

CREATE FUNCTION IF NOT EXISTS IDENTIFIER(:catalog || '.' || :schema || '.mask_phi')(value STRING)
  RETURNS STRING
  RETURN CASE WHEN is_account_group_member('carelake-care-operations') THEN value ELSE '***' END;

ALTER TABLE IDENTIFIER(:catalog || '.' || :schema || '.member_profile') ALTER COLUMN email SET MASK IDENTIFIER(:catalog || '.' || :schema || '.mask_phi');
ALTER TABLE IDENTIFIER(:catalog || '.' || :schema || '.member_profile') ALTER COLUMN phone SET MASK IDENTIFIER(:catalog || '.' || :schema || '.mask_phi');
ALTER TABLE IDENTIFIER(:catalog || '.' || :schema || '.member_profile') ALTER COLUMN address_line1 SET MASK IDENTIFIER(:catalog || '.' || :schema || '.mask_phi');
ALTER TABLE IDENTIFIER(:catalog || '.' || :schema || '.member_profile') ALTER COLUMN last_name SET MASK IDENTIFIER(:catalog || '.' || :schema || '.mask_phi');

CREATE FUNCTION IF NOT EXISTS IDENTIFIER(:catalog || '.' || :schema || '.product_line_filter')(product_line STRING)
  RETURNS BOOLEAN
  RETURN is_account_group_member('carelake-care-operations')
      OR (product_line = 'medicaid' AND is_account_group_member('carelake-medicaid-analysts'))
      OR (product_line IN ('commercial', 'marketplace') AND is_account_group_member('carelake-commercial-analysts'))
      OR (product_line = 'medicare' AND is_account_group_member('carelake-medicare-analysts'));

ALTER TABLE IDENTIFIER(:catalog || '.' || :schema || '.care_gaps') SET ROW FILTER IDENTIFIER(:catalog || '.' || :schema || '.product_line_filter') ON (product_line);

GRANT USE SCHEMA ON SCHEMA IDENTIFIER(:catalog || '.' || :schema) TO `carelake-analysts`;
GRANT SELECT ON SCHEMA IDENTIFIER(:catalog || '.' || :schema) TO `carelake-analysts`;
