/**
 * The in-app policy guard (see ./hook.ts for the contract with the provider patches and
 * docs/GUARD.md for the user-facing rules). It enforces the kill switches, required attribution,
 * model allow/deny lists, max tokens per call, per-process rate limits, and budgets (a leased slice
 * of what is left, so that many processes together stay within the budget).
 *
 * A process is governed from its first call: until the collector's first answer a guarded call
 * waits for it (asynchronously, at most TOKENLEDGER_GUARD_WAIT_MS), then the policy applies; with
 * no answer by then, TOKENLEDGER_GUARD_FAIL decides. Afterwards there is no network round trip on
 * the hot path, except for a call its budget slice cannot cover: it waits (bounded) for the
 * collector to grant more, and is refused only on the collector's word — `BudgetExceededError`
 * once the stored spend has reached the limit, `BudgetBusyError` while what is left is held.
 * State is refreshed in the background on unref'd timers.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { diag, type Attributes, type Span } from '@opentelemetry/api';
import { collectorUrl } from '../collector-api';
import { GUARD_KEY_REFUSED, KEY_SCOPE, SET_INGEST_KEY, warnOnce } from '../warn-once';
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
  ATTR_TL_LEASES,
  ATTR_TL_ORIGINAL_MODEL,
  ATTR_TL_POLICY,
  ATTR_TL_USAGE_CACHE_CREATION_1H_INPUT_TOKENS,
  ENFORCEMENT_ALLOWED,
  ENFORCEMENT_BLOCKED,
  ENFORCEMENT_CLAMPED,
  ENFORCEMENT_DOWNGRADED,
} from '../semconv';
import type { BudgetNumbers } from '../errors';
import { picoToUsd } from '../money/pico';
import { PriceFetcher } from '../money/price-fetcher';
import { costPico, type TokenUsage, type UnitPrices } from '../money/unit-prices';
import type { BudgetsResponse } from '../wire';
import { collectorJson, GuardRequestError } from './collector-client';
import { askCollectorPrices } from './collector-prices';
import { DEFAULT_INPUT_TOKENS, DEFAULT_OUTPUT_TOKENS, UsageEstimator } from './estimator';
import { PendingVerdict, type Guard, type GuardDecision, type GuardedCall, type GuardVerdict } from './hook';
import { LeaseHolder, Reservation } from './lease';
import { StateCache } from './state-cache';
import { claimedValue, resourceFromEnv, type CallFacts } from './match';
import {
  attributionError,
  budgetBusyError,
  budgetExceededError,
  killSwitchError,
  maxTokensError,
  modelNotAllowedError,
  notYetAnsweredError,
  rateLimitedError,
  unreachableError,
} from './messages';
import { TokenBucket } from './rate-limit';
import { compileState, type BudgetWindow, type CompiledPolicy, type GuardState } from './state';

export type FailMode = 'open' | 'closed';

export interface GuardEngineOptions {
  /** How often the budget state is fetched (default 1000 ms). */
  refreshMs?: number;
  /** Without an answer for this long the collector counts as unreachable (default 5000 ms). */
  failAfterMs?: number;
  /** How long a guarded call waits, at most, for the first state or for more budget (default 950 ms). */
  waitMs?: number;
  /** What calls do when the collector gave no first answer within `waitMs` (default open). */
  failBeforeAnswer?: FailMode;
  /** Resource attributes (default: from OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME). */
  resource?: Record<string, string>;
  /**
   * Exports the ended spans now, not at the batch's schedule: called when a call settles leased
   * money that other calls wait for (the collector frees it once the span is stored).
   */
  exportSoon?: () => void;
}

/** Returning the slice of a period that ended (in the background). */
const PERIOD_END_RELEASE_TIMEOUT_MS = 1_500;
/**
 * A state answer is worth having however late it comes, and one is asked for at a time: a loaded
 * collector answers in seconds, and a shorter deadline made every process give up and ask again
 * each second — on a loaded 2-core machine no process got a first state at all (decision 0072).
 * 30 s: a collector starved of CPU took longer than 10 s just to accept a connection, and every
 * request abandoned before its answer was work it did for nothing while new ones queued behind
 * (decision 0094).
 */
