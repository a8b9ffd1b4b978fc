-- One decision per approval when several collectors share the store (issue 26). Two approvers
-- deciding at once (on two collectors, or two requests on one) would both write the next version of
-- the row, each be told their decision stood, and the merge keep one. A decision now carries an
-- insert_deduplication_token of the approval and the version it writes, so the engine keeps the
-- first block and the decider reads back which decision won (the alert claims' mechanism, 0026).
ALTER TABLE ${DB}.approvals MODIFY SETTING non_replicated_deduplication_window = 10000;
