/**
 * The in-app policy guard (see ./hook.ts for the contract with the provider patches and
 * docs/GUARD.md for the user-facing rules). It enforces, with no network round trip on the hot
 * path: the kill switches, required attribution, model allow/deny lists, max tokens per call,
 * per-process rate limits, and budgets (the collector's state, at most ~2 s old, plus this
 * process's own spend since, and a leased slice of what is left so that many processes together
 * stay within the budget). State is refreshed in the background on unref'd timers.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { diag, type Attributes, type Span } from '@opentelemetry/api';
import { collectorUrl } from '../collector-api';
import { GUARD_KEY_REFUSED, SET_INGEST_KEY, warnOnce } from '../warn-once';
import {
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_SERVICE_NAME,
  ATTR_TL_ENFORCEMENT,
  ATTR_TL_ORIGINAL_MODEL,
  ATTR_TL_POLICY,
  ATTR_TL_USAGE_CACHE_CREATION_1H_INPUT_TOKENS,
  ENFORCEMENT_ALLOWED,
  ENFORCEMENT_BLOCKED,
  ENFORCEMENT_CLAMPED,
  ENFORCEMENT_DOWNGRADED,
} from '../semconv';
import { picoToUsd } from '../money/pico';
import { PriceFetcher } from '../money/price-fetcher';
import { costPico, type TokenUsage, type UnitPrices } from '../money/unit-prices';
import type { BudgetsResponse } from '../wire';
import { collectorJson, GuardRequestError } from './collector-client';
import { askCollectorPrices } from './collector-prices';
import { DEFAULT_INPUT_TOKENS, DEFAULT_OUTPUT_TOKENS, UsageEstimator } from './estimator';
import type { Guard, GuardedCall, GuardVerdict } from './hook';
import { LeaseHolder } from './lease';
import { resourceFromEnv, type CallFacts } from './match';
import {
  attributionError,
  budgetExceededError,
  killSwitchError,
  maxTokensError,
  modelNotAllowedError,
  rateLimitedError,
  unreachableError,
} from './messages';
import { TokenBucket } from './rate-limit';
import { compileState, type BudgetWindow, type CompiledPolicy, type GuardState } from './state';

export interface GuardEngineOptions {
  /** How often the budget state is fetched (default 1000 ms). */
  refreshMs?: number;
  /** Without an answer for this long the collector counts as unreachable (default 5000 ms). */
  failAfterMs?: number;
  /** Resource attributes (default: from OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME). */
  resource?: Record<string, string>;
}

const REQUEST_TIMEOUT_MS = 1_500;
const EXIT_RELEASE_TIMEOUT_MS = 500;
/** Slice sizing, see sliceFor. */
const SLICE_FLOOR_DIVISOR = 50n;
const SLICE_CEILING_DIVISOR = 10n;
const SLICE_CALLS = 8n;

/** One shared verdict for calls a policy looked at and let through unchanged. */
const ALLOWED_VERDICT: GuardVerdict = Object.freeze({
  attributes: Object.freeze({ [ATTR_TL_ENFORCEMENT]: ENFORCEMENT_ALLOWED }) as Attributes,
});

export class GuardEngine implements Guard {
  private state: GuardState | undefined;
  private lastOkAt = 0;
  private refreshing = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly refreshMs: number;
  private readonly failAfterMs: number;
  private readonly resource: Record<string, string>;
  private readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly leases = new Map<string, LeaseHolder>();
  /** This process's settled spend per budget period (`name|period_start`), all time. */
  private readonly localPico = new Map<string, bigint>();
  /** localPico when the state in use was requested: spend since then is added to the state's. */
  private localBase = new Map<string, bigint>();
  private readonly estimator = new UsageEstimator();
  private readonly fetchedPrices = new PriceFetcher(askCollectorPrices);
  private lastEstimatePico = new Map<string, bigint>();
  private markReady: (() => void) | undefined;
  /** Resolves once the first budget state has arrived. */
  readonly firstState = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(options: GuardEngineOptions = {}) {
    this.refreshMs = options.refreshMs ?? 1_000;
    this.failAfterMs = options.failAfterMs ?? 5_000;
    this.resource = options.resource ?? resourceFromEnv();
  }

