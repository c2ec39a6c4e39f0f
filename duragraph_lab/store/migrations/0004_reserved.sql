-- Placeholder for migration 0004, which another branch adds (migrations must be numbered without
-- gaps). Delete this file when merging that branch.
SELECT 1;
