/**
 * A local server that speaks the Bedrock runtime's wire format, for tests that run the real
 * `@aws-sdk/client-bedrock-runtime` against it (endpoint option). The SDK talks HTTP/2 (its default
 * NodeHttp2Handler), so this is a cleartext HTTP/2 server.
 *
 *   POST /model/{modelId}/converse                      Converse JSON (usage.inputTokens, ...)
 *   POST /model/{modelId}/converse-stream               application/vnd.amazon.eventstream: messageStart,
 *                                                       contentBlockDelta..., contentBlockStop, messageStop,
 *                                                       metadata (usage, metrics)
 *   POST /model/{modelId}/invoke                        the model family's JSON body, plus the
 *                                                       x-amzn-bedrock-{input,output}-token-count headers
 *   POST /model/{modelId}/invoke-with-response-stream   event stream of `chunk` events, each
 *                                                       {"bytes": base64(family JSON)}; the last JSON carries
 *                                                       "amazon-bedrock-invocationMetrics"
 * Model families for InvokeModel: anthropic.* (Messages API: usage with cache fields; stream:
 * message_start ... message_stop), meta.* (prompt_token_count / generation_token_count), mistral.*
 * (outputs[] only: usage in the headers). Event-stream framing (prelude, headers, CRCs) is encoded
 * by the SDK's own codec (@smithy/core/event-streams), as AWS frames it.
 *
 * Usage is scriptable: `setUsage(usage)` (default) or per model; a model id containing `fail-429`
 * (or any `fail-<status>`) answers AWS's error (`x-amzn-errortype: ThrottlingException`).
 * `x-fake-stall-after: N` on a stream: N events, then stall until the client goes away.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { EventStreamCodec } from '@smithy/core/event-streams';
import { fromUtf8, toUtf8 } from '@smithy/core/serde';

export interface BedrockFakeUsage {
  /** Input tokens as Bedrock counts them: cache reads and writes NOT included. */
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  /**
   * The part of cacheWrite written with a 1-hour TTL. When given, the TTL split is reported as
   * Bedrock does (Converse `cacheDetails`, Anthropic bodies' `cache_creation`); otherwise it is not.
   */
  cacheWrite1h?: number;
}

export const DEFAULT_BEDROCK_USAGE: BedrockFakeUsage = { input: 25, output: 10, cacheRead: 0, cacheWrite: 0 };
export const BEDROCK_CONTENT = ['Hello', ' from', ' fake', ' Bedrock', '.'];

export interface BedrockRequest {
  path: string;
  /** The model id from the path, URL-decoded. */
  modelId: string;
  operation: string;
  headers: http2.IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
}

export interface FakeBedrock {
  /** The `endpoint` for the SDK client, e.g. http://127.0.0.1:43123 */
  url: string;
  port: number;
  requests: BedrockRequest[];
  setUsage(usage: Partial<BedrockFakeUsage>, modelId?: string): void;
  reset(): void;
  close(): Promise<void>;
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const ERROR_TYPES: Record<number, string> = {
  400: 'ValidationException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  429: 'ThrottlingException',
  500: 'InternalServerException',
  503: 'ServiceUnavailableException',
};

/** One event-stream message as Bedrock sends it: :event-type, :content-type, :message-type headers. */
export function eventMessage(eventType: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8(JSON.stringify(payload)),
  });
}

/** An InvokeModelWithResponseStream `chunk` event: the model's JSON, base64 in `bytes`. */
function chunkMessage(modelJson: unknown): Uint8Array {
  return eventMessage('chunk', {
    bytes: Buffer.from(JSON.stringify(modelJson)).toString('base64'),
    p: 'abcdefghijklmnopqrstuvwxyzABCDEFGH',
  });
}

function vendorOf(modelId: string): string {
  const last = modelId.slice(modelId.lastIndexOf('/') + 1);
  const parts = last.split('.');
  return ['us', 'eu', 'apac', 'global', 'jp', 'au', 'ca', 'us-gov'].includes(parts[0]!)
    ? parts[1]!
    : parts[0]!;
}

