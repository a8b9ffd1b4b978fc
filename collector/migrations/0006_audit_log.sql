-- Append-only audit log: policy reloads (accepted and refused), approvals, alerts. Never updated
-- or deleted by tokenledger; details is a JSON document.
CREATE TABLE IF NOT EXISTS ${DB}.audit_log
(
    at DateTime64(3, 'UTC'),
    actor String,
    action LowCardinality(String),
    subject String,
    details String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, action);
