/**
 * A local HTTP server that speaks Anthropic's wire format, for tests that run the real
 * `@anthropic-ai/sdk` against it (from a child process, via ANTHROPIC_BASE_URL).
 *
 *   POST /v1/messages                       a Message (JSON), or with `stream: true` SSE as the API
 *                                           sends it: `event: message_start` (usage: input_tokens,
 *                                           cache_creation_input_tokens, cache_read_input_tokens,
 *                                           output_tokens 1) · content_block_start · ping ·
 *                                           content_block_delta × n · content_block_stop ·
 *                                           message_delta (stop_reason, cumulative output_tokens) ·
 *                                           message_stop. A scripted `streamError` sends
 *                                           `event: error` (e.g. overloaded_error) mid-stream.
 *   POST /v1/messages/batches               a MessageBatch (in_progress)
 *   GET  /v1/messages/batches/:id           the batch, ended, with its results_url
 *   GET  /v1/messages/batches/:id/results   JSONL, one `{custom_id, result}` per line: the scripted
 *                                           results (succeeded with a Message, errored, expired)
 *   errors                                  `{type:"error", error:{type, message}, request_id}` with
 *                                           the scripted status (429 rate_limit_error, 529
 *                                           overloaded_error, ...), and `x-should-retry: false`.
 *
 * What a message request gets, first match wins: a queued one-shot step (`script(step)`), the
 * per-model usage (`setUsage(usage, model)`), the default usage. Ids are deterministic (msg_fake1,
 * ...), so an app's output can be compared between runs. Every request is recorded in `requests`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AnthropicUsage {
  /** Anthropic's input_tokens: input NOT read from or written to the cache. */
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  /** The part of cacheWrite written to the 1-hour cache (the rest goes to the 5-minute one). */
  cacheWrite1h?: number;
  /**
   * usage.service_tier when the organisation has capacity on it (`priority`: Priority Tier); a
   * request with `service_tier: "standard_only"` is answered `standard`. Default `standard`.
   */
  serviceTier?: 'standard' | 'priority';
}

export const DEFAULT_ANTHROPIC_USAGE: AnthropicUsage = { input: 25, output: 9, cacheRead: 0, cacheWrite: 0 };
export const DEFAULT_TEXT = ['Hello', ' from', ' the', ' fake', ' Claude', '.'];

export interface AnthropicErrorReply {
  status: number;
  type: string;
  message?: string;
}

export interface AnthropicStep {
  usage?: Partial<AnthropicUsage>;
  /** HTTP error instead of a message. */
  error?: AnthropicErrorReply;
  /** Stream: after `afterEvents` events, send `event: error` with this type and end the stream. */
  streamError?: { type: string; message?: string; afterEvents: number };
  /** Stream: send this many events, then stall until the client goes away. */
  stallAfter?: number;
  text?: string[];
  stopReason?: string;
}

export type BatchResultSpec =
  | { customId: string; type: 'succeeded'; model: string; usage: AnthropicUsage }
  | { customId: string; type: 'errored' | 'expired' | 'canceled' };

export interface FakeAnthropicRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
}

export interface FakeAnthropic {
  /** baseURL for the SDK (without /v1, as the SDK appends it). */
  url: string;
  port: number;
  requests: FakeAnthropicRequest[];
  setUsage(usage: Partial<AnthropicUsage>, model?: string): void;
  script(step: AnthropicStep): void;
  /** The results every batch reports. */
  setBatchResults(results: BatchResultSpec[]): void;
  reset(): void;
  close(): Promise<void>;
}

function errorBody(type: string, message: string): Record<string, unknown> {
  return { type: 'error', error: { type, message }, request_id: 'req_fake_error' };
}

function usageJSON(u: AnthropicUsage, output: number): Record<string, unknown> {
  return {
    input_tokens: u.input,
    cache_creation_input_tokens: u.cacheWrite,
    cache_read_input_tokens: u.cacheRead,
    cache_creation: {
      ephemeral_5m_input_tokens: u.cacheWrite - (u.cacheWrite1h ?? 0),
      ephemeral_1h_input_tokens: u.cacheWrite1h ?? 0,
    },
    output_tokens: output,
    service_tier: u.serviceTier ?? 'standard',
  };
}

