-- Budget state per policy per period, written every minute by the budget engine (history for
-- dashboards and for "when did we cross 80 %"). Money is Decimal.
CREATE TABLE IF NOT EXISTS ${DB}.budget_snapshots
(
    policy String,
    period LowCardinality(String),
    period_start DateTime('UTC'),
    period_end DateTime('UTC'),
    at DateTime64(3, 'UTC'),
    limit_usd Decimal(38, 18),
    spent_usd Decimal(38, 18),
    forecast_usd Decimal(38, 18),
    state LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (policy, at);

-- One row per alert delivered: (policy, period, threshold, channel, target). Checked before
-- sending, so a threshold fires once per period even across restarts and many collectors.
CREATE TABLE IF NOT EXISTS ${DB}.budget_alerts_fired
(
    policy String,
    period_start DateTime('UTC'),
    threshold Decimal(9, 4),
    channel LowCardinality(String),
    target String,
    fired_at DateTime64(3, 'UTC'),
    limit_usd Decimal(38, 18),
    spent_usd Decimal(38, 18)
)
ENGINE = ReplacingMergeTree
ORDER BY (policy, period_start, threshold, channel, target);
