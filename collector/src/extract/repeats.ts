/**
 * One LLM call, one record. Several producers can describe the same request: OpenLLMetry's
 * span wraps the Anthropic SDK's own span (a child, same response id); tokenledger's span sits
 * beside it (a sibling, same response id). Within one export request, GenAI call spans of the
 * same trace and provider that share a response id, or of which one is the other's parent,
 * are one call. The kept record is tokenledger's own, else the outermost, else the first.
 */
import type { ExtractedCall } from '../model';

export interface CallCandidate {
  call: ExtractedCall;
  parentSpanId: string;
  /** gen_ai.response.id or the producer's equivalent; '' when unknown. */
  responseId: string;
  fromTokenledger: boolean;
}

export function dropRepeats(candidates: CallCandidate[]): { kept: ExtractedCall[]; repeats: number } {
  // Union-find over the candidates: linked ones describe the same call.
  const root = candidates.map((_, i) => i);
  const find = (i: number): number => (root[i] === i ? i : (root[i] = find(root[i]!)));
  const link = (i: number, j: number): void => {
    root[find(i)] = find(j);
  };
  const bySpan = new Map<string, number>();
  const byResponse = new Map<string, number>();
  candidates.forEach((c, i) => bySpan.set(c.call.traceId + c.call.spanId, i));
  candidates.forEach((c, i) => {
    const parent = bySpan.get(c.call.traceId + c.parentSpanId);
    if (parent !== undefined && candidates[parent]!.call.provider === c.call.provider) link(i, parent);
    if (c.responseId === '') return;
    const key = `${c.call.traceId} ${c.call.provider} ${c.responseId}`;
    const twin = byResponse.get(key);
    if (twin === undefined) byResponse.set(key, i);
    else link(i, twin);
  });
  const chosen = new Map<number, number>();
  candidates.forEach((c, i) => {
    const group = find(i);
    const best = chosen.get(group);
    if (best === undefined || preferred(c, candidates[best]!, bySpan)) chosen.set(group, i);
  });
  const keep = new Set(chosen.values());
  return {
    kept: candidates.filter((_, i) => keep.has(i)).map((c) => c.call),
    repeats: candidates.length - keep.size,
  };
}

/** Whether `a` is a better record of the call than `b`: ours, else the outer one. */
function preferred(a: CallCandidate, b: CallCandidate, bySpan: Map<string, number>): boolean {
  if (a.fromTokenledger !== b.fromTokenledger) return a.fromTokenledger;
  const aIsOuter = !bySpan.has(a.call.traceId + a.parentSpanId);
  const bIsOuter = !bySpan.has(b.call.traceId + b.parentSpanId);
  return aIsOuter && !bIsOuter;
}