const STATE_TIMEOUT_MS = 30_000;
const EXIT_RELEASE_TIMEOUT_MS = 500;
/** Under 1 s in all: the first call's own setup (≈ 10–20 ms) comes on top of the wait. */
const DEFAULT_WAIT_MS = 950;
/** Slice sizing, see sliceFor. */
const SLICE_FLOOR_DIVISOR = 50n;
const SLICE_CEILING_DIVISOR = 10n;
const SLICE_CALLS = 8n;

/** One shared verdict for calls a policy looked at and let through unchanged. */
const ALLOWED_VERDICT: GuardVerdict = Object.freeze({
  attributes: Object.freeze({ [ATTR_TL_ENFORCEMENT]: ENFORCEMENT_ALLOWED }) as Attributes,
});

/**
 * What one budget says about a call: the reservation made for it (the common case, returned as
 * is: nothing allocated beside it), or another step.
 */
type BudgetStep =
  | Reservation
  | { kind: 'allowed' }
  | { kind: 'wait'; until: Promise<unknown> }
  | { kind: 'over'; error: () => Error };

const ALLOWED_STEP: BudgetStep = Object.freeze({ kind: 'allowed' });

export class GuardEngine implements Guard {
  private state: GuardState | undefined;
  private lastOkAt = 0;
  private refreshing = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly refreshMs: number;
  private readonly failAfterMs: number;
  private readonly waitMs: number;
  private readonly failBeforeAnswer: FailMode;
  private readonly resource: Record<string, string>;
  private readonly exportSoon: (() => void) | undefined;
  private readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  /** Each policy's rate-limit buckets, by its name (no key string built per call). */
  private readonly buckets = new Map<string, { calls?: TokenBucket; tokens?: TokenBucket }>();
  private readonly leases = new Map<string, LeaseHolder>();
  /** What each call in flight reserved, by its span. */
  private readonly reserved = new WeakMap<object, Reservation | Reservation[]>();
  /** The last verdict that named its leases, reused while calls come from the same slices (no allocation). */
  private leaseVerdict: { base: GuardVerdict; leases: string; verdict: GuardVerdict } | undefined;
  /** Prices found in the current state's book, by provider then model (its lookup builds a string key per call). */
  private priceMemo: { book: unknown; byProvider: Map<string, Map<string, UnitPrices>> } | undefined;
  private readonly estimator = new UsageEstimator();
  private readonly fetchedPrices = new PriceFetcher(askCollectorPrices);
  /** An ended call's usage, read into this one record by every span end (see onSpanEnded). */
  private readonly usage: Required<TokenUsage> = {
    input: 0,
    output: 0,
    cacheRead: 0,
    cacheWrite: 0,
    cacheWrite1h: 0,
  };
  /** The policies a call's budgets are checked for, reused by every call (copied when a call waits). */
  private readonly budgetedScratch: CompiledPolicy[] = [];
  /** Stopped (the process is exiting): no more leases are taken. */
  private stopped = false;
  /** No state yet and a call already waited its bound, or the first fetch failed: calls stop waiting. */
  private gaveUp = false;
  /** The last state a process on this machine received from the collector (./state-cache.ts). */
  private readonly cache = new StateCache();
  private cached: Promise<Partial<BudgetsResponse> | undefined> = Promise.resolve(undefined);
  private answered: ((ok: boolean) => void) | undefined;
  /** Resolves true with the first state, false when the first fetch fails. */
  private readonly firstAnswer = new Promise<boolean>((resolve) => (this.answered = resolve));
  private markReady: (() => void) | undefined;
  /** Resolves once the first budget state (and the first slices) have arrived. */
  readonly firstState = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(options: GuardEngineOptions = {}) {
    this.refreshMs = options.refreshMs ?? 1_000;
    this.failAfterMs = options.failAfterMs ?? 5_000;
    this.waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
    this.failBeforeAnswer = options.failBeforeAnswer ?? 'open';
    this.resource = options.resource ?? resourceFromEnv();
    this.exportSoon = options.exportSoon;
  }

