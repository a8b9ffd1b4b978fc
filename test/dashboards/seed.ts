/**
 * A deterministic dataset for the dashboard tests: calls (llm_calls, whose materialized view fills
 * spend_hourly), budget snapshots, approvals, outcomes and catalog prices. The tests compute every
 * expected number from these arrays, in Decimal, independently of the SQL under test.
 */
import Decimal from 'decimal.js';
import type { Storage } from '../../collector/src/storage/client';
import type { CallRow } from '../../collector/src/storage/rows';
import { syncModelPrices } from '../../collector/src/storage/model-prices';
import { OutcomeStore, type OutcomeRow } from '../../collector/src/storage/outcomes';
import { prng } from '../support/prng';

// Exact sums of Decimal(38, 18) values need 38+ significant digits (decimal.js defaults to 20).
Decimal.set({ precision: 80 });

export const RANGE = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-20T12:30:00Z') };
export const PRICES_AT = new Date('2026-11-20T00:00:00Z');
/** The policy file's savings rules: claude-3-5-sonnet may run on these (any provider), only these. */
export const SAVINGS_ALTERNATIVES: Record<string, string[]> = {
  'claude-3-5-sonnet': ['gpt-4o-mini', 'claude-3-5-haiku-latest'],
};

/** A preview model cheaper than anything in gpt-4o's family: never offered unless asked. */
export const EXTRA_PRICES = [
  {
    provider: 'openai',
    model: 'gpt-4o-nano-preview',
    family: 'gpt-4o',
    input_mtok: '0.01',
    output_mtok: '0.02',
    cache_read_mtok: '0.01',
    preview: 1,
  },
];

/** The api service's new release (automatic before/after baselines). */
export const RELEASE_AT = new Date('2026-11-10T09:30:00Z');

/** Seeded call, with its instant as a Date for the expected-value computations. */
export interface SeedCall extends CallRow {
  at: Date;
}

const MODELS: [provider: string, model: string][] = [
  ['openai', 'gpt-4o'],
  ['openai', 'gpt-4o-mini'],
  ['openai', 'gpt-4.1'],
  ['anthropic', 'claude-3-5-sonnet'],
  ['openai_compatible', 'llama-local'],
];
const TEAMS = ['search', 'support', 'billing', ''];
const FEATURES = ['summarizer', 'chat', 'search-answers', ''];
const CUSTOMERS = ['acme', 'globex', 'initech', "o'brien & co", ''];

const dt64 = (d: Date, nanos = '000000000'): string =>
  `${d.toISOString().slice(0, 19).replace('T', ' ')}.${nanos}`;
const dt3 = (d: Date): string => d.toISOString().replace('T', ' ').replace('Z', '');

/** Money with up to 18 decimals, sometimes using all of them. */
function money(rand: () => number): string {
  const micro = new Decimal(Math.floor(rand() * 5_000_000)).div(1_000_000);
  return (rand() < 0.2 ? micro.plus('0.000000000000000007') : micro).toFixed();
}

