/**
 * One instrumented Mistral call and how it ends: a ChatCompletionResponse / EmbeddingResponse, or an
 * EventStream (a ReadableStream of `{ data: CompletionChunk }` events, usage on the last chunk).
 * The stream object reaching the app is the SDK's own: its `Symbol.asyncIterator` and `getReader`
 * are observed in place and every event passes through by reference.
 */
import type { Attributes, Span } from '@opentelemetry/api';
import { ATTR_GEN_AI_RESPONSE_FINISH_REASONS } from '../../semconv';
import { sdkErrorReader } from '../shared/errors';
import { ObservedIterator, observeIteratorMethod } from '../shared/observed-iterator';
import { ResolvedCall } from '../shared/resolved-call';
import { MistralOperation, setResponseAttributes, setUsageAttributes, type AnyRecord } from './utils';

/** Mistral's Speakeasy SDK errors: `statusCode`; RequestAbortedError when the app aborts. */
const MISTRAL_ERRORS = sdkErrorReader({
  abortNames: ['AbortError', 'RequestAbortedError'],
  genericClasses: ['Error'],
  status: (err) => err.status ?? err.statusCode,
});

type Read = () => Promise<IteratorResult<unknown>>;

export class MistralCall extends ResolvedCall {
  private readonly collected: Attributes = {};
  private usage: AnyRecord | undefined;
  private finishReasons: string[] | undefined;

  constructor(span: Span, op: MistralOperation, abortSignal: AbortSignal | undefined) {
    super(span, MISTRAL_ERRORS, op === MistralOperation.Stream, abortSignal);
  }

  protected onResponse(response: AnyRecord): void {
    const attrs: Attributes = {};
    setResponseAttributes(attrs, response);
    setUsageAttributes(attrs, response.usage);
    this.setAttributes(attrs);
    this.end();
  }

  protected observeStream(streamObj: AnyRecord): void {
    const stream = streamObj as Record<PropertyKey, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const getReader = stream.getReader as ((...a: unknown[]) => AnyRecord) | undefined;
    if (!observeIteratorMethod(stream, Symbol.asyncIterator, this)) {
      this.end();
      return;
    }
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const call = this;
    if (typeof getReader === 'function') {
      stream.getReader = function (this: unknown, ...a: unknown[]) {
        const reader = getReader.apply(this, a);
        try {
          call.observeReader(reader);
        } catch {
          // leave the reader as it is
        }
        return reader;
      };
    }
  }

  /** An app reading with `getReader().read()`: same reader object, `read` / `cancel` observed. */
  private observeReader(reader: AnyRecord): void {
    const read = reader.read as Read;
    const cancel = reader.cancel as (reason?: unknown) => Promise<void>;
    if (typeof read !== 'function') return;
    const source: AsyncIterator<unknown> = {
      next: () => read.call(reader),
      return: (v) => cancel.call(reader, v).then(() => ({ done: true, value: undefined })),
    };
    const observed = new ObservedIterator(source, this);
    reader.read = () => observed.next();
    if (typeof cancel === 'function')
      reader.cancel = (reason?: unknown) => observed.return(reason).then(() => undefined);
  }

  onItem(item: unknown): void {
    if (item === null || typeof item !== 'object') return;
    const chunk = (item as AnyRecord).data;
    if (chunk === null || typeof chunk !== 'object') return;
    setResponseAttributes(this.collected, { id: chunk.id, model: chunk.model });
    const choices = chunk.choices;
    if (Array.isArray(choices)) {
      for (let i = 0; i < choices.length; i++) {
        const c = choices[i];
        if (typeof c?.finishReason === 'string')
          (this.finishReasons ??= [])[typeof c.index === 'number' ? c.index : i] = c.finishReason;
      }
    }
    if (chunk.usage !== null && typeof chunk.usage === 'object') this.usage = chunk.usage;
  }

  protected setCollected(): void {
    const reasons = this.finishReasons?.filter((r) => typeof r === 'string');
    if (reasons?.length) this.collected[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = reasons;
    setUsageAttributes(this.collected, this.usage);
    this.setAttributes(this.collected);
  }
}