export function fakeMessage(
  id: string,
  model: string,
  usage: AnthropicUsage,
  text: string[] = DEFAULT_TEXT,
  stopReason = 'end_turn',
): Record<string, unknown> {
  return {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: text.join('') }],
    stop_reason: stopReason,
    stop_sequence: null,
    usage: usageJSON(usage, usage.output),
  };
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function streamEvents(
  id: string,
  model: string,
  u: AnthropicUsage,
  text: string[],
  stopReason: string,
): string[] {
  const start = fakeMessage(id, model, u, text, stopReason);
  const events = [
    sse('message_start', {
      type: 'message_start',
      message: { ...start, content: [], stop_reason: null, usage: usageJSON(u, 1) },
    }),
    sse('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }),
    sse('ping', { type: 'ping' }),
  ];
  for (const piece of text) {
    events.push(
      sse('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: piece },
      }),
    );
  }
  events.push(
    sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
    sse('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: u.output },
    }),
    sse('message_stop', { type: 'message_stop' }),
  );
  return events;
}

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const requests: FakeAnthropicRequest[] = [];
  const queue: AnthropicStep[] = [];
  let defaultUsage: AnthropicUsage = { ...DEFAULT_ANTHROPIC_USAGE };
  const usageByModel = new Map<string, Partial<AnthropicUsage>>();
  let batchResults: BatchResultSpec[] = [];
  let seq = 0;
  let port = 0;

  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(parts)).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(errorBody('api_error', String(err))));
      });
    });
  });

  function sendJSON(res: http.ServerResponse, status: number, value: unknown): void {
    const bytes = Buffer.from(JSON.stringify(value));
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(bytes.length),
      'request-id': `req_fake_${seq}`,
      ...(status >= 400 ? { 'x-should-retry': 'false' } : {}),
    });
    res.end(bytes);
  }

  async function writeEvents(res: http.ServerResponse, events: string[], stallAfter?: number): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': `req_fake_${seq}`,
    });
    for (let i = 0; i < events.length; i++) {
      if (stallAfter !== undefined && i >= stallAfter) {
        await new Promise<void>((ok) => res.on('close', () => ok()));
        return;
      }
      res.write(events[i]);
      await new Promise((ok) => setImmediate(ok));
    }
    res.end();
  }

  function batchObject(id: string, ended: boolean): Record<string, unknown> {
    const count = (t: string) => batchResults.filter((r) => r.type === t).length;
    return {
      id,
      type: 'message_batch',
      processing_status: ended ? 'ended' : 'in_progress',
      request_counts: {
        processing: ended ? 0 : batchResults.length,
        succeeded: ended ? count('succeeded') : 0,
        errored: ended ? count('errored') : 0,
        canceled: ended ? count('canceled') : 0,
        expired: ended ? count('expired') : 0,
      },
      ended_at: ended ? '2026-01-01T00:10:00Z' : null,
      created_at: '2026-01-01T00:00:00Z',
      expires_at: '2026-01-02T00:00:00Z',
      archived_at: null,
      cancel_initiated_at: null,
      results_url: ended ? `http://127.0.0.1:${port}/v1/messages/batches/${id}/results` : null,
    };
  }

  function resultLine(r: BatchResultSpec, i: number): string {
    let result: unknown;
    if (r.type === 'succeeded') {
      result = { type: 'succeeded', message: fakeMessage(`msg_batch${i + 1}`, r.model, r.usage) };
    } else if (r.type === 'errored') {
      result = { type: 'errored', error: errorBody('invalid_request_error', 'bad request in batch') };
    } else {
      result = { type: r.type };
    }
    return JSON.stringify({ custom_id: r.customId, result });
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): Promise<void> {
    let body: Record<string, unknown> | undefined;
    try {
      body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    const path = (req.url ?? '').split('?')[0]!;
    requests.push({ method: req.method ?? '', path, headers: req.headers, body });

    if (req.method === 'POST' && path === '/v1/messages/batches') {
      sendJSON(res, 200, batchObject('msgbatch_fake1', false));
      return;
    }
    const batch = /^\/v1\/messages\/batches\/([^/]+)(\/results)?$/.exec(path);
    if (req.method === 'GET' && batch) {
      if (!batch[2]) {
        sendJSON(res, 200, batchObject(batch[1]!, true));
        return;
      }
      const jsonl = batchResults.map((r, i) => resultLine(r, i) + '\n').join('');
      res.writeHead(200, { 'content-type': 'application/binary', 'request-id': 'req_fake_results' });
      res.end(jsonl);
      return;
    }
    if (req.method !== 'POST' || path !== '/v1/messages') {
      sendJSON(res, 404, errorBody('not_found_error', `Not found: ${req.method} ${path}`));
      return;
    }

    const model = typeof body?.model === 'string' ? body.model : '';
    const step = queue.shift() ?? {};
    if (step.error) {
      sendJSON(res, step.error.status, errorBody(step.error.type, step.error.message ?? 'Fake error'));
      return;
    }
    const usage: AnthropicUsage = { ...defaultUsage, ...usageByModel.get(model), ...step.usage };
    if (body?.service_tier === 'standard_only') usage.serviceTier = 'standard';
    const n = ++seq;
    const id = `msg_fake${n}`;
    const text = step.text ?? DEFAULT_TEXT;
    const stopReason = step.stopReason ?? 'end_turn';
    if (body?.stream !== true) {
      sendJSON(res, 200, fakeMessage(id, model, usage, text, stopReason));
      return;
    }
    let events = streamEvents(id, model, usage, text, stopReason);
    if (step.streamError) {
      const { type, message, afterEvents } = step.streamError;
      events = [
        ...events.slice(0, afterEvents),
        sse('error', { type: 'error', error: { type, message: message ?? 'Overloaded' } }),
      ];
    }
    await writeEvents(res, events, step.stallAfter);
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setUsage(usage, model) {
      if (model === undefined) defaultUsage = { ...defaultUsage, ...usage };
      else usageByModel.set(model, usage);
    },
    script(step) {
      queue.push(step);
    },
    setBatchResults(results) {
      batchResults = results;
    },
    reset() {
      requests.length = 0;
      queue.length = 0;
      usageByModel.clear();
      defaultUsage = { ...DEFAULT_ANTHROPIC_USAGE };
      batchResults = [];
      seq = 0;
    },
    close() {
      return new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      });
    },
  };
}