export function seedCalls(count = 400): SeedCall[] {
  const rand = prng(42);
  const pick = <T>(list: T[]): T => list[Math.floor(rand() * list.length)] as T;
  const start = Date.parse('2026-10-10T00:00:00Z');
  const step = (Date.parse('2026-11-22T00:00:00Z') - start) / count;
  // Whole seconds: the stored DateTime64(9) is an instant plus i nanoseconds (a unique tiebreak).
  const times = Array.from(
    { length: count },
    (_, i) => Math.floor((start + i * step + rand() * 3_600_000) / 1000) * 1000,
  );
  // A burst over consecutive hours (a spend spike, and enough calls per hour for error rates).
  for (let k = 0; k < 30; k++)
    times.push(Date.parse('2026-11-15T08:00:00Z') + (k < 6 ? k * 600 : 3600 + (k - 6) * 150) * 1000);
  const calls: SeedCall[] = [];
  for (let i = 0; i < times.length; i++) {
    const at = new Date(times[i]!);
    const [provider, model] = pick(MODELS);
    const team = pick(TEAMS);
    const enforcementRoll = rand();
    const enforcement =
      enforcementRoll < 0.05
        ? 'blocked'
        : enforcementRoll < 0.1
          ? 'downgraded'
          : enforcementRoll < 0.13
            ? 'clamped'
            : 'allowed';
    const blocked = enforcement === 'blocked';
    const priced = !blocked && provider !== 'openai_compatible';
    const input = blocked ? 0 : 100 + Math.floor(rand() * 5000);
    const inputCost = priced ? money(rand) : '0';
    const outputCost = priced ? money(rand) : '0';
    calls.push({
      at,
      trace_id: i.toString(16).padStart(32, '0'),
      span_id: (i + 1).toString(16).padStart(16, '0'),
      start_time: dt64(at, String(i).padStart(9, '0')),
      duration_ms: blocked ? 0 : 100 + Math.floor(rand() * 2900) + 0.25,
      provider,
      operation: 'chat',
      request_model: model,
      // The provider answers with a dated id; panels show the catalog id it was priced as.
      response_model: model === 'gpt-4o' ? 'gpt-4o-2024-08-06' : model,
      // The guard switched some calls to a cheaper model: the model asked for is kept ('' otherwise).
      asked_model:
        enforcement === 'downgraded' && (model === 'gpt-4o-mini' || model === 'gpt-4.1') ? 'gpt-4o' : '',
      priced_provider: priced ? provider : '',
      priced_model: priced ? model : '',
      input_tokens: input,
      output_tokens: blocked ? 0 : 10 + Math.floor(rand() * 2000),
      cache_read_tokens: blocked ? 0 : Math.floor(rand() * (input / 2)),
      cache_write_tokens: 0,
      cache_write_1h_tokens: 0,
      reasoning_tokens: 0,
      streaming: 0,
      error_type: !blocked && rand() < 0.08 ? 'timeout' : '',
      server_address: '',
      enforcement,
      source: 'tokenledger',
      team,
      department: '',
      cost_center: team !== '' ? `cc-${team}` : rand() < 0.5 ? 'cc-ops' : '',
      feature: pick(FEATURES),
      workflow: '',
      customer: pick(CUSTOMERS),
      user_tier: '',
      environment: rand() < 0.7 ? 'production' : 'staging',
      service: rand() < 0.5 ? 'api' : 'worker',
      service_version: '',
      end_user: rand() < 0.8 ? `user-${Math.floor(rand() * 25)}` : '',
      approval_id: '',
      cost_usd: new Decimal(inputCost).plus(outputCost).toFixed(),
      input_cost_usd: inputCost,
      output_cost_usd: outputCost,
      priced: priced ? 1 : 0,
      truncated: 0,
    });
    // The api service ships a new release on 2026-11-10; the worker runs one all along.
    const c = calls[calls.length - 1]!;
    c.service_version = c.service === 'worker' ? '2.0.0' : at < RELEASE_AT ? '1.4.0' : '1.5.0';
    Object.assign(c, ingestKeyOf(c, i));
  }
  return calls;
}

/**
 * Which ingest key sent a call: every 7th none (stored before keys were recorded); the search team's
 * calls a key scoped to it (re-scoped on 2026-11-01), some claiming another team (recorded under
 * search, the claim kept); the rest an unscoped key.
 */
function ingestKeyOf(
  c: SeedCall,
  i: number,
): Pick<SeedCall, 'ingest_key' | 'ingest_key_scope' | 'claimed_attribution'> {
  if (i % 7 === 0) return { ingest_key: '', ingest_key_scope: '', claimed_attribution: '' };
  if (c.team !== 'search') return { ingest_key: 'platform', ingest_key_scope: '', claimed_attribution: '' };
  const claims = ['{"team":"billing"}', '{"team":"support"}', '', '', ''];
  return {
    ingest_key: 'search-app',
    ingest_key_scope:
      c.at < new Date('2026-11-01T00:00:00Z') ? 'team=search' : 'team=search;service=api|worker',
    claimed_attribution: claims[i % claims.length]!,
  };
}

export interface SeedSnapshot {
  policy: string;
  period: string;
  period_start: string;
  period_end: string;
  at: string;
  limit_usd: string;
  spent_usd: string;
  forecast_usd: string;
  state: string;
}