  /**
   * Starts the background refresh. The first fetch waits one macrotask: `start()` runs from
   * `--require`, before the app's own code, and a request now would load node:http before an app
   * that registers the standard HTTP instrumentation could (leaving http unpatched for it).
   */
  start(): void {
    if (this.timer) return;
    setTimeout(() => void this.refresh(), 0).unref();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The hot path: no I/O, no allocation for calls no policy touches. */
  check(call: GuardedCall): GuardVerdict | undefined {
    const s = this.state;
    if (s === undefined) return undefined; // never fetched: open
    const now = Date.now();
    if (s.failClosed && now - this.lastOkAt > this.failAfterMs) {
      throw unreachableError(Math.round((now - this.lastOkAt) / 1000), collectorUrl());
    }
    if (s.killSwitch) throw killSwitchError(undefined, call.model);
    if (s.required?.block) this.checkAttribution(s.required.fields, s.required.keys, call);
    let verdict: GuardVerdict | undefined;
    const policies = s.policies;
    for (let i = 0; i < policies.length; i++) {
      const p = policies[i]!;
      if (!p.matches(call)) continue;
      verdict = this.applyPolicy(p, call, verdict ?? ALLOWED_VERDICT, now, s);
    }
    return verdict;
  }

  private checkAttribution(fields: string[], keys: string[], call: GuardedCall): void {
    let missing: string[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const v = call.attributes[keys[i]!] ?? this.resource[keys[i]!];
      if (v === undefined || v === '') (missing ??= []).push(fields[i]!);
    }
    if (missing) throw attributionError(missing, fields);
  }

  private applyPolicy(
    p: CompiledPolicy,
    call: GuardedCall,
    sofar: GuardVerdict,
    now: number,
    s: GuardState,
  ): GuardVerdict {
    if (p.disabled) throw killSwitchError(p.name, call.model);
    const model = call.model;
    if (model !== undefined && (p.deny?.has(model) || (p.allow !== undefined && !p.allow.has(model)))) {
      throw modelNotAllowedError(p.name, model, p.allowList, p.deny?.has(model) === true);
    }
    let verdict = sofar;
    let maxTokens = sofar.maxTokens ?? call.maxTokens;
    if (
      p.maxTokens !== undefined &&
      call.operation !== 'embeddings' &&
      (maxTokens === undefined || maxTokens > p.maxTokens)
    ) {
      if (maxTokens !== undefined && p.rejectMaxTokens) throw maxTokensError(p.name, maxTokens, p.maxTokens);
      maxTokens = p.maxTokens;
      verdict = withChange(verdict, p.name, { maxTokens }, ENFORCEMENT_CLAMPED, {
        [ATTR_GEN_AI_REQUEST_MAX_TOKENS]: maxTokens,
      });
    }
    if (p.callsPerMinute !== undefined) {
      const b = this.bucket(p.name, 'calls', p.callsPerMinute, now);
      if (!b.tryTake(1, now))
        throw rateLimitedError(p.name, 'calls', p.callsPerMinute, b.secondsUntil(1, now));
    }
    if (p.tokensPerMinute !== undefined) {
      const b = this.bucket(p.name, 'tokens', p.tokensPerMinute, now);
      if (!b.hasAny(now)) throw rateLimitedError(p.name, 'tokens', p.tokensPerMinute, b.secondsUntil(1, now));
    }
    if (p.budget !== undefined && p.onExceeded !== 'alert' && verdict.model === undefined) {
      const over = this.budgetBlocks(p, p.budget, call, maxTokens, now, s);
      if (over !== undefined) {
        if (p.onExceeded === 'downgrade' && p.downgradeTo !== undefined && p.downgradeTo !== model) {
          verdict = withChange(verdict, p.name, { model: p.downgradeTo }, ENFORCEMENT_DOWNGRADED, {
            [ATTR_GEN_AI_REQUEST_MODEL]: p.downgradeTo,
            ...(model !== undefined ? { [ATTR_TL_ORIGINAL_MODEL]: model } : {}),
          });
        } else if (p.onExceeded !== 'downgrade') {
          throw over();
        }
      }
    }
    return verdict;
  }

  /** undefined when the call fits the budget (reserved from the lease), else the error to throw. */
  private budgetBlocks(
    p: CompiledPolicy,
    b: BudgetWindow,
    call: GuardedCall,
    maxTokens: number | undefined,
    now: number,
    s: GuardState,
  ): (() => Error) | undefined {
    const spent = b.spentPico + (this.localPico.get(b.key) ?? 0n) - (this.localBase.get(b.key) ?? 0n);
    const numbers = (estimate?: bigint) => ({
      spentUsd: picoToUsd(spent),
      limitUsd: b.limitUsd,
      period: b.period,
      periodStart: b.periodStart,
      periodEnd: b.periodEnd,
      ...(estimate !== undefined ? { estimatedCallUsd: picoToUsd(estimate) } : {}),
    });
    if (spent >= b.limitPico) return () => budgetExceededError(p.name, numbers(), call.model, false);
    const lease = this.lease(b);
    if (!lease.active) return undefined; // first slice not granted yet (or no lease endpoint): the state decides
    const prices = this.pricesFor(s, call.provider, call.model) ?? s.prices.highest();
    const estimate = prices && call.model ? this.estimator.estimatePico(prices, call.model, maxTokens) : 0n;
    this.lastEstimatePico.set(b.key, estimate);
    if (lease.tryReserve(estimate, now)) {
      if (lease.isLow(estimate)) void lease.request(this.sliceFor(b));
      return undefined;
    }
    void lease.request(this.sliceFor(b));
    return () => budgetExceededError(p.name, numbers(estimate), call.model, true);
  }

  /**
   * Slice size to ask for: 8 calls' worth (the last estimate, or a default-sized call at the highest
   * known price before the first), at least 2 % of the budget, at most 10 % of it unless 2 calls
   * need more: small enough that budget is not stranded in idle processes, large enough that a
   * busy process tops up about once a second.
   */
  private sliceFor(b: BudgetWindow): bigint {
    const estimate = this.lastEstimatePico.get(b.key) ?? this.defaultEstimate();
    const floor = b.limitPico / SLICE_FLOOR_DIVISOR;
    const ceiling = max(b.limitPico / SLICE_CEILING_DIVISOR, estimate * 2n);
    const wanted = estimate * SLICE_CALLS;
    return wanted < floor ? floor : wanted > ceiling ? ceiling : wanted;
  }

  private defaultEstimate(): bigint {
    const top = this.state?.prices.highest();
    return top
      ? costPico(top, {
          input: DEFAULT_INPUT_TOKENS,
          output: DEFAULT_OUTPUT_TOKENS,
          cacheRead: 0,
          cacheWrite: 0,
        })
      : 0n;
  }

  private lease(b: BudgetWindow): LeaseHolder {
    let lease = this.leases.get(b.key);
    if (lease === undefined) {
      const name = b.key.slice(0, b.key.lastIndexOf('|'));
      lease = new LeaseHolder(name, b.periodStart, this.holder, b.limitPico);
      this.leases.set(b.key, lease);
      void lease.request(this.sliceFor(b));
    }
    return lease;
  }

  private bucket(policy: string, what: string, perMinute: number, now: number): TokenBucket {
    const key = `${policy}|${what}`;
    let b = this.buckets.get(key);
    if (b === undefined || b.perMinute !== perMinute) {
      b = new TokenBucket(perMinute, now);
      this.buckets.set(key, b);
    }
    return b;
  }

  /** Every ended tokenledger span: count its tokens and cost against the policies it falls under. */
  onSpanEnded(span: Span): void {
    const s = this.state;
    if (s === undefined) return;
    const attrs = (span as unknown as { attributes?: Attributes }).attributes;
    if (!attrs || attrs[ATTR_TL_ENFORCEMENT] === ENFORCEMENT_BLOCKED) return;
    const num = (k: string): number => {
      const v = attrs[k];
      return typeof v === 'number' && v > 0 ? v : 0;
    };
    const provider = String(attrs[ATTR_GEN_AI_PROVIDER_NAME] ?? '');
    const sent =
      typeof attrs[ATTR_GEN_AI_REQUEST_MODEL] === 'string' ? attrs[ATTR_GEN_AI_REQUEST_MODEL] : undefined;
    const asked = typeof attrs[ATTR_TL_ORIGINAL_MODEL] === 'string' ? attrs[ATTR_TL_ORIGINAL_MODEL] : sent;
    const responseModel = attrs[ATTR_GEN_AI_RESPONSE_MODEL];
    const usage = {
      input: num(ATTR_GEN_AI_USAGE_INPUT_TOKENS),
      output: num(ATTR_GEN_AI_USAGE_OUTPUT_TOKENS),
      cacheRead: num(ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
      cacheWrite: num(ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
      cacheWrite1h: num(ATTR_TL_USAGE_CACHE_CREATION_1H_INPUT_TOKENS),
    };
    if (sent !== undefined && usage.input + usage.output > 0)
      this.estimator.observe(sent, usage.input, usage.output);
    const downgraded = attrs[ATTR_TL_ENFORCEMENT] === ENFORCEMENT_DOWNGRADED;
    const facts: CallFacts = { provider, model: asked, attributes: attrs };
    const prices =
      (typeof responseModel === 'string' ? s.prices.lookup(provider, responseModel) : undefined) ??
      this.pricesFor(s, provider, sent);
    if (prices || sent === undefined || usage.input + usage.output === 0) {
      this.account(facts, usage, prices, downgraded);
    } else {
      // Not priced yet: count it once the collector has told us the model's price.
      void this.fetchedPrices.fetch(provider, sent).then((p) => this.account(facts, usage, p, downgraded));
    }
  }

  private pricesFor(s: GuardState, provider: string, model: string | undefined): UnitPrices | undefined {
    if (model === undefined) return undefined;
    return s.prices.lookup(provider, model) ?? this.fetchedPrices.get(provider, model);
  }

  /** Counts one ended call's tokens and cost against every policy it falls under. */
  private account(
    facts: CallFacts,
    usage: TokenUsage,
    prices: UnitPrices | undefined,
    downgraded: boolean,
  ): void {
    const s = this.state;
    if (s === undefined) return;
    const cost = prices ? costPico(prices, usage) : 0n;
    const now = Date.now();
    for (const p of s.policies) {
      if (!p.matches(facts)) continue;
      if (p.tokensPerMinute !== undefined) {
        this.bucket(p.name, 'tokens', p.tokensPerMinute, now).debit(usage.input + usage.output, now);
      }
      if (p.budget !== undefined) {
        const key = p.budget.key;
        this.localPico.set(key, (this.localPico.get(key) ?? 0n) + cost);
        this.leases.get(key)?.settle(cost, !downgraded);
      }
    }
  }

  /** One background refresh: the budget state, then the leases. Never throws. */
  async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    const base = new Map(this.localPico);
    try {
      const res = await collectorJson<Partial<BudgetsResponse> | undefined>('GET', '/v1/budgets', undefined, {
        timeoutMs: REQUEST_TIMEOUT_MS,
      });
      this.state = compileState(res ?? {}, this.resource);
      this.localBase = base;
      this.lastOkAt = Date.now();
      const leasing = this.maintainLeases(this.state);
      if (this.markReady) {
        // Ready once the first slices are held, so even the first calls are reserved.
        await leasing;
        this.markReady();
        this.markReady = undefined;
      }
    } catch (err) {
      if (err instanceof GuardRequestError && (err.status === 401 || err.status === 403)) {
        warnOnce(
          GUARD_KEY_REFUSED,
          `tokenledger guard: ${err.message}; ${SET_INGEST_KEY}; ` +
            'until then the guard cannot read policies and budgets from the collector',
        );
      } else {
        diag.debug('tokenledger guard: budget refresh failed', err);
      }
    } finally {
      this.refreshing = false;
    }
  }

  /**
   * Takes a slice of every budget this process may spend from (before its first call there, so
   * even the first calls are reserved), tops up low slices, reports usage, and returns slices of
   * periods that ended. Resolves when the requests it made are answered.
   */
  private maintainLeases(s: GuardState): Promise<unknown> {
    const current = new Map<string, BudgetWindow>();
    const requests: Array<Promise<void>> = [];
    for (const p of s.policies) {
      if (!p.budget || p.onExceeded === 'alert' || !this.mayApplyHere(p)) continue;
      current.set(p.budget.key, p.budget);
      if (!this.leases.has(p.budget.key)) this.lease(p.budget);
    }
    const now = Date.now();
    for (const [key, lease] of this.leases) {
      const b = current.get(key);
      if (b === undefined) {
        this.leases.delete(key);
        void lease.release(REQUEST_TIMEOUT_MS);
        continue;
      }
      lease.expireReservations(now);
      // A low slice is topped up; otherwise a heartbeat reports usage and keeps the lease alive.
      requests.push(lease.request(lease.isLow(this.lastEstimatePico.get(key) ?? 0n) ? this.sliceFor(b) : 0n));
    }
    return Promise.all(requests);
  }

  /** False when the policy selects another service than this process's (the one field only the resource sets). */
  private mayApplyHere(p: CompiledPolicy): boolean {
    return p.matchesService(this.resource[ATTR_SERVICE_NAME]);
  }

  /** Returns the unused part of every slice (at exit; best effort, bounded). */
  releaseLeases(): Promise<void> {
    const all = [...this.leases.values()];
    this.leases.clear();
    return Promise.all(all.map((l) => l.release(EXIT_RELEASE_TIMEOUT_MS))).then(() => undefined);
  }

  /** Whether the engine holds state from the collector (for tests and diagnostics). */
  get ready(): boolean {
    return this.state !== undefined;
  }
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function withChange(
  verdict: GuardVerdict,
  policy: string,
  change: Pick<GuardVerdict, 'model' | 'maxTokens'>,
  enforcement: string,
  extra: Attributes,
): GuardVerdict {
  const previous = verdict.attributes?.[ATTR_TL_ENFORCEMENT];
  // A downgrade is the stronger statement when a call is both clamped and downgraded.
  const keep = previous === ENFORCEMENT_DOWNGRADED;
  return {
    ...verdict,
    ...change,
    attributes: {
      ...verdict.attributes,
      ...extra,
      [ATTR_TL_ENFORCEMENT]: keep ? previous : enforcement,
      [ATTR_TL_POLICY]: policy,
    },
  };
}
