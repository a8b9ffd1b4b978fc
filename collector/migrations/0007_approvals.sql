-- Approval requests for expensive jobs. One row per state of a request (pending, then approved /
-- rejected / exhausted); ReplacingMergeTree(version) keeps the latest, and every change is also
-- written to the append-only audit log. Money is Decimal.
CREATE TABLE IF NOT EXISTS ${DB}.approvals
(
    id String,
    job String,
    requester String,
    approver String,
    cost_center String,
    estimated_usd Decimal(38, 18),
    approved_usd Decimal(38, 18),
    spent_usd Decimal(38, 18),
    status LowCardinality(String),
    justification String,
    created_at DateTime64(3, 'UTC'),
    decided_at Nullable(DateTime64(3, 'UTC')),
    decided_by String,
    decision_comment String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;
