/** PricedCall → the llm_calls row (column names as in collector/migrations/0001_llm_calls.sql). */
import type { PricedCall } from '../core/call';

export interface CallRow {
  trace_id: string;
  span_id: string;
  start_time: string;
  duration_ms: number;
  provider: string;
  operation: string;
  request_model: string;
  response_model: string;
  /** The model the app asked for when the guard switched it (tokenledger.original_model), else ''. */
  asked_model: string;
  priced_provider: string;
  priced_model: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cache_write_1h_tokens: number;
  reasoning_tokens: number;
  streaming: number;
  error_type: string;
  server_address: string;
  enforcement: string;
  source: string;
  team: string;
  department: string;
  cost_center: string;
  feature: string;
  workflow: string;
  customer: string;
  user_tier: string;
  environment: string;
  service: string;
  service_version: string;
  /** The tier the provider served the call on (lower case), '' when the span does not say. */
  service_tier: string;
  end_user: string;
  approval_id: string;
  cost_usd: string;
  input_cost_usd: string;
  output_cost_usd: string;
  priced: number;
  /** 1 when a text value was cut to the collector's cap (ingest/value-cap.ts). */
  truncated: number;
  ingest_key: string;
  claimed_attribution: string;
  ingest_key_scope: string;
}

/**
 * The model a stored call is counted under — the catalog id it was priced as, else the model as
 * reported — as the hourly rollup's `model` column holds it (migration 0002).
 */
export const MODEL_SQL =
  "if(priced_model != '', priced_model, if(response_model != '', response_model, request_model))";

const NS_PER_S = 1_000_000_000n;

/**
 * Nanoseconds since the epoch (decimal string) → `YYYY-MM-DD hh:mm:ss.nnnnnnnnn` (UTC), the one text
 * form DateTime64(9) reads exactly. A bare integer string is guessed at by ClickHouse's parser: it
 * reads 19 digits as nanoseconds but refuses 18 (any time before 2001-09-09), which would make a
 * batch with an old or zero timestamp fail, and be retried, forever.
 */
export function nanosToDateTime64(ns: string): string {
  let seconds: number;
  let frac: string;
  if (ns.length > 0 && ns.charCodeAt(0) !== 45 /* - */) {
    // A non-negative decimal string (what the decoders produce): split it as text, no BigInt.
    const cut = ns.length - 9;
    seconds = cut > 0 ? Number(ns.slice(0, cut)) : 0;
    frac = cut > 0 ? ns.slice(cut) : ns.padStart(9, '0');
  } else {
    const n = BigInt(ns);
    let s = n / NS_PER_S;
    let f = n % NS_PER_S;
    if (f < 0n) {
      s -= 1n;
      f += NS_PER_S;
    }
    seconds = Number(s);
    frac = f.toString().padStart(9, '0');
  }
  // Spans of one export mostly share their second: its text is computed once.
  if (seconds !== lastSeconds) {
    const date = new Date(seconds * 1000).toISOString(); // 2026-11-15T12:34:56.000Z
    lastSeconds = seconds;
    lastSecondText = `${date.slice(0, 10)} ${date.slice(11, 19)}`;
  }
  return `${lastSecondText}.${frac}`;
}
let lastSeconds: number | undefined;
let lastSecondText = '';

/** llm_calls columns in the order of `toCompactRow`'s values (the inserts name them explicitly). */
export const CALL_COLUMNS = [
  'trace_id',
  'span_id',
  'start_time',
  'duration_ms',
  'provider',
  'operation',
  'request_model',
  'response_model',
  'asked_model',
  'priced_provider',
  'priced_model',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'cache_write_1h_tokens',
  'reasoning_tokens',
  'streaming',
  'error_type',
  'server_address',
  'enforcement',
  'source',
  'team',
  'department',
  'cost_center',
  'feature',
  'workflow',
  'customer',
  'user_tier',
  'environment',
  'service',
  'service_version',
  'service_tier',
  'end_user',
  'approval_id',
  'cost_usd',
  'input_cost_usd',
  'output_cost_usd',
  'priced',
  'truncated',
  'ingest_key',
  'claimed_attribution',
  'ingest_key_scope',
] as const satisfies ReadonlyArray<keyof CallRow>;

/**
 * The row as values in CALL_COLUMNS order, for JSONCompactEachRow: no key per value, so the insert
 * body is about half the size and both JSON.stringify and the engine's parser do less.
 */
export function toCompactRow(c: PricedCall): Array<string | number> {
  const a = c.attribution;
  return [
    c.traceId,
    c.spanId,
    nanosToDateTime64(c.startTimeUnixNano),
    c.durationMs,
    c.provider,
    c.operation,
    c.requestModel,
    c.responseModel,
    c.askedModel ?? '',
    c.pricedProvider,
    c.pricedModel,
    c.inputTokens,
    c.outputTokens,
    c.cacheReadTokens,
    c.cacheWriteTokens,
    c.cacheWrite1hTokens,
    c.reasoningTokens,
    c.streaming ? 1 : 0,
    c.errorType,
    c.serverAddress,
    c.enforcement,
    c.source,
    a.team,
    a.department,
    a.costCenter,
    a.feature,
    a.workflow,
    a.customer,
    a.userTier,
    a.environment,
    a.service,
    c.serviceVersion ?? '',
    c.serviceTier ?? '',
    a.endUser,
    a.approvalId,
    // Decimal columns take the exact decimal string.
    c.costUsd,
    c.inputCostUsd,
    c.outputCostUsd,
    c.priced ? 1 : 0,
    c.truncated ? 1 : 0,
    c.ingestKey ?? '',
    c.claimedAttribution ?? '',
    c.ingestKeyScope ?? '',
  ];
}

