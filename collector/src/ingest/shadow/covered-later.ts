/**
 * HTTP requests an earlier export recorded as uninstrumented AI traffic that a GenAI span of this
 * export covers (the HTTP span ended, and was exported, before the GenAI span around it).
 */
import type { GenAiSpanRef } from '../extract/extract';
import type { AiHttpCall } from '../../core/ai-http-call';
import { covers, spansByTrace } from './shadow';

export function coveredLater(
  genaiSpans: GenAiSpanRef[],
  recordedShadow: (traceId: string) => Iterable<AiHttpCall>,
): AiHttpCall[] {
  const byTrace = spansByTrace(genaiSpans);
  const out: AiHttpCall[] = [];
  for (const [traceId, spans] of byTrace) {
    for (const http of recordedShadow(traceId)) {
      // Kept in the window and repeated on every covering arrival: the delete is idempotent, and a
      // retried export (after a failed delete) must ask for it again.
      if (spans.some((g) => covers(g, http, http.provider))) out.push({ ...http, coveredLater: true });
    }
  }
  return out;
}
