-- A merge's source parts stay on disk 8 minutes after it (issue 20, decision 0096). The embedded
-- engine removes them at once (its old_parts_lifetime is 0; a ClickHouse server's default is 480 s):
-- a merged part written broken on a full disk then held the only copy of its rows. Kept, the
-- collector sets the broken part aside and attaches them back while it runs, and the engine itself
-- does at a restart. The cost: merged rows take their space twice for those minutes.
ALTER TABLE ${DB}.llm_calls MODIFY SETTING old_parts_lifetime = 480;
ALTER TABLE ${DB}.ai_http_calls MODIFY SETTING old_parts_lifetime = 480;
ALTER TABLE ${DB}.audit_log MODIFY SETTING old_parts_lifetime = 480;
ALTER TABLE ${DB}.approvals MODIFY SETTING old_parts_lifetime = 480;
ALTER TABLE ${DB}.outcomes MODIFY SETTING old_parts_lifetime = 480;
ALTER TABLE ${DB}.budget_snapshots MODIFY SETTING old_parts_lifetime = 480;
ALTER TABLE ${DB}.bill_imports MODIFY SETTING old_parts_lifetime = 480;
ALTER TABLE ${DB}.bill_coverage MODIFY SETTING old_parts_lifetime = 480;
ALTER TABLE ${DB}.bill_lines MODIFY SETTING old_parts_lifetime = 480;
ALTER TABLE ${DB}.bill_usage_lines MODIFY SETTING old_parts_lifetime = 480;
ALTER TABLE ${DB}.expense_imports MODIFY SETTING old_parts_lifetime = 480;
ALTER TABLE ${DB}.expense_coverage MODIFY SETTING old_parts_lifetime = 480;
ALTER TABLE ${DB}.expense_lines MODIFY SETTING old_parts_lifetime = 480;