/** The row as an object keyed by column (tests and seeds). */
export function toRow(c: PricedCall): CallRow {
  const values = toCompactRow(c);
  return Object.fromEntries(CALL_COLUMNS.map((k, i) => [k, values[i]])) as unknown as CallRow;
}

/**
 * The call as one line of JSONCompactEachRow (its values in CALL_COLUMNS order, then a newline): the
 * text the writer inserts, and what the journal keeps of it (storage/journal).
 */
export function toRowLine(c: PricedCall): string {
  return JSON.stringify(toCompactRow(c)) + '\n';
}

const NINE_DIGITS = /^\d{9}$/;

/** `YYYY-MM-DD hh:mm:ss.nnnnnnnnn` (UTC, as nanosToDateTime64 writes it) → nanoseconds since the epoch. */
export function dateTime64ToNanos(text: string): string {
  const ms = Date.UTC(
    Number(text.slice(0, 4)),
    Number(text.slice(5, 7)) - 1,
    Number(text.slice(8, 10)),
    Number(text.slice(11, 13)),
    Number(text.slice(14, 16)),
    Number(text.slice(17, 19)),
  );
  if (text.length !== 29 || !Number.isFinite(ms)) throw new Error(`not a stored start time: '${text}'`);
  const fraction = text.slice(20);
  // After 1970: the seconds' digits, then the nine of the fraction (no BigInt: the journal's
  // read-back turns every key's start time with this).
  if (ms >= 1000 && NINE_DIGITS.test(fraction)) return `${ms / 1000}${fraction}`;
  return (BigInt(ms / 1000) * NS_PER_S + BigInt(fraction)).toString();
}

type CallColumn = (typeof CALL_COLUMNS)[number];

/** Each column's place in a list of columns, so a stored row is read by name, not by a counted index. */
const columnIndex = (columns: ReadonlyArray<string>): Map<string, number> =>
  new Map(columns.map((c, i) => [c, i]));
/** Per list of columns (a journal segment's header names one list for all its rows). */
const indexes = new WeakMap<ReadonlyArray<string>, Map<string, number>>([
  [CALL_COLUMNS, columnIndex(CALL_COLUMNS)],
]);

/**
 * The values of `toCompactRow` → the call they store (what toCompactRow reads of it, so that the row
 * written again is the same row). Used to restore journaled rows; in-flight flags (`replacesStored`,
 * leases) are not stored and not needed there.
 */
export function fromCompactRow(
  v: ReadonlyArray<string | number>,
  columns: ReadonlyArray<string> = CALL_COLUMNS,
): PricedCall {
  if (v.length !== columns.length)
    throw new Error(`a stored row has ${v.length} values, not ${columns.length}`);
  // Rows journaled by a collector with other columns (an upgrade in between) are read by name; a
  // column they lack reads as toCompactRow writes an absent value ('' or 0).
  let index = indexes.get(columns);
  if (index === undefined) indexes.set(columns, (index = columnIndex(columns)));
  const at = (c: CallColumn): string | number | undefined => {
    const i = index.get(c);
    return i === undefined ? undefined : v[i];
  };
  const s = (c: CallColumn): string => String(at(c) ?? '');
  const n = (c: CallColumn): number => Number(at(c) ?? 0);
  const call: PricedCall = {
    traceId: s('trace_id'),
    spanId: s('span_id'),
    startTimeUnixNano: dateTime64ToNanos(s('start_time')),
    durationMs: n('duration_ms'),
    provider: s('provider'),
    operation: s('operation'),
    requestModel: s('request_model'),
    responseModel: s('response_model'),
    pricedProvider: s('priced_provider'),
    pricedModel: s('priced_model'),
    inputTokens: n('input_tokens'),
    outputTokens: n('output_tokens'),
    cacheReadTokens: n('cache_read_tokens'),
    cacheWriteTokens: n('cache_write_tokens'),
    cacheWrite1hTokens: n('cache_write_1h_tokens'),
    reasoningTokens: n('reasoning_tokens'),
    streaming: n('streaming') === 1,
    errorType: s('error_type'),
    serverAddress: s('server_address'),
    enforcement: s('enforcement'),
    source: s('source'),
    attribution: {
      team: s('team'),
      department: s('department'),
      costCenter: s('cost_center'),
      feature: s('feature'),
      workflow: s('workflow'),
      customer: s('customer'),
      userTier: s('user_tier'),
      environment: s('environment'),
      service: s('service'),
      endUser: s('end_user'),
      approvalId: s('approval_id'),
    },
    costUsd: s('cost_usd'),
    inputCostUsd: s('input_cost_usd'),
    outputCostUsd: s('output_cost_usd'),
    priced: n('priced') === 1,
    truncated: n('truncated') === 1,
  };
  // Optional texts: toCompactRow writes '' for an absent one.
  if (s('asked_model') !== '') call.askedModel = s('asked_model');
  if (s('service_version') !== '') call.serviceVersion = s('service_version');
  if (s('service_tier') !== '') call.serviceTier = s('service_tier');
  if (s('ingest_key') !== '') call.ingestKey = s('ingest_key');
  if (s('claimed_attribution') !== '') call.claimedAttribution = s('claimed_attribution');
  if (s('ingest_key_scope') !== '') call.ingestKeyScope = s('ingest_key_scope');
  return call;
}