export function seedSnapshots(): SeedSnapshot[] {
  const rows: SeedSnapshot[] = [];
  const add = (
    policy: string,
    period: string,
    start: string,
    end: string,
    at: string,
    limit: string,
    spent: string,
    forecast: string,
    state: string,
  ): void => {
    rows.push({
      policy,
      period,
      period_start: start,
      period_end: end,
      at,
      limit_usd: limit,
      spent_usd: spent,
      forecast_usd: forecast,
      state,
    });
  };
  // summarizer-prod: October's last snapshot (older period), then November's burn-down.
  add(
    'summarizer-prod',
    'monthly',
    '2026-10-01 00:00:00',
    '2026-11-01 00:00:00',
    '2026-10-31 23:59:00.000',
    '500',
    '480.5',
    '480.5',
    'warning',
  );
  add(
    'summarizer-prod',
    'monthly',
    '2026-11-01 00:00:00',
    '2026-12-01 00:00:00',
    '2026-11-10 00:00:00.000',
    '500',
    '200.123456789012345678',
    '600',
    'ok',
  );
  add(
    'summarizer-prod',
    'monthly',
    '2026-11-01 00:00:00',
    '2026-12-01 00:00:00',
    '2026-11-20 12:00:00.000',
    '500',
    '410.000000000000000001',
    '650.25',
    'warning',
  );
  // A snapshot after the range's end must not count.
  add(
    'summarizer-prod',
    'monthly',
    '2026-11-01 00:00:00',
    '2026-12-01 00:00:00',
    '2026-11-21 00:00:00.000',
    '500',
    '499',
    '700',
    'warning',
  );
  add(
    'support-chat',
    'monthly',
    '2026-11-01 00:00:00',
    '2026-12-01 00:00:00',
    '2026-11-05 08:00:00.000',
    '200',
    '50',
    '150',
    'ok',
  );
  add(
    'support-chat',
    'monthly',
    '2026-11-01 00:00:00',
    '2026-12-01 00:00:00',
    '2026-11-19 08:00:00.000',
    '200',
    '210.75',
    '320',
    'exceeded',
  );
  add(
    'bulk-jobs',
    'quarterly',
    '2026-10-01 00:00:00',
    '2027-01-01 00:00:00',
    '2026-11-15 00:00:00.000',
    '5000',
    '1000',
    '2500',
    'ok',
  );
  return rows;
}

export interface SeedPoint {
  scope: string;
  policy: string;
  period: string;
  timezone: string;
  period_start: string;
  period_end: string;
  bucket_start: string;
  at: string;
  spent_usd: string;
  limit_usd: string | null;
  limit_source: string;
  forecast_usd: string;
  forecast_low_usd: string;
  forecast_high_usd: string;
  breach_at: string | null;
  state: string;
  closed: number;
  computed_at: string;
}

/**
 * Burn-down points as the collector's ledger writes them: closed October, November so far, a
 * Berlin budget whose November starts at 23:00 UTC on October 31st, all and unbudgeted spend, a
 * bucket recomputed later (the newer row wins), and a point after the range's end.
 */
