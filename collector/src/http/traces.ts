/**
 * POST /v1/traces — the OTLP/HTTP receiver. Acks (200) only after the calls are stored; a body
 * that is not OTLP gets 400 (not retryable), an unknown media type 415, storage trouble 503 +
 * Retry-After (the exporter retries, and the writer's dedupe makes the retry safe).
 *
 * Memory: a request decodes only when its estimated cost fits the receiver's budget (its share
 * already holds its body, see ./otlp-body.ts), else 429 + Retry-After; one that could never fit
 * gets 413. Once decoded, its share shrinks to what its calls take until they are stored.
 */
import type { Request, Response } from 'express';
import { Money } from '../core/money';
import type { PricedCall } from '../core/call';
import type { LandedCall } from '../govern/budgets/leases';
import { formatScope, scopeCall } from '../govern/keys/scope';
import { processTraceRequest, type IngestResult, type IngestOptions } from '../ingest/pipeline';
import { decodeTraceRequest } from '../ingest/otlp/decode';
import { CALL_BYTES, decodeCost } from '../ingest/otlp/decode-cost';
import { OtlpDecodeError } from '../ingest/otlp/errors';
import type { Pricer } from '../pricing/pricer';
import type { CallWriter } from '../storage/writer';
import type { BudgetShare } from './ingest-budget';
import type { CollectorMetrics } from './metrics';
import { budgetShareOf } from './otlp-body';
import { sendOtlpError, sendOtlpSuccess } from './otlp-response';

/** Seconds an exporter should wait before retrying a batch we could not store. */
export const RETRY_AFTER_SECONDS = 5;

/** Seconds an exporter should wait when the write queue or the memory budget is full. */
export const BACKPRESSURE_RETRY_AFTER_SECONDS = 1;

const MB = 1_000_000;

export interface TracesDeps {
  pricer: Pricer;
  writer: Pick<CallWriter, 'write' | 'queuedCalls'>;
  /** Above this many calls waiting to be written, answer 429 + Retry-After instead of queueing more. */
  maxQueuedCalls: number;
  metrics: CollectorMetrics;
  log: (line: string) => void;
  /** Why new spans must be refused now (low disk space, a full journal), if they must. */
  refuseIngest?: () => string | undefined;
  /** Value caps and the like for the ingest pipeline. */
  ingest?: IngestOptions;
  /** Budget leases: stored calls stop counting as held by the leases that reserved them (./leases.ts). */
  leaseLanded?: (req: Request, calls: LandedCall[]) => void;
}

type Decoded = { result: IngestResult } | { status: number; message: string };

/**
 * Decodes the request's body within its share of the memory budget (when it has one), and drops
 * the body: nothing of it outlives this function but the calls.
 */
function decodeWithin(req: Request, share: BudgetShare | undefined, deps: TracesDeps): Decoded {
  const contentType = req.headers['content-type'] ?? '';
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  req.body = undefined;
  if (share) {
    const cost = decodeCost(body, contentType);
    if (body.length + cost.bytes > share.limitBytes) {
      deps.metrics.add('tokenledger_otlp_too_large_total');
      const spans = cost.spans !== undefined ? ` (${cost.spans} spans)` : '';
      return {
        status: 413,
        message:
          `request too large to decode: about ${Math.ceil((body.length + cost.bytes) / MB)} MB${spans}, more than the ` +
          `${Math.floor(share.limitBytes / MB)} MB the collector decodes at once (TOKENLEDGER_MAX_INGEST_BYTES); send smaller batches`,
      };
    }
    if (!share.grow(cost.bytes)) {
      deps.metrics.add('tokenledger_otlp_memory_shed_total');
      return { status: 429, message: 'collector busy: too much OTLP data in flight; retry later' };
    }
  }
  const result = processTraceRequest(decodeTraceRequest(body, contentType), deps.pricer, deps.ingest);
  // From here on the share covers what waits to be stored: the calls.
  share?.resize((result.calls.length + result.aiHttpCalls.length) * CALL_BYTES);
  return { result };
}

/** Seconds an exporter should wait while the collector refuses spans for lack of room. */
export const NO_ROOM_RETRY_AFTER_SECONDS = 10;

