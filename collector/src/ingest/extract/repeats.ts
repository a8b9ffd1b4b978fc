/**
 * One LLM call, one record. Several producers can describe the same request: OpenLLMetry's
 * span wraps the Anthropic SDK's own span (a child, same response id); tokenledger's span sits
 * beside it (a sibling, same response id). GenAI call spans of the same trace and provider that
 * share a response id, or of which one is the other's parent, are one call.
 *
 * The spans of one call can arrive in different export requests (each producer exports on its
 * own schedule; a SimpleSpanProcessor exports every span alone), so the calls already seen in
 * earlier requests of the same traces take part too ("prior" calls, from the collector's trace
 * window). The kept record is the richest (`usageRank`: tokenledger's own, else one with usage,
 * else one with cached or reasoning usage; then the outermost; then the first), with attribution
 * its twins had and it lacks. When a richer twin arrives after a poorer record was stored, it
 * replaces that record: it takes the stored row's key (trace, span, start time), so storage writes
 * it over the stored row — every exact reader reads llm_calls deduplicated by that key, and the
 * rollup rebuilds the hour — and the replaced span's own retries are dropped from then on. A
 * twin that is not richer is dropped. The same span arriving again (an exporter retry) is kept
 * under the key its record is stored as, and storage drops it by that key.
 */
import type { CallAttribution, ExtractedCall } from '../../core/call';

export interface CallCandidate<C extends ExtractedCall = ExtractedCall> {
  call: C;
  parentSpanId: string;
  /** gen_ai.response.id or the producer's equivalent; '' when unknown. */
  responseId: string;
  fromTokenledger: boolean;
  /** A keyed call (`tokenledger.call.key`) takes its key's row identity: never replaced. */
  keyed?: boolean;
}

/** The row a stored record is written as, and what a richer twin needs to replace it. */
interface StoredRow {
  /** The row's span id and start time (its own, or those of the record it replaced). */
  spanId: string;
  startTimeUnixNano: string;
  /** Its attribution, to fill the fields a richer twin lacks. */
  attribution: CallAttribution;
}

/** A call span seen in an earlier export request. */
export interface PriorCall {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  provider: string;
  responseId: string;
  /** Whether it went to storage (false: dropped as a repeat, or replaced by a richer twin). */
  stored: boolean;
  /** `usageRank` of the record (a stored record is replaced only by a higher one). */
  rank: number;
  /**
   * The row a stored record is written as, kept only while a richer twin could still come (never
   * for tokenledger's own or a keyed record): the window holds little for the common case.
   */
  row?: StoredRow;
}

/** The calls seen earlier in a trace. */
export type PriorCalls = (traceId: string) => Iterable<PriorCall>;

export const noPriorCalls: PriorCalls = () => [];

export interface RepeatsResult<C extends ExtractedCall> {
  kept: C[];
  repeats: number;
  /** Kept calls that replace a poorer record stored earlier (also in `kept`). */
  replacing: number;
  /**
   * Every candidate as a prior call for later requests (`stored` = kept), and the prior records
   * a richer twin replaced (now `stored: false`).
   */
  seen: PriorCall[];
}

/** Records that could replace a stored tokenledger record: none (see `usageRank`). */
const TOKENLEDGER_RANK = 4;

/**
 * How complete a record's usage is: tokenledger's own span (its usage is read from the response,
 * the stream usage asked for), else one with token usage, else one with cached or reasoning usage.
 */
function usageRank(c: CallCandidate): number {
  const u = c.call;
  const usage = u.inputTokens > 0 || u.outputTokens > 0 ? 2 : 0;
  const detail = u.cacheReadTokens > 0 || u.cacheWriteTokens > 0 || u.reasoningTokens > 0 ? 1 : 0;
  return (c.fromTokenledger ? TOKENLEDGER_RANK : 0) + usage + detail;
}

interface CallNode {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  provider: string;
  responseId: string;
  /** Index into the candidates, or -1 for a prior call. */
  candidate: number;
  /** The prior call (candidate -1). */
  prior?: PriorCall;
}