export function seedBurndown(): SeedPoint[] {
  const rows: SeedPoint[] = [];
  const point = (
    scope: string,
    policy: string,
    [period, timezone, periodStart, periodEnd]: [string, string, string, string],
    bucket: string,
    at: string,
    spent: string,
    limit: string | null,
    forecast: [string, string, string],
    state: string,
    computedAt = '2026-11-20 12:01:00.000',
  ): void => {
    rows.push({
      scope,
      policy,
      period,
      timezone,
      period_start: periodStart,
      period_end: periodEnd,
      bucket_start: bucket,
      at,
      spent_usd: spent,
      limit_usd: limit,
      limit_source: limit === null ? '' : 'policy_history',
      forecast_usd: forecast[0],
      forecast_low_usd: forecast[1],
      forecast_high_usd: forecast[2],
      breach_at: state === 'exceeded' || state === 'forecast_to_exceed' ? '2026-11-25 10:00:00.000' : null,
      state,
      closed: at === `${periodEnd}.000` ? 1 : 0,
      computed_at: computedAt,
    });
  };
  const oct: [string, string, string, string] = [
    'monthly',
    'UTC',
    '2026-10-01 00:00:00',
    '2026-11-01 00:00:00',
  ];
  const nov: [string, string, string, string] = [
    'monthly',
    'UTC',
    '2026-11-01 00:00:00',
    '2026-12-01 00:00:00',
  ];
  point(
    'budget',
    'summarizer-prod',
    oct,
    '2026-10-30 00:00:00',
    '2026-10-31 00:00:00.000',
    '470.5',
    '500',
    ['470.5', '470.5', '470.5'],
    'warning',
  );
  point(
    'budget',
    'summarizer-prod',
    oct,
    '2026-10-31 00:00:00',
    '2026-11-01 00:00:00.000',
    '480.5',
    '500',
    ['480.5', '480.5', '480.5'],
    'warning',
  );
  point(
    'budget',
    'summarizer-prod',
    nov,
    '2026-11-10 00:00:00',
    '2026-11-11 00:00:00.000',
    '200.123456789012345678',
    '500',
    ['600', '520', '690'],
    'forecast_to_exceed',
  );
  point(
    'budget',
    'summarizer-prod',
    nov,
    '2026-11-20 00:00:00',
    '2026-11-20 12:00:00.000',
    '410.000000000000000001',
    '500',
    ['650.25', '580', '720.5'],
    'forecast_to_exceed',
  );
  // Recomputed after late spans: replaces the row above.
  point(
    'budget',
    'summarizer-prod',
    nov,
    '2026-11-20 00:00:00',
    '2026-11-20 12:00:00.000',
    '412.5',
    '500',
    ['655', '585', '725'],
    'forecast_to_exceed',
    '2026-11-20 12:02:00.000',
  );
  point(
    'budget',
    'summarizer-prod',
    nov,
    '2026-11-21 00:00:00',
    '2026-11-22 00:00:00.000',
    '499',
    '500',
    ['700', '690', '710'],
    'forecast_to_exceed',
  );
  point(
    'budget',
    'support-chat',
    nov,
    '2026-11-05 00:00:00',
    '2026-11-06 00:00:00.000',
    '50',
    '200',
    ['150', '120', '180'],
    'ok',
  );
  point(
    'budget',
    'support-chat',
    nov,
    '2026-11-19 00:00:00',
    '2026-11-20 00:00:00.000',
    '210.75',
    '200',
    ['320', '300', '340'],
    'exceeded',
  );
  point(
    'budget',
    'bulk-jobs',
    ['quarterly', 'UTC', '2026-10-01 00:00:00', '2027-01-01 00:00:00'],
    '2026-11-15 00:00:00',
    '2026-11-16 00:00:00.000',
    '1000',
    '5000',
    ['2500', '2000', '3100'],
    'ok',
  );
  const berlinOct: [string, string, string, string] = [
    'monthly',
    'Europe/Berlin',
    '2026-09-30 22:00:00',
    '2026-10-31 23:00:00',
  ];
  const berlinNov: [string, string, string, string] = [
    'monthly',
    'Europe/Berlin',
    '2026-10-31 23:00:00',
    '2026-11-30 23:00:00',
  ];
  point(
    'budget',
    'berlin-ads',
    berlinOct,
    '2026-10-30 23:00:00',
    '2026-10-31 23:00:00.000',
    '90',
    '100',
    ['90', '90', '90'],
    'warning',
  );
  point(
    'budget',
    'berlin-ads',
    berlinNov,
    '2026-10-31 23:00:00',
    '2026-11-01 23:00:00.000',
    '3',
    '120',
    ['95', '80', '110'],
    'ok',
  );
  point(
    'budget',
    'berlin-ads',
    berlinNov,
    '2026-11-19 23:00:00',
    '2026-11-20 12:00:00.000',
    '61',
    '120',
    ['99', '88', '111'],
    'ok',
  );
  point(
    'all',
    '',
    oct,
    '2026-10-31 00:00:00',
    '2026-11-01 00:00:00.000',
    '812.34',
    null,
    ['812.34', '812.34', '812.34'],
    '',
  );
  point(
    'all',
    '',
    nov,
    '2026-11-20 00:00:00',
    '2026-11-20 12:00:00.000',
    '601.5',
    null,
    ['955.25', '880', '1040.75'],
    '',
  );
  point(
    'unbudgeted',
    '',
    oct,
    '2026-10-31 00:00:00',
    '2026-11-01 00:00:00.000',
    '101.1',
    null,
    ['101.1', '101.1', '101.1'],
    '',
  );
  point(
    'unbudgeted',
    '',
    nov,
    '2026-11-20 00:00:00',
    '2026-11-20 12:00:00.000',
    '77.7',
    null,
    ['120.3', '100', '150'],
    '',
  );
  return rows;
}

export interface SeedBaseline {
  id: string;
  feature: string;
  at: string;
  label: string;
  source: string;
  created_by: string;
  created_at: string;
}

/** Changes marked on features: two summarizer prompts a few days apart (windows meet), a chat switch, an old one. */
export function seedBaselines(): SeedBaseline[] {
  const b = (id: string, feature: string, at: string, label: string, source = 'manual'): SeedBaseline => ({
    id,
    feature,
    at,
    label,
    source,
    created_by: 'admin',
    created_at: '2026-11-20 12:00:00.000',
  });
  return [
    b('bl-1', 'summarizer', '2026-11-05 14:20:00.000', 'prompt v2'),
    b('bl-2', 'summarizer', '2026-11-09 10:00:00.000', 'prompt v3'),
    b('bl-3', 'chat', '2026-11-12 08:00:00.000', 'service.version 1.5.0 (api)', 'service.version'),
    b('bl-4', 'chat', '2026-10-20 00:30:00.000', 'gpt-4o-mini for short answers'),
  ];
}

export interface SeedApproval {
  id: string;
  job: string;
  requester: string;
  approver: string;
  cost_center: string;
  estimated_usd: string;
  approved_usd: string;
  spent_usd: string;
  status: string;
  justification: string;
  created_at: string;
  decided_at: string | null;
  decided_by: string;
  decision_comment: string;
  version: number;
}