  /**
   * Starts the background refresh. The first fetch waits one macrotask: `start()` runs from
   * `--require`, before the app's own code, and a request now would load node:http before an app
   * that registers the standard HTTP instrumentation could (leaving http unpatched for it).
   */
  start(): void {
    if (this.timer) return;
    this.readCache();
    setTimeout(() => void this.refresh(), 0).unref();
    this.timer = setInterval(() => this.tick(), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The hot path: no I/O, no allocation for calls no policy touches. */
  check(call: GuardedCall): GuardDecision {
    const s = this.state;
    if (s === undefined) return this.beforeFirstAnswer(call);
    return this.decide(s, call, Date.now());
  }

  /**
   * No state yet: wait (bounded) for the first answer, then decide. Without one in time, the last
   * state a process here received (on disk) decides; without that, TOKENLEDGER_GUARD_FAIL.
   */
  private beforeFirstAnswer(call: GuardedCall): GuardDecision {
    if (this.gaveUp) return this.failBeforeFirstAnswer();
    const since = Date.now();
    return new PendingVerdict(
      bounded(this.firstAnswer, this.waitMs, false)
        .then(() => {
          if (this.state !== undefined) return undefined;
          this.readCache();
          return this.useCachedState();
        })
        .then(() => {
          const s = this.state;
          if (s === undefined) {
            this.gaveUp = true;
            return this.failBeforeFirstAnswer();
          }
          return settle(this.decide(s, call, Date.now(), since));
        }),
    );
  }

  /** The collector gave no first answer: the state kept on disk, if any, is enforced until it does. */
  private async useCachedState(): Promise<void> {
    const cached = await this.cached;
    if (cached === undefined || this.state !== undefined) return;
    this.state = compileState(cached, this.resource);
    void this.maintainLeases(this.state);
  }

  /**
   * (Re-)reads the state kept on disk. Until this process has a state of its own the file is read
   * again every tick: another process here may get an answer first (a loaded collector answers
   * some before others), and its state then governs this one too.
   */
  private readCache(): void {
    this.cached = this.cache.read();
  }

  private failBeforeFirstAnswer(): undefined {
    if (this.failBeforeAnswer === 'closed') throw notYetAnsweredError(this.waitMs, collectorUrl());
    return undefined;
  }

  /** `since`: when the call began to wait (it waits until `since` + waitMs at most); now by default. */
  private decide(s: GuardState, call: GuardedCall, now: number, since = now): GuardDecision {
    if (s.failClosed && now - this.lastOkAt > this.failAfterMs) {
      throw unreachableError(Math.round((now - this.lastOkAt) / 1000), collectorUrl());
    }
    if (s.killSwitch) throw killSwitchError(undefined, call.model);
    if (s.required?.block) this.checkAttribution(s, call);
    let verdict: GuardVerdict | undefined;
    // The budgets the call falls under: the first `count` entries of the engine's one list (entries
    // past it are an earlier call's; nothing is cleared or allocated per call).
    const budgeted = this.budgetedScratch;
    let count = 0;
    const policies = s.policies;
    for (let i = 0; i < policies.length; i++) {
      const p = policies[i]!;
      if (!p.matches(call)) continue;
      verdict = this.applyRules(p, call, verdict ?? ALLOWED_VERDICT, now);
      if (p.budget !== undefined && p.onExceeded !== 'alert') budgeted[count++] = p;
    }
    if (count === 0 || verdict === undefined) return verdict;
    return this.applyBudgets(budgeted, count, call, verdict, since, now);
  }

  private checkAttribution(s: GuardState, call: GuardedCall): void {
    const { fields, keys } = s.required!;
    let missing: string[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const v = call.attributes[keys[i]!] ?? this.resource[keys[i]!];
      // A scoped key's calls are recorded under its scope: the key supplies the field.
      if ((v === undefined || v === '') && !s.scope?.has(fields[i]!)) (missing ??= []).push(fields[i]!);
    }
    if (missing) throw attributionError(missing, fields);
  }

  /** Every rule of a policy but its budget. */
  private applyRules(p: CompiledPolicy, call: GuardedCall, sofar: GuardVerdict, now: number): GuardVerdict {
    if (p.disabled) throw killSwitchError(p.name, call.model);
    const model = call.model;
    if (model !== undefined && (p.deny?.has(model) || (p.allow !== undefined && !p.allow.has(model)))) {
      throw modelNotAllowedError(p.name, model, p.allowList, p.deny?.has(model) === true);
    }
    let verdict = sofar;
    const maxTokens = sofar.maxTokens ?? call.maxTokens;
    if (
      p.maxTokens !== undefined &&
      call.operation !== 'embeddings' &&
      (maxTokens === undefined || maxTokens > p.maxTokens)
    ) {
      if (maxTokens !== undefined && p.rejectMaxTokens) throw maxTokensError(p.name, maxTokens, p.maxTokens);
      verdict = withChange(verdict, p.name, { maxTokens: p.maxTokens }, ENFORCEMENT_CLAMPED, {
        [ATTR_GEN_AI_REQUEST_MAX_TOKENS]: p.maxTokens,
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
    return verdict;
  }

  /**
   * The budgets a call falls under, in policy order: each reserves the call's maximum cost from its
   * slice, or waits for more, or refuses (a downgrade policy downgrades instead). All or nothing:
   * a refusal returns what earlier budgets reserved. After a wait the budgets are asked again.
   */
  private applyBudgets(
    policies: CompiledPolicy[],
    count: number,
    call: GuardedCall,
    verdict: GuardVerdict,
    since: number,
    now = Date.now(),
  ): GuardDecision {
    const s = this.state!;
    // What the call reserved: one budget's reservation (no array), or several.
    let taken: Reservation | Reservation[] | undefined;
    let v = verdict;
    for (let i = 0; i < count; i++) {
      const p = policies[i]!;
      // A downgraded call is not held against later budgets (it is counted when it ends).
      if (v.model !== undefined) break;
      const step = this.budgetStep(p, p.budget!, call, v.maxTokens ?? call.maxTokens, now, s, since);
      if (step instanceof Reservation) {
        taken = taken === undefined ? step : Array.isArray(taken) ? [...taken, step] : [taken, step];
        continue;
      }
      if (step.kind === 'allowed') continue;
      cancelAll(taken);
      taken = undefined;
      if (step.kind === 'wait') {
        // The scratch list is the next call's: a waiting call keeps its own copy.
        const own = policies === this.budgetedScratch ? policies.slice(0, count) : policies;
        return new PendingVerdict(
          bounded(step.until, since + this.waitMs - now, undefined).then(() =>
            settle(this.applyBudgets(own, count, call, verdict, since)),
          ),
        );
      }
      if (p.onExceeded === 'downgrade' && p.downgradeTo !== undefined && p.downgradeTo !== call.model) {
        v = withChange(v, p.name, { model: p.downgradeTo }, ENFORCEMENT_DOWNGRADED, {
          [ATTR_GEN_AI_REQUEST_MODEL]: p.downgradeTo,
          ...(call.model !== undefined ? { [ATTR_TL_ORIGINAL_MODEL]: call.model } : {}),
        });
        continue;
      }
      throw step.error();
    }
    if (taken === undefined) return v;
    this.reserved.set(call.span, taken);
    // The span names the leases it was paid from: once the collector stores it, they stop holding it.
    const leases = Array.isArray(taken) ? taken.map((r) => r.leaseId).join(',') : taken.leaseId;
    const last = this.leaseVerdict;
    if (last !== undefined && last.base === v && last.leases === leases) return last.verdict;
    const withLeases = withAttributes(v, { [ATTR_TL_LEASES]: leases });
    this.leaseVerdict = { base: v, leases, verdict: withLeases };
    return withLeases;
  }

  /** What one budget says about a call now. Allocates nothing but the reservation when the slice covers the call. */
  private budgetStep(
    p: CompiledPolicy,
    b: BudgetWindow,
    call: GuardedCall,
    maxTokens: number | undefined,
    now: number,
    s: GuardState,
    since: number,
  ): BudgetStep {
    // The collector's stored spend has reached the limit: spent, whatever any slice says.
    if (b.spentPico >= b.limitPico) return exceeded(p, call, b, b.spentPico);
    const lease = this.lease(b);
    if (lease.unsupported) return ALLOWED_STEP; // no lease for it: the state alone decides
    // The collector's newer word on this period: its stored spend reached the limit (it only grows).
    const told = lease.lastAnswer?.spentPico;
    if (told !== undefined && told >= b.limitPico) return exceeded(p, call, b, told);
    const deadline = since + this.waitMs;
    if (!lease.active) {
      // The first slice is on its way; without it in time, the call is not covered.
      if (lease.unreachable || now >= deadline) return this.noAnswer(p, call, s, now, b, b.spentPico);
      return { kind: 'wait', until: lease.settled() };
    }
    const prices = this.pricesFor(s, call.provider, call.model) ?? s.prices.highest();
    const estimate = prices && call.model ? this.estimator.estimatePico(prices, call.model, maxTokens) : 0n;
    lease.lastEstimatePico = estimate;
    const reservation = lease.tryReserve(estimate, now);
    if (reservation) {
      if (!lease.contended && lease.isLow(estimate, lease.availablePico(now)))
        void lease.request(this.sliceFor(b));
      return reservation;
    }
    const a = lease.lastAnswer;
    // The collector refused this call's need since it began to wait: its word is final.
    if (a !== undefined && a.state !== 'ok' && lease.answeredAt >= since) {
      if (a.state === 'exceeded') return exceeded(p, call, b, a.spentPico, estimate);
      return busy(p, call, b, a.spentPico, estimate, a.retryAfterSeconds);
    }
    if (lease.unreachable && lease.failedAt >= since)
      return this.noAnswer(p, call, s, now, b, a?.spentPico ?? b.spentPico, estimate);
    if (now >= deadline) {
      // Waited as long as a call may: the money is not shown to be spent, so the call may retry.
      if (lease.answeredAt < since)
        return this.noAnswer(p, call, s, now, b, a?.spentPico ?? b.spentPico, estimate);
      return busy(p, call, b, a?.spentPico ?? b.spentPico, estimate, a?.retryAfterSeconds ?? 1);
    }
    const available = lease.availablePico();
    const need = estimate - (available > 0n ? available : 0n);
    return { kind: 'wait', until: lease.obtain(need > 0n ? need : 1n, this.sliceFor(b), deadline) };
  }

  /**
   * The collector did not answer for more budget in time: the call is not covered, so it is not
   * sent — BudgetBusyError (retry), or with `fail: closed` CollectorUnreachableError. A cap never
   * fails open.
   */
  private noAnswer(
    p: CompiledPolicy,
    call: GuardedCall,
    s: GuardState,
    now: number,
    b: BudgetWindow,
    spentPico: bigint,
    estimate?: bigint,
  ): BudgetStep {
    if (s.failClosed && now - this.lastOkAt > this.failAfterMs)
      return {
        kind: 'over',
        error: () => unreachableError(Math.round((now - this.lastOkAt) / 1000), collectorUrl()),
      };
    return busy(p, call, b, spentPico, estimate, 1, true);
  }

  /**
   * Slice size to ask for: 8 calls' worth (the last estimate, or a default-sized call at the highest
   * known price before the first), at least 2 % of the budget, at most 10 % of it unless 2 calls
   * need more: small enough that budget is not stranded in idle processes, large enough that a
   * busy process tops up about once a second.
   */
  private sliceFor(b: BudgetWindow): bigint {
    const estimate = this.leases.get(b.key)?.lastEstimatePico ?? this.defaultEstimate();
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
      lease = new LeaseHolder(name, b.periodStart, this.holder);
      this.leases.set(b.key, lease);
      void lease.request(this.sliceFor(b));
    }
    return lease;
  }

  private bucket(policy: string, what: 'calls' | 'tokens', perMinute: number, now: number): TokenBucket {
    let buckets = this.buckets.get(policy);
    if (buckets === undefined) this.buckets.set(policy, (buckets = {}));
    let b = buckets[what];
    if (b === undefined || b.perMinute !== perMinute) buckets[what] = b = new TokenBucket(perMinute, now);
    return b;
  }

  /** Every ended tokenledger span: count its tokens and cost against the policies it falls under. */
  onSpanEnded(span: Span): void {
    const s = this.state;
    const reservations = this.reserved.get(span);
    if (reservations) this.reserved.delete(span);
    if (s === undefined) return;
    const attrs = (span as unknown as { attributes?: Attributes }).attributes;
    if (!attrs || attrs[ATTR_TL_ENFORCEMENT] === ENFORCEMENT_BLOCKED) {
      cancelAll(reservations);
      return;
    }
    if (s.scope) this.warnIfOutOfScope(s, attrs);
    const provider = String(attrs[ATTR_GEN_AI_PROVIDER_NAME] ?? '');
    const sent =
      typeof attrs[ATTR_GEN_AI_REQUEST_MODEL] === 'string' ? attrs[ATTR_GEN_AI_REQUEST_MODEL] : undefined;
    const responseModel = attrs[ATTR_GEN_AI_RESPONSE_MODEL];
    // The span's usage, read into the engine's one record (copied only for a call priced later).
    const usage = this.usage;
    usage.input = positive(attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS]);
    usage.output = positive(attrs[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]);
    usage.cacheRead = positive(attrs[ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]);
    usage.cacheWrite = positive(attrs[ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS]);
    usage.cacheWrite1h = positive(attrs[ATTR_TL_USAGE_CACHE_CREATION_1H_INPUT_TOKENS]);
    if (sent !== undefined && usage.input + usage.output > 0)
      this.estimator.observe(sent, usage.input, usage.output);
    const prices =
      (typeof responseModel === 'string' ? this.listedPrice(s, provider, responseModel) : undefined) ??
      this.pricesFor(s, provider, sent);
    if (prices || sent === undefined || usage.input + usage.output === 0) {
      this.account(provider, attrs, usage, prices, reservations);
    } else {
      // Not priced yet: count it once the collector has told us the model's price.
      const later = { ...usage };
      void this.fetchedPrices
        .fetch(provider, sent)
        .then((p) => this.account(provider, attrs, later, p, reservations));
    }
  }

  private pricesFor(s: GuardState, provider: string, model: string | undefined): UnitPrices | undefined {
    if (model === undefined) return undefined;
    return this.listedPrice(s, provider, model) ?? this.fetchedPrices.get(provider, model);
  }

  private listedPrice(s: GuardState, provider: string, model: string): UnitPrices | undefined {
    if (this.priceMemo?.book !== s.prices) this.priceMemo = { book: s.prices, byProvider: new Map() };
    let byModel = this.priceMemo.byProvider.get(provider);
    const memo = byModel?.get(model);
    if (memo !== undefined) return memo;
    const listed = s.prices.lookup(provider, model);
    // Only what the book lists: the models a process calls, a handful.
    if (listed !== undefined) {
      if (byModel === undefined) this.priceMemo.byProvider.set(provider, (byModel = new Map()));
      byModel.set(model, listed);
    }
    return listed;
  }

  /** Counts one ended call's tokens and cost against every policy it falls under. */
  private account(
    provider: string,
    attrs: Attributes,
    usage: TokenUsage,
    prices: UnitPrices | undefined,
    reservations: Reservation | Reservation[] | undefined,
  ): void {
    // A reservation becomes the call's actual cost. Spend no reservation covered (a downgraded call,
    // one allowed before the first answer) is not a lease's: the collector counts it once stored.
    if (reservations !== undefined) {
      const cost = prices ? costPico(prices, usage) : 0n;
      let othersWait = false;
      if (Array.isArray(reservations)) {
        for (const r of reservations) {
          r.lease.settle(r, cost);
          othersWait ||= r.lease.othersWait;
        }
      } else {
        reservations.lease.settle(reservations, cost);
        othersWait = reservations.lease.othersWait;
      }
      // The money this call held is free for the calls that wait only once its span is stored: send
      // it now rather than at the batch's schedule. Only then — uncontended calls add no export.
      if (othersWait) this.exportSoon?.();
    }
    const s = this.state;
    if (s === undefined) return;
    let facts: CallFacts | undefined;
    const policies = s.policies;
    for (let i = 0; i < policies.length; i++) {
      const p = policies[i]!;
      if (p.tokensPerMinute === undefined) continue;
      facts ??= { provider, model: askedModel(attrs), attributes: attrs };
      if (p.matches(facts)) {
        const now = Date.now();
        this.bucket(p.name, 'tokens', p.tokensPerMinute, now).debit(usage.input + usage.output, now);
      }
    }
  }

  /** Told once per field: the key's scope files this call under another value than it claims. */
  private warnIfOutOfScope(s: GuardState, attrs: Attributes): void {
    for (const [field, allowed] of s.scope!) {
      const claimed = claimedValue(attrs, field, this.resource);
      if (claimed === undefined || allowed.includes(claimed)) continue;
      warnOnce(
        KEY_SCOPE,
        `tokenledger: this app's key${s.keyName ? ` (${s.keyName})` : ''} may report for ${field}=${allowed.join('|')}; ` +
          `calls attributed to ${field}=${claimed} are recorded under ${field}=${allowed[0]} ` +
          '(the collector keeps the claimed value, flagged). Use a key scoped to that cost center, or fix the attribution.',
        field,
      );
    }
  }

  /**
   * Every second: the state, and — on their own, so a slow state answer never delays them — the
   * slices' heartbeats (usage reported, low slices topped up, what others wait for given back).
   */
  private tick(): void {
    if (this.state !== undefined) void this.maintainLeases(this.state);
    else if (this.gaveUp) {
      // Calls go uncovered meanwhile (TOKENLEDGER_GUARD_FAIL=open): a state another process here received ends that.
      this.readCache();
      void this.useCachedState();
    }
    void this.refresh();
  }

  /** One background refresh of the state (with the first one, the first slices). Never throws. */
  async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      const res = await collectorJson<Partial<BudgetsResponse> | undefined>('GET', '/v1/budgets', undefined, {
        timeoutMs: STATE_TIMEOUT_MS,
      });
      const first = this.markReady !== undefined;
      this.state = compileState(res ?? {}, this.resource);
      this.lastOkAt = Date.now();
      this.cache.write(res);
      this.gaveUp = false;
      // Slices are taken at once the first time; then every tick keeps them (see tick).
      const leasing = first ? this.maintainLeases(this.state) : undefined;
      this.answered?.(true);
      this.answered = undefined;
      if (this.markReady) {
        // Ready once the first slices are held, so even the first calls are reserved.
        await leasing;
        this.markReady();
        this.markReady = undefined;
      }
    } catch (err) {
      if (this.state === undefined) {
        // No state and no answer: the state on disk, else the fail mode, decides until one comes.
        this.readCache();
        await this.useCachedState();
        this.gaveUp = true;
        this.answered?.(false);
        this.answered = undefined;
      }
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
    if (this.stopped) return Promise.resolve();
    const current = new Map<string, BudgetWindow>();
    const requests: Array<Promise<void>> = [];
    for (const p of s.policies) {
      if (!p.budget || p.onExceeded === 'alert' || !this.mayApplyHere(p)) continue;
      current.set(p.budget.key, p.budget);
      if (!this.leases.has(p.budget.key)) requests.push(this.lease(p.budget).settled());
    }
    const now = Date.now();
    for (const [key, lease] of this.leases) {
      const b = current.get(key);
      if (b === undefined) {
        this.leases.delete(key);
        void lease.release(PERIOD_END_RELEASE_TIMEOUT_MS);
        continue;
      }
      lease.expireReservations(now);
      // A low slice is topped up (unless others wait for money); otherwise a heartbeat reports
      // usage, gives back what others wait for, and keeps the lease alive.
      const low = !lease.contended && lease.isLow(lease.lastEstimatePico ?? 0n);
      requests.push(lease.request(low ? this.sliceFor(b) : 0n));
    }
    return Promise.all(requests);
  }

  /**
   * False when the policy selects another service than this process's (the one field only the
   * resource sets), or a cost center this process's scoped key cannot record.
   */
  private mayApplyHere(p: CompiledPolicy): boolean {
    return p.fitsScope && p.matchesService(this.resource[ATTR_SERVICE_NAME]);
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

/** A token count from a span attribute: a positive number, else 0. */
function positive(v: unknown): number {
  return typeof v === 'number' && v > 0 ? v : 0;
}

/** The model the app asked for (before a downgrade), as the span records it. */
function askedModel(attrs: Attributes): string | undefined {
  const original = attrs[ATTR_TL_ORIGINAL_MODEL];
  if (typeof original === 'string') return original;
  const sent = attrs[ATTR_GEN_AI_REQUEST_MODEL];
  return typeof sent === 'string' ? sent : undefined;
}

/** The figures a budget error quotes (built only when a call is refused). */
function budgetNumbers(b: BudgetWindow, spentPico: bigint, estimate?: bigint): BudgetNumbers {
  return {
    spentUsd: picoToUsd(spentPico),
    limitUsd: b.limitUsd,
    period: b.period,
    periodStart: b.periodStart,
    periodEnd: b.periodEnd,
    ...(estimate !== undefined ? { estimatedCallUsd: picoToUsd(estimate) } : {}),
  };
}

function exceeded(
  p: CompiledPolicy,
  call: GuardedCall,
  b: BudgetWindow,
  spentPico: bigint,
  estimate?: bigint,
): BudgetStep {
  return {
    kind: 'over',
    error: () => budgetExceededError(p.name, budgetNumbers(b, spentPico, estimate), call.model),
  };
}

function busy(
  p: CompiledPolicy,
  call: GuardedCall,
  b: BudgetWindow,
  spentPico: bigint,
  estimate: bigint | undefined,
  retryAfterSeconds: number,
  unanswered = false,
): BudgetStep {
  return {
    kind: 'over',
    error: () =>
      budgetBusyError(
        p.name,
        budgetNumbers(b, spentPico, estimate),
        call.model,
        retryAfterSeconds,
        unanswered,
      ),
  };
}

/** Returns what a call reserved to its slices (it is not sent after all). */
function cancelAll(taken: Reservation | Reservation[] | undefined): void {
  if (taken === undefined) return;
  if (Array.isArray(taken)) for (const r of taken) r.lease.cancel(r);
  else taken.lease.cancel(taken);
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** A decision as a promise's value (a PendingVerdict's promise, flattened). */
function settle(d: GuardDecision): GuardVerdict | undefined | Promise<GuardVerdict | undefined> {
  return d instanceof PendingVerdict ? d.promise : d;
}

/**
 * `p`, or `fallback` after `ms`. The timer is ref'd on purpose: a call is waiting on it (the
 * guard's own requests never hold the process), so the process must not exit under the app's await.
 */
function bounded<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  if (ms <= 0) return Promise.resolve(fallback);
  return new Promise<T>((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}

function withAttributes(verdict: GuardVerdict, extra: Attributes): GuardVerdict {
  return { ...verdict, attributes: { ...verdict.attributes, ...extra } };
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