export function dropRepeats<C extends ExtractedCall>(
  candidates: CallCandidate<C>[],
  priorCalls: PriorCalls = noPriorCalls,
): RepeatsResult<C> {
  const nodes = callNodes(candidates, priorCalls);
  // Union-find over the nodes: linked ones describe the same call.
  const root = nodes.map((_, i) => i);
  const find = (i: number): number => (root[i] === i ? i : (root[i] = find(root[i]!)));
  const link = (i: number, j: number): void => {
    root[find(i)] = find(j);
  };
  const outer = nodes.map(() => true);
  // Only spans of one trace can repeat each other; most traces of a batch hold a single call.
  for (const members of byTrace(nodes)) {
    if (members.length < 2) continue;
    const bySpan = new Map<string, number>();
    const byResponse = new Map<string, number>();
    for (const i of members) {
      const twin = bySpan.get(nodes[i]!.spanId);
      if (twin === undefined) bySpan.set(nodes[i]!.spanId, i);
      else link(i, twin); // the same span again: a retry, or a prior record of a candidate
    }
    for (const i of members) {
      const n = nodes[i]!;
      const parent = bySpan.get(n.parentSpanId);
      if (parent !== undefined) {
        outer[i] = false;
        if (nodes[parent]!.provider === n.provider) link(i, parent);
      }
      if (n.responseId === '') continue;
      const key = `${n.provider} ${n.responseId}`;
      const twin = byResponse.get(key);
      if (twin === undefined) byResponse.set(key, i);
      else link(i, twin);
    }
  }
  return chooseKept(nodes, candidates, find, outer);
}

/** The candidates (indexes 0..n-1, in order), then the prior calls of their traces. */
function callNodes<C extends ExtractedCall>(
  candidates: CallCandidate<C>[],
  priorCalls: PriorCalls,
): CallNode[] {
  const nodes: CallNode[] = candidates.map((c, i) => ({
    traceId: c.call.traceId,
    spanId: c.call.spanId,
    parentSpanId: c.parentSpanId,
    provider: c.call.provider,
    responseId: c.responseId,
    candidate: i,
  }));
  const traces = new Set(candidates.map((c) => c.call.traceId));
  for (const traceId of traces) {
    for (const p of priorCalls(traceId)) {
      nodes.push({
        traceId,
        spanId: p.spanId,
        parentSpanId: p.parentSpanId,
        provider: p.provider,
        responseId: p.responseId,
        candidate: -1,
        prior: p,
      });
    }
  }
  return nodes;
}

function byTrace(nodes: CallNode[]): Iterable<number[]> {
  const traces = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    const members = traces.get(n.traceId);
    if (members) members.push(i);
    else traces.set(n.traceId, [i]);
  });
  return traces.values();
}

/** A call's nodes, by their group (union-find root). */
interface CallGroup {
  candidates: number[];
  /** Stored prior records by span id (the stored row, and the twins written as it). */
  stored: Map<string, PriorCall>;
}

function groupsOf(nodes: CallNode[], find: (i: number) => number): Map<number, CallGroup> {
  const groups = new Map<number, CallGroup>();
  nodes.forEach((n, i) => {
    const root = find(i);
    let g = groups.get(root);
    if (!g) groups.set(root, (g = { candidates: [], stored: new Map() }));
    if (n.candidate !== -1) g.candidates.push(i);
    else if (n.prior!.stored) g.stored.set(n.spanId, n.prior!);
  });
  return groups;
}

/**
 * Per call: the retries of its stored record (under the row they are stored as); else, when a
 * record is stored, the best candidate if it is richer (it replaces the stored row); else the best
 * candidate.
 */