export function seedApprovals(): SeedApproval[] {
  const base = {
    requester: 'dev@example.com',
    approver: 'finance@example.com',
    justification: 'quarterly batch',
    decision_comment: '',
  };
  return [
    {
      ...base,
      id: 'ap-1',
      job: 'reindex',
      cost_center: 'cc-search',
      estimated_usd: '120.5',
      approved_usd: '0',
      spent_usd: '0',
      status: 'pending',
      created_at: '2026-11-02 09:00:00.000',
      decided_at: null,
      decided_by: '',
      version: 1,
    },
    {
      ...base,
      id: 'ap-1',
      job: 'reindex',
      cost_center: 'cc-search',
      estimated_usd: '120.5',
      approved_usd: '130',
      spent_usd: '12.25',
      status: 'approved',
      created_at: '2026-11-02 09:00:00.000',
      decided_at: '2026-11-03 10:00:00.000',
      decided_by: 'finance@example.com',
      version: 2,
    },
    {
      ...base,
      id: 'ap-2',
      job: 'backfill',
      cost_center: 'cc-support',
      estimated_usd: '80',
      approved_usd: '0',
      spent_usd: '0',
      status: 'pending',
      created_at: '2026-11-18 15:30:00.000',
      decided_at: null,
      decided_by: '',
      version: 1,
    },
    {
      ...base,
      id: 'ap-3',
      job: 'eval-suite',
      cost_center: 'cc-billing',
      estimated_usd: '999.99',
      approved_usd: '0',
      spent_usd: '0',
      status: 'rejected',
      created_at: '2026-10-20 10:00:00.000',
      decided_at: '2026-10-21 10:00:00.000',
      decided_by: 'finance@example.com',
      version: 2,
    },
    {
      ...base,
      id: 'ap-4',
      job: 'translate',
      cost_center: 'cc-support',
      estimated_usd: '60',
      approved_usd: '60',
      spent_usd: '60',
      status: 'exhausted',
      created_at: '2026-11-05 10:00:00.000',
      decided_at: '2026-11-12 10:00:00.000',
      decided_by: 'cfo@example.com',
      version: 3,
    },
  ];
}

export type SeedOutcome = Pick<OutcomeRow, 'id' | 'time' | 'feature' | 'outcome' | 'count' | 'value_usd'>;

export function seedOutcomes(): SeedOutcome[] {
  const rows: SeedOutcome[] = [];
  const rand = prng(7);
  for (let i = 0; i < 60; i++) {
    const day = 1 + Math.floor(rand() * 25);
    rows.push({
      id: `oc-${i}`,
      time: `2026-${day > 20 ? '10' : '11'}-${String(day).padStart(2, '0')} 10:00:00.000`,
      feature: rand() < 0.5 ? 'summarizer' : rand() < 0.7 ? 'chat' : 'no-ai-feature',
      outcome: rand() < 0.5 ? 'ticket_resolved' : 'summary_sent',
      count: 1 + Math.floor(rand() * 5),
      value_usd: new Decimal(Math.floor(rand() * 10_000)).div(100).toFixed(),
    });
  }
  return rows;
}

/** Issue 25: stored reconciliation runs and lines, bill imports, uninstrumented requests. */
export interface SeedRun {
  run_id: string;
  provider: string;
  month: string;
  computed_at: string;
}
export interface SeedReconLine {
  run_id: string;
  provider: string;
  day: string;
  model: string;
  project: string;
  status: string;
  explanation: string;
  billed_usd: string;
  metered_usd: string;
  covered_usd: string;
  unmetered_usd: string;
  metered_not_billed_usd: string;
  late_usd: string;
  credits_usd: string;
  other_usd: string;
  calls: number;
}
export interface SeedTokenLine {
  run_id: string;
  provider: string;
  day: string;
  model: string;
  project: string;
  status: string;
  billed_input_tokens: number;
  metered_input_tokens: number;
  billed_cached_input_tokens: number;
  metered_cached_input_tokens: number;
  billed_output_tokens: number;
  metered_output_tokens: number;
  billed_requests: number | null;
  calls: number;
}
export interface SeedBillImport {
  import_id: string;
  sha256: string;
  file_name: string;
  format: string;
  imported_at: string;
  imported_by: string;
  providers: string[];
  period_from: string;
  period_to: string;
  rows_read: number;
  lines_kept: number;
  rows_skipped: number;
  problems: string;
  rates: string;
}
export interface SeedHttpCall {
  trace_id: string;
  span_id: string;
  start_time: string;
  service: string;
  host: string;
  provider: string;
}