export async function startFakeBedrock(): Promise<FakeBedrock> {
  const requests: BedrockRequest[] = [];
  let defaultUsage: BedrockFakeUsage = { ...DEFAULT_BEDROCK_USAGE };
  const usageByModel = new Map<string, Partial<BedrockFakeUsage>>();
  let seq = 0;

  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(parts)).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: String(err) }));
      });
    });
  });

  async function handle(
    req: http2.Http2ServerRequest,
    res: http2.Http2ServerResponse,
    raw: Buffer,
  ): Promise<void> {
    let body: Record<string, unknown> | undefined;
    try {
      body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    const path = (req.url ?? '').split('?')[0]!;
    const m = /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/.exec(path);
    const modelId = m ? decodeURIComponent(m[1]!) : '';
    const operation = m?.[2] ?? '';
    requests.push({ path, modelId, operation, headers: req.headers, body });
    if (req.method !== 'POST' || !m) return sendError(res, 404, 'UnknownOperationException');
    const fail = /fail-(\d{3})/.exec(modelId);
    if (fail) {
      const status = Number(fail[1]);
      return sendError(res, status, ERROR_TYPES[status] ?? 'InternalServerException');
    }
    const n = ++seq;
    const usage: BedrockFakeUsage = { ...defaultUsage, ...usageByModel.get(modelId) };
    const stallHeader = req.headers['x-fake-stall-after'];
    const stallAfter = typeof stallHeader === 'string' ? Number(stallHeader) : undefined;
    const requestId = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    if (operation === 'converse') {
      return sendJSON(res, requestId, converseOutput(usage));
    }
    if (operation === 'converse-stream') {
      return sendEvents(res, requestId, converseStreamEvents(usage), stallAfter);
    }
    const vendor = vendorOf(modelId);
    if (operation === 'invoke') {
      return sendJSON(res, requestId, invokeBody(vendor, usage, n), {
        'x-amzn-bedrock-input-token-count': String(usage.input),
        'x-amzn-bedrock-output-token-count': String(usage.output),
        'x-amzn-bedrock-invocation-latency': '321',
      });
    }
    return sendEvents(res, requestId, invokeStreamChunks(vendor, usage, n).map(chunkMessage), stallAfter);
  }

  function sendJSON(
    res: http2.Http2ServerResponse,
    requestId: string,
    value: unknown,
    headers: Record<string, string> = {},
  ): void {
    const bytes = Buffer.from(JSON.stringify(value));
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': String(bytes.length),
      'x-amzn-requestid': requestId,
      ...headers,
    });
    res.end(bytes);
  }

  function sendError(res: http2.Http2ServerResponse, status: number, type: string): void {
    const bytes = Buffer.from(JSON.stringify({ message: `Fake ${type}` }));
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(bytes.length),
      'x-amzn-requestid': '00000000-0000-4000-8000-ffffffffffff',
      'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    });
    res.end(bytes);
  }

  async function sendEvents(
    res: http2.Http2ServerResponse,
    requestId: string,
    messages: Uint8Array[],
    stallAfter: number | undefined,
  ): Promise<void> {
    res.writeHead(200, {
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-requestid': requestId,
      'x-amzn-bedrock-content-type': 'application/json',
    });
    for (let i = 0; i < messages.length; i++) {
      if (stallAfter !== undefined && i >= stallAfter) {
        await new Promise<void>((ok) => res.on('close', () => ok()));
        return;
      }
      res.write(messages[i]!);
      await new Promise((ok) => setImmediate(ok));
    }
    res.end();
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setUsage(usage, modelId) {
      if (modelId === undefined) defaultUsage = { ...defaultUsage, ...usage };
      else usageByModel.set(modelId, { ...usageByModel.get(modelId), ...usage });
    },
    reset() {
      requests.length = 0;
      usageByModel.clear();
      defaultUsage = { ...DEFAULT_BEDROCK_USAGE };
      seq = 0;
    },
    close() {
      return new Promise<void>((ok) => {
        for (const s of sessions) s.destroy();
        server.close(() => ok());
      });
    },
  };
}