export function tracesHandler(deps: TracesDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    // Backpressure: a collector that cannot keep up sheds load the way OTLP exporters understand
    // (429 + Retry-After: they keep the batch and retry) instead of growing memory without bound.
    if (deps.writer.queuedCalls > deps.maxQueuedCalls) {
      deps.metrics.add('tokenledger_otlp_throttled_total');
      res.set('Retry-After', String(BACKPRESSURE_RETRY_AFTER_SECONDS));
      sendOtlpError(req, res, 429, 'collector busy: too many calls waiting to be stored; retry later');
      return;
    }
    // Before the disk is full: refused as a 503 the exporter retries, never acknowledged and lost.
    const refused = deps.refuseIngest?.();
    if (refused) {
      deps.metrics.add('tokenledger_otlp_refused_total');
      res.set('Retry-After', String(NO_ROOM_RETRY_AFTER_SECONDS));
      sendOtlpError(req, res, 503, `${refused}; retry later`);
      return;
    }
    let result: IngestResult;
    try {
      const decoded = decodeWithin(req, budgetShareOf(res), deps);
      if ('status' in decoded) {
        if (decoded.status === 429) res.set('Retry-After', String(BACKPRESSURE_RETRY_AFTER_SECONDS));
        sendOtlpError(req, res, decoded.status, decoded.message);
        return;
      }
      result = decoded.result;
    } catch (err) {
      if (err instanceof OtlpDecodeError) {
        deps.metrics.add('tokenledger_otlp_decode_errors_total');
        sendOtlpError(req, res, err.statusCode, err.message);
        return;
      }
      throw err;
    }
    deps.metrics.add('tokenledger_spans_received_total', result.spans + result.rejectedSpans);
    deps.metrics.add('tokenledger_spans_rejected_total', result.rejectedSpans);
    const outOfScope = fileUnderKey(req, result);
    try {
      const written = await deps.writer.write(result.calls, result.aiHttpCalls);
      deps.metrics.add('tokenledger_calls_stored_total', written.inserted);
      deps.metrics.add('tokenledger_calls_duplicate_total', written.duplicates);
      deps.metrics.add('tokenledger_calls_unpriced_total', result.unpricedCalls);
      deps.metrics.add('tokenledger_calls_replaced_total', result.replacingCalls);
      deps.metrics.add('tokenledger_calls_truncated_total', result.truncatedRows);
      deps.metrics.add('tokenledger_calls_out_of_scope_total', outOfScope);
      deps.leaseLanded?.(req, landedCalls(result.calls));
    } catch (err) {
      deps.metrics.add('tokenledger_storage_errors_total');
      deps.log(`ingest: ${(err as Error).message}`);
      res.set('Retry-After', String(RETRY_AFTER_SECONDS));
      sendOtlpError(req, res, 503, 'storage unavailable; retry later');
      return;
    }
    const scopeWarning =
      outOfScope > 0
        ? `${outOfScope} call(s) claimed attribution outside this key's scope (${formatScope(req.principal?.scope)}): ` +
          'recorded under the scope, the claimed values kept and flagged'
        : '';
    sendOtlpSuccess(
      req,
      res,
      result.rejectedSpans,
      [result.errorMessage, scopeWarning].filter((m) => m !== '').join('; '),
    );
  };
}

/**
 * Records which key sent each call, and files a scoped key's calls under its scope (spend is never
 * dropped; what a span claimed outside the scope is kept, flagged). Returns how many were outside.
 */
function fileUnderKey(req: Request, result: IngestResult): number {
  // Mounted without a key check (an embedding app's own route): nothing to record or scope.
  if (!req.principal) return 0;
  const { name, scope } = req.principal;
  let outside = 0;
  const scopeText = formatScope(scope);
  for (const c of result.calls) {
    c.ingestKey = name;
    c.ingestKeyScope = scopeText;
    const claimed = scope ? scopeCall(scope, c.attribution) : undefined;
    if (claimed) {
      c.claimedAttribution = JSON.stringify(claimed);
      outside++;
    }
  }
  const services = scope?.service;
  if (services)
    for (const h of result.aiHttpCalls) if (!services.includes(h.service)) h.service = services[0]!;
  return outside;
}

/** Stored calls a guard reserved from budget leases. */
function landedCalls(calls: PricedCall[]): LandedCall[] {
  return calls
    .filter((c) => c.leaseIds !== undefined && c.priced)
    .map((c) => ({ leaseIds: c.leaseIds!, spanKey: c.traceId + c.spanId, costUsd: new Money(c.costUsd) }));
}