export function seedReconciliation(): {
  runs: SeedRun[];
  lines: SeedReconLine[];
  tokenLines: SeedTokenLine[];
} {
  const runs: SeedRun[] = [
    { run_id: 'r-oct', provider: 'openai', month: '2026-10-01', computed_at: '2026-11-02 00:00:00.000' },
    { run_id: 'r-oct', provider: 'anthropic', month: '2026-10-01', computed_at: '2026-11-02 00:00:00.000' },
    // A superseded run of November: its lines must never count.
    { run_id: 'r-nov-old', provider: 'openai', month: '2026-11-01', computed_at: '2026-11-10 00:00:00.000' },
    { run_id: 'r-nov-new', provider: 'openai', month: '2026-11-01', computed_at: '2026-11-21 00:00:00.000' },
    {
      run_id: 'r-nov-new',
      provider: 'anthropic',
      month: '2026-11-01',
      computed_at: '2026-11-21 00:00:00.000',
    },
  ];
  const lines: SeedReconLine[] = [];
  const tokenLines: SeedTokenLine[] = [];
  const start = Date.parse('2026-10-10T00:00:00Z');
  for (let i = 0; start + i * 86_400_000 < Date.parse('2026-11-26T00:00:00Z'); i++) {
    const day = new Date(start + i * 86_400_000).toISOString().slice(0, 10);
    const run = day < '2026-11-01' ? 'r-oct' : 'r-nov-new';
    const billed = new Decimal((i % 5) * 2 + 3).plus('0.125');
    const line = (provider: string, model: string, fields: Partial<SeedReconLine>): SeedReconLine => ({
      run_id: run,
      provider,
      day,
      model,
      project: provider === 'openai' ? 'proj_a' : '',
      status: 'matched',
      explanation: '',
      billed_usd: billed.toFixed(),
      metered_usd: billed.toFixed(),
      covered_usd: billed.toFixed(),
      unmetered_usd: '0',
      metered_not_billed_usd: '0',
      late_usd: '0',
      credits_usd: day.endsWith('-01') && provider === 'openai' ? '-10' : '0',
      other_usd: day.endsWith('-01') && provider === 'anthropic' ? '2.5' : '0',
      calls: i + 1,
      ...fields,
    });
    const kind = i % 4;
    const openai =
      kind === 0
        ? line('openai', 'gpt-4o', i % 8 === 0 ? { explanation: 'billing_delay', late_usd: '1' } : {})
        : kind === 1
          ? line('openai', 'gpt-4o', {
              status: 'amount_mismatch',
              metered_usd: billed.minus('1.5').toFixed(),
              covered_usd: billed.minus('1.5').toFixed(),
              unmetered_usd: '1.5',
            })
          : kind === 2
            ? line('openai', 'gpt-4o-mini', {
                status: 'metered_only',
                explanation: 'free_tier',
                billed_usd: '0',
                metered_usd: '1.25',
                covered_usd: '0',
                metered_not_billed_usd: '1.25',
              })
            : line('openai', 'gpt-4.1', {
                status: 'billed_only',
                metered_usd: '0',
                covered_usd: '0',
                unmetered_usd: billed.toFixed(),
              });
    lines.push(openai);
    if (run === 'r-nov-new')
      lines.push({
        ...openai,
        run_id: 'r-nov-old',
        billed_usd: billed.times(10).toFixed(),
        covered_usd: '0',
      });
    lines.push(
      i % 2 === 0
        ? line('anthropic', 'claude-sonnet-4-0', {})
        : line('anthropic', 'claude-sonnet-4-0', {
            status: 'amount_mismatch',
            explanation: i % 3 === 0 ? 'batch_discount' : i % 5 === 0 ? 'flex_discount' : '',
            metered_usd: billed.plus('0.75').toFixed(),
            metered_not_billed_usd: '0.75',
          }),
    );
    // Usage exports of OpenAI only: a matched day, a day the meter missed a third of, an unmetered model.
    const billedIn = 100_000 * ((i % 7) + 1);
    const tokenLine = (fields: Partial<SeedTokenLine>): SeedTokenLine => ({
      run_id: run,
      provider: 'openai',
      day,
      model: 'gpt-4o',
      project: 'proj_a',
      status: 'matched',
      billed_input_tokens: billedIn,
      metered_input_tokens: billedIn,
      billed_cached_input_tokens: billedIn / 4,
      metered_cached_input_tokens: billedIn / 4,
      billed_output_tokens: billedIn / 10,
      metered_output_tokens: billedIn / 10,
      billed_requests: i + 10,
      calls: i + 10,
      ...fields,
    });
    tokenLines.push(
      i % 3 === 1
        ? tokenLine({
            status: 'token_mismatch',
            metered_input_tokens: Math.round((billedIn * 2) / 3),
            metered_output_tokens: billedIn / 20,
          })
        : tokenLine({}),
    );
    if (i % 5 === 0)
      tokenLines.push(
        tokenLine({
          model: 'gpt-4o-mini',
          project: '',
          status: 'billed_only',
          metered_input_tokens: 0,
          metered_cached_input_tokens: 0,
          metered_output_tokens: 0,
          calls: 0,
        }),
      );
    if (run === 'r-nov-new') tokenLines.push(tokenLine({ run_id: 'r-nov-old', billed_input_tokens: 9 }));
  }
  return { runs, lines, tokenLines };
}

