/**
 * The rollups the maintainer keeps equal to the raw calls, each a sealed table built per hour from
 * its raw view (migrations 0013 and 0037): what a row is keyed by, and how the rows of one group
 * combine when a build folds a tombstone into them. One list, so building, filling and checking
 * treat every rollup the same way.
 */

interface Measure {
  name: string;
  /** Combines the rows of one group in a build (the raw row and a tombstone). */
  combine: string;
  /** A tombstone's value: nothing. */
  zero: string;
}

export interface Rollup {
  /** The view readers read (sealed hours before the frontier, the raw calls from it on). */
  name: string;
  sealed: string;
  raw: string;
  dimensions: string[];
  measures: Measure[];
  /** Where its frontier lives: the first rollup's own table (0013), the others' rows in rollup_frontiers. */
  frontier: { table: 'rollup_frontier' } | { table: 'rollup_frontiers'; rollup: string };
  /**
   * Built from this finer rollup's sealed rows rather than from the raw calls: the same figures (its
   * rows equal the raw calls, sums add and states merge) from far fewer rows. It comes earlier in
   * ROLLUPS, so a build writes it first, and a fill never goes past its frontier. The live tail and
   * the minute check still read the raw calls (`raw`).
   */
  buildFrom?: Rollup;
}

const sum = (name: string, zero = 'toUInt64(0)'): Measure => ({ name, combine: `sum(${name})`, zero });
const money = (name: string): Measure => sum(name, 'toDecimal128(0, 18)');
const TOKENS = [
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
];

/** Distinct end users: uniqCombined states of their hashes. */
const USERS: Measure = {
  name: 'users',
  combine: 'uniqCombinedMergeState(users)',
  zero: "arrayReduce('uniqCombinedState', emptyArrayUInt64())",
};

/** Latency: quantileBFloat16(0.95) states of the durations. */
const LATENCY: Measure = {
  name: 'latency',
  combine: 'quantileBFloat16MergeState(0.95)(latency)',
  zero: "arrayReduce('quantileBFloat16State(0.95)', emptyArrayFloat64())",
};

/** What the minute check compares (differingHours): calls, input and output tokens, money. */
const CHECKED = [...['calls', 'input_tokens', 'output_tokens'].map((m) => sum(m)), money('cost_usd')];

/** The hourly spend by every attribution field (0013): budgets of any match, customers, reports. */
export const SPEND_HOURLY: Rollup = {
  name: 'spend_hourly',
  sealed: 'spend_hourly_sealed',
  raw: 'spend_hourly_raw',
  dimensions: [
    'team',
    'department',
    'cost_center',
    'feature',
    'workflow',
    'model',
    'provider',
    'environment',
    'service',
    'customer',
  ],
  measures: [...['calls', 'error_calls', 'unpriced_calls', ...TOKENS].map((m) => sum(m)), money('cost_usd')],
  frontier: { table: 'rollup_frontier' },
};

/**
 * The boards' grain (0037): no customer, workflow or end user; enforcement counts, the input/output
 * split, distinct users and latency as states that merge into what the same function gives raw.
 */
export const CALLS_HOURLY: Rollup = {
  name: 'calls_hourly',
  sealed: 'calls_hourly_sealed',
  raw: 'calls_hourly_raw',
  dimensions: ['team', 'department', 'cost_center', 'feature', 'service', 'environment', 'provider', 'model'],
  measures: [
    ...[
      'calls',
      'error_calls',
      'unpriced_calls',
      'blocked_calls',
      'downgraded_calls',
      'clamped_calls',
      ...TOKENS,
    ].map((m) => sum(m)),
    ...['cost_usd', 'input_cost_usd', 'output_cost_usd'].map(money),
    USERS,
    LATENCY,
  ],
  frontier: { table: 'rollup_frontiers', rollup: 'calls_hourly' },
};