function chooseKept<C extends ExtractedCall>(
  nodes: CallNode[],
  candidates: CallCandidate<C>[],
  find: (i: number) => number,
  outer: boolean[],
): RepeatsResult<C> {
  const kept = new Map<number, C>();
  const ranks = candidates.map(usageRank);
  const seen: PriorCall[] = candidates.map((c, i) => priorOf(c, ranks[i]!, false));
  let replacing = 0;
  for (const group of groupsOf(nodes, find).values()) {
    if (group.candidates.length === 0) continue;
    const news: number[] = [];
    const retries: number[] = [];
    for (const i of group.candidates) {
      const n = nodes[i]!;
      const prior = group.stored.get(n.spanId);
      if (prior === undefined) {
        news.push(i);
        continue;
      }
      // A retry of a stored span: kept under the row its record is stored as.
      const c = candidates[n.candidate]!;
      const row = prior.row;
      kept.set(n.candidate, row && row.spanId !== n.spanId ? asReplacement(c.call, row) : c.call);
      seen[n.candidate] = { ...prior, parentSpanId: n.parentSpanId };
      retries.push(n.candidate);
    }
    if (news.length === 0) continue;
    let best = news[0]!;
    for (const i of news.slice(1)) {
      const [a, b] = [nodes[i]!.candidate, nodes[best]!.candidate];
      if (preferred(ranks[a]!, outer[i]!, ranks[b]!, outer[best]!)) best = i;
    }
    const b = nodes[best]!.candidate;
    const bestCall = candidates[b]!;
    const twins = news.filter((i) => i !== best).map((i) => candidates[nodes[i]!.candidate]!.call);
    const stored = storedRecord(group);
    if (stored === undefined) {
      kept.set(b, withAttributionFrom(bestCall.call, twins));
      seen[b] = priorOf(bestCall, ranks[b]!, true);
    } else if (stored.row && !bestCall.keyed && ranks[b]! > stored.rank) {
      // A richer twin of a stored record: it takes the stored row's key and replaces it.
      const call = withAttributionFrom(bestCall.call, twins, stored.row.attribution);
      // It is written as the stored row: retries of that row in this request would race it.
      for (const r of retries) kept.delete(r);
      kept.set(b, asReplacement(call, stored.row));
      seen[b] = {
        ...priorOf(bestCall, ranks[b]!, true),
        row: { ...stored.row, attribution: call.attribution },
      };
      for (const p of group.stored.values()) seen.push({ ...p, stored: false });
      replacing++;
    }
  }
  const keptCalls = [...kept.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
  return { kept: keptCalls, repeats: candidates.length - kept.size, replacing, seen };
}

/** The record a group's stored rows hold: the one written last is the one with the highest rank. */
function storedRecord(group: CallGroup): PriorCall | undefined {
  let best: PriorCall | undefined;
  for (const p of group.stored.values()) if (best === undefined || p.rank > best.rank) best = p;
  return best;
}

/** `c` as a prior call for later requests; `rank` is its usageRank. */
function priorOf(c: CallCandidate, rank: number, stored: boolean): PriorCall {
  return {
    traceId: c.call.traceId,
    spanId: c.call.spanId,
    parentSpanId: c.parentSpanId,
    provider: c.call.provider,
    responseId: c.responseId,
    stored,
    rank,
    ...(stored && rank < TOKENLEDGER_RANK && !c.keyed
      ? {
          row: {
            spanId: c.call.spanId,
            startTimeUnixNano: c.call.startTimeUnixNano,
            attribution: c.call.attribution,
          },
        }
      : {}),
  };
}

/** `call` written as `row`: the stored record's key, flagged so storage writes over it. */
function asReplacement<C extends ExtractedCall>(call: C, row: StoredRow): C {
  return { ...call, spanId: row.spanId, startTimeUnixNano: row.startTimeUnixNano, replacesStored: true };
}

/** `call` with the attribution fields it lacks taken from its twins (the first that has each). */
function withAttributionFrom<C extends ExtractedCall>(
  call: C,
  twins: ExtractedCall[],
  stored?: CallAttribution,
): C {
  const sources = [...twins.map((t) => t.attribution), ...(stored ? [stored] : [])];
  if (sources.length === 0) return call;
  let attribution: CallAttribution | undefined;
  for (const field of Object.keys(call.attribution) as (keyof CallAttribution)[]) {
    if (call.attribution[field] !== '') continue;
    const value = sources.find((a) => a[field] !== '')?.[field];
    if (value === undefined) continue;
    attribution ??= { ...call.attribution };
    attribution[field] = value;
  }
  return attribution ? { ...call, attribution } : call;
}

/** Whether a record is better than another: the higher usage rank, else the outer one. */
function preferred(aRank: number, aIsOuter: boolean, bRank: number, bIsOuter: boolean): boolean {
  if (aRank !== bRank) return aRank > bRank;
  return aIsOuter && !bIsOuter;
}
