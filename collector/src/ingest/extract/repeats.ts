/**
 * One LLM call, one record. Several producers can describe the same request: OpenLLMetry's
 * span wraps the Anthropic SDK's own span (a child, same response id); tokenledger's span sits
 * beside it (a sibling, same response id). GenAI call spans of the same trace and provider that
 * share a response id, or of which one is the other's parent, are one call.
 *
 * The spans of one call can arrive in different export requests (each producer exports on its
 * own schedule; a SimpleSpanProcessor exports every span alone), so the calls already seen in
 * earlier requests of the same traces take part too ("prior" calls, from the collector's trace
 * window). A call already sent to storage is never replaced: a later twin is dropped even when it
 * is the better record (a stored call is never lost or counted twice; correctness over
 * preference). The same span arriving again (an exporter retry) is kept, and storage drops it
 * by its key. Among spans seen together, the kept record is tokenledger's own, else the
 * outermost, else the first.
 */
import type { ExtractedCall } from '../../core/call';

export interface CallCandidate<C extends ExtractedCall = ExtractedCall> {
  call: C;
  parentSpanId: string;
  /** gen_ai.response.id or the producer's equivalent; '' when unknown. */
  responseId: string;
  fromTokenledger: boolean;
}

/** A call span seen in an earlier export request. */
export interface PriorCall {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  provider: string;
  responseId: string;
  /** Whether it went to storage (false: it was dropped as a repeat of another). */
  stored: boolean;
}

/** The calls seen earlier in a trace. */
export type PriorCalls = (traceId: string) => Iterable<PriorCall>;

export const noPriorCalls: PriorCalls = () => [];

export interface RepeatsResult<C extends ExtractedCall> {
  kept: C[];
  repeats: number;
  /** Every candidate as a prior call for later requests (`stored` = kept). */
  seen: PriorCall[];
}

interface CallNode {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  provider: string;
  responseId: string;
  /** Index into the candidates, or -1 for a prior call. */
  candidate: number;
  stored: boolean;
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
  const keep = chooseKept(nodes, candidates, find, outer);
  return {
    kept: candidates.filter((_, i) => keep.has(i)).map((c) => c.call),
    repeats: candidates.length - keep.size,
    seen: candidates.map((c, i) => ({
      traceId: c.call.traceId,
      spanId: c.call.spanId,
      parentSpanId: c.parentSpanId,
      provider: c.call.provider,
      responseId: c.responseId,
      stored: keep.has(i),
    })),
  };
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
    stored: false,
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
        stored: p.stored,
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

/** The candidates to keep: per call, the retries of a stored prior record, else the best candidate. */
function chooseKept<C extends ExtractedCall>(
  nodes: CallNode[],
  candidates: CallCandidate<C>[],
  find: (i: number) => number,
  outer: boolean[],
): Set<number> {
  const storedSpans = new Map<number, Set<string>>();
  nodes.forEach((n, i) => {
    if (n.candidate !== -1 || !n.stored) return;
    const group = find(i);
    let spans = storedSpans.get(group);
    if (!spans) storedSpans.set(group, (spans = new Set()));
    spans.add(n.spanId);
  });
  const keep = new Set<number>();
  const best = new Map<number, number>();
  nodes.forEach((n, i) => {
    if (n.candidate === -1) return;
    const group = find(i);
    const stored = storedSpans.get(group);
    if (stored) {
      if (stored.has(n.spanId)) keep.add(n.candidate);
      return;
    }
    const current = best.get(group);
    if (
      current === undefined ||
      preferred(candidates[n.candidate]!, outer[i]!, candidates[current]!, outer[current]!)
    ) {
      best.set(group, n.candidate);
    }
  });
  for (const i of best.values()) keep.add(i);
  return keep;
}

/** Whether `a` is a better record of the call than `b`: ours, else the outer one. */
function preferred(a: CallCandidate, aIsOuter: boolean, b: CallCandidate, bIsOuter: boolean): boolean {
  if (a.fromTokenledger !== b.fromTokenledger) return a.fromTokenledger;
  return aIsOuter && !bIsOuter;
}
