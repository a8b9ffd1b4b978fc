/**
 * One instrumented `@google/genai` request and how it ends: a GenerateContentResponse, an
 * EmbedContentResponse, or a stream of GenerateContentResponse chunks. The stream is the SDK's own
 * async generator object; its `next` / `return` / `throw` are observed in place, so the app keeps
 * the very object (and chunks) the SDK made.
 */
import type { Attributes, Span } from '@opentelemetry/api';
import { sdkErrorReader } from '../shared/errors';
import { ObservedIterator } from '../shared/observed-iterator';
import { ResolvedCall } from '../shared/resolved-call';
import {
  GeminiOperation,
  setEmbeddingUsageAttributes,
  setResponseAttributes,
  setUsageAttributes,
  type AnyRecord,
} from './utils';

/** `@google/genai` errors: ApiError with `status`; fetch's AbortError when the app aborts. */
const GENAI_ERRORS = sdkErrorReader({
  abortNames: ['AbortError', 'RequestAbortedError'],
  genericClasses: ['Error'],
  status: (err) => err.status ?? err.statusCode,
});

export class GeminiCall extends ResolvedCall {
  /** Stream state: usageMetadata is repeated on chunks, the last one is complete. */
  private readonly collected: Attributes = {};
  private usage: AnyRecord | undefined;

  constructor(
    span: Span,
    private readonly op: GeminiOperation,
    abortSignal: AbortSignal | undefined,
  ) {
    super(span, GENAI_ERRORS, op === GeminiOperation.Stream, abortSignal);
  }

  protected onResponse(response: AnyRecord): void {
    const attrs: Attributes = {};
    if (this.op === GeminiOperation.Embed) {
      setEmbeddingUsageAttributes(attrs, response);
    } else {
      setResponseAttributes(attrs, response);
      setUsageAttributes(attrs, response.usageMetadata);
    }
    this.setAttributes(attrs);
    this.end();
  }

  protected observeStream(gen: AnyRecord): void {
    if (typeof gen.next !== 'function') {
      this.end();
      return;
    }
    // The generator's own methods, bound before they are shadowed below.
    const source: AsyncIterator<unknown> = {
      next: gen.next.bind(gen),
      return: typeof gen.return === 'function' ? gen.return.bind(gen) : undefined,
      throw: typeof gen.throw === 'function' ? gen.throw.bind(gen) : undefined,
    };
    const observed = new ObservedIterator(source, this);
    // Own properties shadow the generator's methods; `gen[Symbol.asyncIterator]()` still returns gen.
    gen.next = (...a: [] | [unknown]) => observed.next(...a);
    gen.return = (v?: unknown) => observed.return(v);
    gen.throw = (e?: unknown) => observed.throw(e);
  }

  onItem(item: unknown): void {
    if (item === null || typeof item !== 'object') return;
    const chunk = item as AnyRecord;
    setResponseAttributes(this.collected, chunk);
    const usage = chunk.usageMetadata;
    if (usage !== null && typeof usage === 'object') this.usage = usage;
  }

  protected setCollected(): void {
    setUsageAttributes(this.collected, this.usage);
    this.setAttributes(this.collected);
  }
}
