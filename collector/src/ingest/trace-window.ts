/**
 * What recent export requests brought, per trace: the GenAI spans, the call spans (and whether
 * each went to storage) and the HTTP requests recorded as uninstrumented AI traffic. The spans of
 * one LLM call can arrive in different export requests — two producers exporting on their own
 * schedules, a per-span exporter, a batch boundary between an HTTP span and the GenAI span around
 * it — and the pipeline consults this window so that a later span still recognises an earlier one.
 *
 * In memory and bounded: a trace is forgotten `ttlMs` after its last span arrived (spans of one
 * call end within seconds of each other and batch exporters flush every few seconds), the oldest
 * traces go first beyond `maxSpans` remembered spans, and a trace keeps at most `maxSpansPerTrace`
 * of each kind (its newest). A span the window has forgotten is simply not recognised: at worst a
 * late twin is stored or an HTTP request is listed as uninstrumented, as without the window.
 * The window is per collector process; several collectors behind a load balancer each see only
 * the requests they receive.
 */
import type { GenAiSpanRef } from './extract/extract';
import type { PriorCall } from './extract/repeats';
import type { AiHttpCall } from '../core/ai-http-call';

export interface TraceWindowOptions {
  ttlMs?: number;
  maxSpans?: number;
  maxSpansPerTrace?: number;
  now?: () => number;
}

const DEFAULT_TRACE_WINDOW_MS = 120_000;
const DEFAULT_MAX_SPANS = 200_000;
const DEFAULT_MAX_SPANS_PER_TRACE = 1_000;

/**
 * The spans of one kind a trace holds: the span itself while it is the only one (most traces hold a
 * single call), a Map by span id from the second on. A Map per kind per trace was most of the
 * window's memory at 100,000 traces, and of what every full garbage collection marks (decision 0085).
 */
type Held<V> = V | Map<string, V>;

interface TraceEntry {
  touchedAt: number;
  /** Spans remembered in the three kinds together. */
  size: number;
  /** Set on first use: most traces hold one call and never an uninstrumented request. */
  calls?: Held<PriorCall>;
  genai?: Held<GenAiSpanRef>;
  shadow?: Held<AiHttpCall>;
}

type Kind = 'calls' | 'genai' | 'shadow';
type SpanOf<K extends Kind> = K extends 'calls' ? PriorCall : K extends 'genai' ? GenAiSpanRef : AiHttpCall;
type Keyed<K extends Kind> = SpanOf<K> & { traceId: string; spanId: string };

function valuesOf<V>(held: Held<V> | undefined): Iterable<V> {
  if (held === undefined) return [];
  return held instanceof Map ? held.values() : [held];
}

export class TraceWindow {
  /** Least recently touched first (a Map iterates in insertion order; a touch re-inserts). */
  private readonly traces = new Map<string, TraceEntry>();
  private spans = 0;
  private readonly ttlMs: number;
  private readonly maxSpans: number;
  private readonly maxPerTrace: number;
  private readonly now: () => number;

  constructor(opts: TraceWindowOptions = {}) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_TRACE_WINDOW_MS;
    this.maxSpans = opts.maxSpans ?? DEFAULT_MAX_SPANS;
    this.maxPerTrace = opts.maxSpansPerTrace ?? DEFAULT_MAX_SPANS_PER_TRACE;
    this.now = opts.now ?? Date.now;
  }

  /** Traces remembered now (for tests and metrics). */
  get size(): number {
    return this.traces.size;
  }

  priorCalls(traceId: string): Iterable<PriorCall> {
    return valuesOf(this.live(traceId)?.calls);
  }

  genaiSpans(traceId: string): Iterable<GenAiSpanRef> {
    return valuesOf(this.live(traceId)?.genai);
  }

  shadowCalls(traceId: string): Iterable<AiHttpCall> {
    return valuesOf(this.live(traceId)?.shadow);
  }

  rememberCalls(calls: PriorCall[]): void {
    this.remember('calls', calls);
  }

  rememberGenAiSpans(spans: GenAiSpanRef[]): void {
    this.remember('genai', spans);
  }

  rememberShadowCalls(calls: AiHttpCall[]): void {
    this.remember('shadow', calls);
  }

  private remember<K extends Kind>(kind: K, spans: Keyed<K>[]): void {
    if (spans.length === 0) return;
    let traceId = '';
    let entry: TraceEntry | undefined;
    for (const s of spans) {
      // Spans of one trace usually come together: touch each trace once per run.
      if (entry === undefined || s.traceId !== traceId) entry = this.touch((traceId = s.traceId));
      this.add(entry, kind, s.spanId, s);
    }
    this.evict();
  }

  /** The trace's entry unless it expired. */
  private live(traceId: string): TraceEntry | undefined {
    const entry = this.traces.get(traceId);
    if (entry === undefined) return undefined;
    return this.now() - entry.touchedAt > this.ttlMs ? undefined : entry;
  }

  /** The trace's entry, created or moved to the most recently touched end. */
  private touch(traceId: string): TraceEntry {
    let entry = this.traces.get(traceId);
    if (entry === undefined) {
      entry = { touchedAt: 0, size: 0 };
    } else {
      this.traces.delete(traceId);
    }
    entry.touchedAt = this.now();
    this.traces.set(traceId, entry);
    return entry;
  }

  private add<K extends Kind>(entry: TraceEntry, kind: K, spanId: string, value: Keyed<K>): void {
    const held = entry[kind] as Held<Keyed<K>> | undefined;
    if (held === undefined || (!(held instanceof Map) && held.spanId === spanId)) {
      // The trace's first span of this kind, or the same span again (the newest record wins).
      if (held === undefined) {
        entry.size++;
        this.spans++;
      }
      (entry as Record<Kind, unknown>)[kind] = value;
      return;
    }
    let map: Map<string, Keyed<K>>;
    if (held instanceof Map) map = held;
    else {
      map = new Map([[held.spanId, held]]);
      (entry as Record<Kind, unknown>)[kind] = map;
    }
    if (!map.delete(spanId)) {
      entry.size++;
      this.spans++;
    }
    map.set(spanId, value); // re-inserted: the newest of its kind
    if (map.size > this.maxPerTrace) {
      map.delete(map.keys().next().value as string);
      entry.size--;
      this.spans--;
    }
  }

  private evict(): void {
    const expired = this.now() - this.ttlMs;
    for (const [traceId, entry] of this.traces) {
      if (entry.touchedAt >= expired && this.spans <= this.maxSpans) break;
      this.traces.delete(traceId);
      this.spans -= entry.size;
    }
  }
}