export function seedBillImports(): SeedBillImport[] {
  const imp = (
    id: string,
    providers: string[],
    from: string,
    to: string,
    at: string,
    problems: number,
  ): SeedBillImport => ({
    import_id: id,
    sha256: id.padEnd(64, '0'),
    file_name: `${id}.csv`,
    format: 'focus',
    imported_at: at,
    imported_by: 'finance@example.com',
    providers,
    period_from: from,
    period_to: to,
    rows_read: 10,
    lines_kept: 10 - problems,
    rows_skipped: 0,
    problems: JSON.stringify({ count: problems, first: [] }),
    rates: '{}',
  });
  return [
    imp('bill_sep', ['openai'], '2026-09-01', '2026-10-01', '2026-10-03 08:00:00.000', 0),
    imp('bill_oct', ['openai'], '2026-10-01', '2026-11-01', '2026-11-02 09:00:00.000', 2),
    imp('bill_nov', ['anthropic', 'openai'], '2026-11-01', '2026-12-01', '2026-11-21 10:30:00.000', 0),
  ];
}

export function seedHttpCalls(): SeedHttpCall[] {
  const rows: SeedHttpCall[] = [];
  const hosts: Array<[string, string, string]> = [
    ['legacy-reports', 'api.openai.com', 'openai'],
    ['scraper', 'api.anthropic.com', 'anthropic'],
    ['legacy-reports', 'api.anthropic.com', 'anthropic'],
  ];
  for (let i = 0; i < 40; i++) {
    const [service, host, provider] = hosts[i % 3]!;
    const at = new Date(Date.parse('2026-10-05T00:00:00Z') + i * 31 * 3_600_000);
    rows.push({
      trace_id: `ht${i}`.padEnd(32, '0'),
      span_id: `hs${i}`.padEnd(16, '0'),
      start_time: dt3(at),
      service,
      host,
      provider,
    });
  }
  return rows;
}

export interface SeedExpense {
  import_id: string;
  source: string;
  source_line: number;
  day: string;
  merchant: string;
  vendor: string;
  product: string;
  amount: string;
  currency: string;
  rate_to_usd: string | null;
  amount_usd: string | null;
  employee: string;
  department: string;
}
export interface SeedExpenseImport {
  import_id: string;
  source: string;
  imported_at: string;
  days: string[];
}

/** Two card sources; October of `amex` imported twice (the later import is current). */
export function seedExpenses(): { imports: SeedExpenseImport[]; lines: SeedExpense[] } {
  const days = (from: string, to: string): string[] => {
    const out: string[] = [];
    for (let t = Date.parse(`${from}T00:00:00Z`); t < Date.parse(`${to}T00:00:00Z`); t += 86_400_000)
      out.push(new Date(t).toISOString().slice(0, 10));
    return out;
  };
  const imports: SeedExpenseImport[] = [
    {
      import_id: 'e-amex-oct-1',
      source: 'amex',
      imported_at: '2026-11-01 08:00:00.000',
      days: days('2026-10-01', '2026-11-01'),
    },
    {
      import_id: 'e-amex-oct-2',
      source: 'amex',
      imported_at: '2026-11-03 08:00:00.000',
      days: days('2026-10-01', '2026-11-01'),
    },
    {
      import_id: 'e-amex-nov',
      source: 'amex',
      imported_at: '2026-11-21 08:00:00.000',
      days: days('2026-11-01', '2026-11-21'),
    },
    {
      import_id: 'e-ramp-nov',
      source: 'ramp',
      imported_at: '2026-11-21 09:00:00.000',
      days: days('2026-11-01', '2026-12-01'),
    },
  ];
  const vendors: Array<[string, string, string]> = [
    ['OPENAI *CHATGPT SUBSCR', 'OpenAI', 'ChatGPT'],
    ['CURSOR, AI POWERED IDE', 'Cursor', 'Cursor'],
    ['GITHUB COPILOT', 'GitHub', 'Copilot'],
    ['DELTA AIR LINES', '', ''],
  ];
  const people = ['ana@example.com', 'bo@example.com', ''];
  const lines: SeedExpense[] = [];
  let n = 0;
  for (const imp of imports) {
    for (const [i, day] of imp.days.entries()) {
      if (i % 3 !== 0) continue;
      const [merchant, vendor, product] = vendors[n % vendors.length]!;
      const amount = new Decimal(20 + (n % 4) * 5).plus(imp.import_id === 'e-amex-oct-1' ? '100' : '0');
      const eur = n % 5 === 0;
      lines.push({
        import_id: imp.import_id,
        source: imp.source,
        source_line: i + 2,
        day,
        merchant,
        vendor,
        product,
        amount: amount.toFixed(),
        currency: eur ? 'EUR' : 'USD',
        rate_to_usd: eur ? '1.1' : '1',
        amount_usd: amount.times(eur ? '1.1' : '1').toFixed(),
        employee: people[n % people.length]!,
        department: n % 2 === 0 ? 'engineering' : 'design',
      });
      n++;
    }
  }
  return { imports, lines };
}