function converseUsage(u: BedrockFakeUsage): Record<string, unknown> {
  return {
    inputTokens: u.input,
    outputTokens: u.output,
    totalTokens: u.input + u.output + u.cacheRead + u.cacheWrite,
    cacheReadInputTokens: u.cacheRead,
    cacheWriteInputTokens: u.cacheWrite,
    ...(u.cacheWrite1h === undefined
      ? {}
      : {
          // Sorted 1h before 5m, only the TTLs written to, as the service answers.
          cacheDetails: [
            { ttl: '1h', inputTokens: u.cacheWrite1h },
            { ttl: '5m', inputTokens: u.cacheWrite - u.cacheWrite1h },
          ].filter((d) => d.inputTokens > 0),
        }),
  };
}

function converseOutput(u: BedrockFakeUsage): Record<string, unknown> {
  return {
    output: { message: { role: 'assistant', content: [{ text: BEDROCK_CONTENT.join('') }] } },
    stopReason: 'end_turn',
    usage: converseUsage(u),
    metrics: { latencyMs: 321 },
  };
}

function converseStreamEvents(u: BedrockFakeUsage): Uint8Array[] {
  return [
    eventMessage('messageStart', { role: 'assistant', p: 'abcdefgh' }),
    ...BEDROCK_CONTENT.map((text) =>
      eventMessage('contentBlockDelta', { contentBlockIndex: 0, delta: { text }, p: 'abcd' }),
    ),
    eventMessage('contentBlockStop', { contentBlockIndex: 0, p: 'abcdefghij' }),
    eventMessage('messageStop', { stopReason: 'end_turn', p: 'abcdef' }),
    eventMessage('metadata', { usage: converseUsage(u), metrics: { latencyMs: 321 }, p: 'abc' }),
  ];
}

function anthropicUsage(u: BedrockFakeUsage): Record<string, unknown> {
  return {
    input_tokens: u.input,
    cache_creation_input_tokens: u.cacheWrite,
    cache_read_input_tokens: u.cacheRead,
    ...(u.cacheWrite1h === undefined
      ? {}
      : {
          cache_creation: {
            ephemeral_5m_input_tokens: u.cacheWrite - u.cacheWrite1h,
            ephemeral_1h_input_tokens: u.cacheWrite1h,
          },
        }),
    output_tokens: u.output,
  };
}

function invokeBody(vendor: string, u: BedrockFakeUsage, n: number): Record<string, unknown> {
  const text = BEDROCK_CONTENT.join('');
  if (vendor === 'anthropic') {
    return {
      id: `msg_bdrk_fake${n}`,
      type: 'message',
      role: 'assistant',
      model: 'claude-3-5-sonnet-20240620',
      content: [{ type: 'text', text }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: anthropicUsage(u),
    };
  }
  if (vendor === 'meta') {
    return {
      generation: text,
      prompt_token_count: u.input,
      generation_token_count: u.output,
      stop_reason: 'stop',
    };
  }
  // mistral.* text completion: no usage in the body, only in the headers.
  return { outputs: [{ text, stop_reason: 'stop' }] };
}

function invocationMetrics(u: BedrockFakeUsage): Record<string, number> {
  return {
    inputTokenCount: u.input,
    outputTokenCount: u.output,
    invocationLatency: 321,
    firstByteLatency: 123,
  };
}

function invokeStreamChunks(vendor: string, u: BedrockFakeUsage, n: number): unknown[] {
  if (vendor === 'anthropic') {
    return [
      {
        type: 'message_start',
        message: {
          id: `msg_bdrk_fake${n}`,
          type: 'message',
          role: 'assistant',
          model: 'claude-3-5-sonnet-20240620',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...anthropicUsage(u), output_tokens: 1 },
        },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      ...BEDROCK_CONTENT.map((text) => ({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text },
      })),
      { type: 'content_block_stop', index: 0 },
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: u.output },
      },
      { type: 'message_stop', 'amazon-bedrock-invocationMetrics': invocationMetrics(u) },
    ];
  }
  // Other families: text pieces, the counts only in the final invocation metrics.
  const pieces: Record<string, unknown>[] = BEDROCK_CONTENT.map((text) => ({
    outputs: [{ text, stop_reason: null }],
  }));
  pieces[pieces.length - 1] = {
    outputs: [{ text: BEDROCK_CONTENT.at(-1), stop_reason: 'stop' }],
    'amazon-bedrock-invocationMetrics': invocationMetrics(u),
  };
  return pieces;
}