/**
 * Distinct end users per feature (0041): the cost-per-user panel's grain. Its uniqCombined states
 * are calls_hourly's merged over every team, model and environment of a feature, so a month is
 * ~200 states a day where calls_hourly has thousands; calls, tokens and money for the check.
 */
export const USERS_HOURLY: Rollup = {
  name: 'users_hourly',
  sealed: 'users_hourly_sealed',
  raw: 'users_hourly_raw',
  dimensions: ['feature'],
  measures: [...CHECKED, USERS],
  frontier: { table: 'rollup_frontiers', rollup: 'users_hourly' },
};

/**
 * Spend per customer and workflow with the team view's fields (0042): top customers, and budgets
 * that match a customer or a workflow, without spend_hourly's every other field.
 */
export const CUSTOMERS_HOURLY: Rollup = {
  name: 'customers_hourly',
  sealed: 'customers_hourly_sealed',
  raw: 'customers_hourly_raw',
  dimensions: ['customer', 'workflow', 'team', 'environment', 'feature'],
  measures: CHECKED,
  frontier: { table: 'rollup_frontiers', rollup: 'customers_hourly' },
};

/** A rollup after the first: its tables and views named after it, its frontier in rollup_frontiers. */
const follower = (name: string, dimensions: string[], measures: Measure[], buildFrom?: Rollup): Rollup => ({
  name,
  sealed: `${name}_sealed`,
  raw: `${name}_raw`,
  dimensions,
  measures,
  frontier: { table: 'rollup_frontiers', rollup: name },
  buildFrom,
});

/**
 * Spend per workflow with every other match field but customer (0048): budgets that match a
 * workflow (and no customer) read a short range of it instead of every customers row.
 */
export const WORKFLOWS_HOURLY = follower(
  'workflows_hourly',
  ['workflow', ...CALLS_HOURLY.dimensions],
  CHECKED,
  SPEND_HOURLY,
);

/** Spend per team and customer (0050): the team view's top customers, one team a short range. */
export const TEAM_CUSTOMERS_HOURLY = follower(
  'team_customers_hourly',
  ['team', 'customer'],
  CHECKED,
  CUSTOMERS_HOURLY,
);

/** Latency states per team and model (0050): the team view's p95 latency, a state per model and day. */
export const TEAM_MODELS_HOURLY = follower(
  'team_models_hourly',
  ['team', 'model'],
  [...CHECKED, LATENCY],
  CALLS_HOURLY,
);

/**
 * Calls, tokens and spend per feature, team and environment (0051), ordered by feature: the
 * before/after baselines read a few features' weeks around each change as short index ranges.
 */
const FEATURES_HOURLY = follower(
  'features_hourly',
  ['feature', 'team', 'environment'],
  CHECKED,
  CALLS_HOURLY,
);

/**
 * The downgraded calls by the model asked for and the one served (0040): what the savings panel
 * needs of them, a handful of rows an hour.
 */
const DOWNGRADES_HOURLY: Rollup = {
  name: 'downgrades_hourly',
  sealed: 'downgrades_hourly_sealed',
  raw: 'downgrades_hourly_raw',
  dimensions: ['provider', 'asked_model', 'model'],
  measures: [
    ...['calls', 'input_tokens', 'output_tokens', 'cache_read_tokens'].map((m) => sum(m)),
    money('cost_usd'),
  ],
  frontier: { table: 'rollup_frontiers', rollup: 'downgrades_hourly' },
};

/** Every rollup, the one every other is filled up to first; each after the one it is built from. */
export const ROLLUPS: readonly Rollup[] = [
  SPEND_HOURLY,
  CALLS_HOURLY,
  DOWNGRADES_HOURLY,
  USERS_HOURLY,
  CUSTOMERS_HOURLY,
  WORKFLOWS_HOURLY,
  TEAM_CUSTOMERS_HOURLY,
  TEAM_MODELS_HOURLY,
  FEATURES_HOURLY,
];