export interface Seed {
  expenseImports: SeedExpenseImport[];
  expenses: SeedExpense[];
  calls: SeedCall[];
  snapshots: SeedSnapshot[];
  burndown: SeedPoint[];
  baselines: SeedBaseline[];
  approvals: SeedApproval[];
  outcomes: SeedOutcome[];
  runs: SeedRun[];
  reconLines: SeedReconLine[];
  tokenLines: SeedTokenLine[];
  billImports: SeedBillImport[];
  httpCalls: SeedHttpCall[];
}

/** Inserts the dataset; outcomes twice (a retried report), which the table must keep once. */
export async function seedStorage(storage: Storage): Promise<Seed> {
  const reconciliation = seedReconciliation();
  const expenses = seedExpenses();
  const seed: Seed = {
    expenseImports: expenses.imports,
    expenses: expenses.lines,
    calls: seedCalls(),
    snapshots: seedSnapshots(),
    burndown: seedBurndown(),
    baselines: seedBaselines(),
    approvals: seedApprovals(),
    outcomes: seedOutcomes(),
    runs: reconciliation.runs,
    reconLines: reconciliation.lines,
    tokenLines: reconciliation.tokenLines,
    billImports: seedBillImports(),
    httpCalls: seedHttpCalls(),
  };
  const insert = async (table: string, values: object[]): Promise<void> => {
    await storage.client.insert({ table: `${storage.database}.${table}`, values, format: 'JSONEachRow' });
  };
  await insert(
    'llm_calls',
    seed.calls.map(({ at: _at, ...row }) => row),
  );
  await insert('budget_snapshots', seed.snapshots);
  await insert('budget_burndown', seed.burndown);
  // Marked twice (a retried request): stored once.
  await insert('baselines', seed.baselines);
  await insert('baselines', seed.baselines.slice(0, 1));
  for (const a of seed.approvals) await insert('approvals', [a]);
  // Through the collector's write path (both tables, one row per id).
  const outcomes = new OutcomeStore(storage);
  const outcomeRow = (o: SeedOutcome): OutcomeRow => ({
    ...o,
    team: '',
    cost_center: '',
    customer: '',
    environment: '',
    service: '',
    ingest_key: '',
    claimed_attribution: '',
  });
  await outcomes.store(seed.outcomes.map(outcomeRow));
  await outcomes.store(seed.outcomes.slice(0, 10).map(outcomeRow));
  await insert('reconciliation_runs', seed.runs);
  await insert('reconciliation_lines', seed.reconLines);
  await insert('reconciliation_token_lines', seed.tokenLines);
  await insert('bill_imports', seed.billImports);
  await insert('expense_lines', seed.expenses);
  for (const imp of seed.expenseImports) {
    await insert(
      'expense_coverage',
      imp.days.map((day) => ({
        source: imp.source,
        day,
        import_id: imp.import_id,
        imported_at: imp.imported_at,
      })),
    );
    await insert('expense_imports', [
      { import_id: imp.import_id, source: imp.source, imported_at: imp.imported_at },
    ]);
  }
  // Twice: a retried export; the panels count each request once.
  await insert('ai_http_calls', seed.httpCalls);
  await insert('ai_http_calls', seed.httpCalls.slice(0, 5));
  await syncModelPrices(
    storage,
    (line) => {
      throw new Error(line);
    },
    PRICES_AT,
  );
  await insert(
    'model_prices',
    EXTRA_PRICES.map((p) => ({ ...p, synced_at: dt3(PRICES_AT) })),
  );
  // The policy in force, with its savings rules (what the collector stores on every load).
  await insert('policy_versions', [
    {
      at: '2026-10-01 00:00:00.000',
      version: 'f'.repeat(64),
      action: 'loaded',
      file: 'tokenledger.policy.yaml',
      policy: JSON.stringify({ version: 1, policies: [], savings: { alternatives: SAVINGS_ALTERNATIVES } }),
    },
  ]);
  return seed;
}

export { dt3 };
