-- Placeholder for migration 0005, which another branch adds (migrations must be numbered without
-- gaps). Delete this file when merging that branch.
SELECT 1;
