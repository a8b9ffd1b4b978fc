/**
 * A local HTTP server that speaks OpenAI's wire format, for tests that run the real `openai` SDK
 * against it (in-process or from a child process via a baseURL).
 *
 *   POST /v1/chat/completions   JSON, or SSE when `stream: true`: `data: {chunk}\n\n` ... `data: [DONE]\n\n`.
 *                               With `stream_options.include_usage: true` every chunk carries
 *                               `"usage": null` and a final chunk with `choices: []` carries the usage;
 *                               without it no chunk has a `usage` key (as OpenAI does).
 *   POST /v1/responses          JSON, or typed SSE events (`event: response.created` ...
 *                               `response.output_text.delta` ... `response.completed` with usage).
 *                               With `background: true` the reply (JSON) is the response `queued`,
 *                               without usage; a stream is the whole run, as without it.
 *   GET  /v1/responses/{id}     a stored response; a background one is `in_progress` for its first
 *                               `pendingReads` reads (default 1), then finished with its usage and
 *                               `completed_at`; `?stream=true` replays its events (after
 *                               `starting_after`, a sequence number), as a resumed stream.
 *   POST /v1/responses/{id}/cancel  cancels it (`cancelled`, no usage) unless it has finished.
 *   POST /v1/embeddings         JSON (floats, or base64 when `encoding_format: "base64"`).
 *   errors                      OpenAI's error JSON with the scripted status (429, 500, ...).
 *   service_tier                every reply's is the tier the request asked for when it is `flex` or
 *                               `priority`, else `default` (what OpenAI answers for `auto`).
 *
 * Everything is deterministic (ids, `created`, content), so an app's printed output can be
 * compared between runs. What a request gets is decided, first match wins, by:
 *   1. a queued one-shot step (`script(step)`), consumed by the next API request;
 *   2. request headers: `x-fake-usage: {"prompt_tokens":..}` (JSON, partial), `x-fake-error: 429`,
 *      `x-fake-stall-after: 2` (stream: send 2 chunks, then stall until the client goes away),
 *      `x-fake-finish-reason: max_output_tokens` (Responses: ends `incomplete` with that reason),
 *      `x-fake-response-failed: server_error` (Responses: ends `failed` with that error code);
 *   3. per-model settings: `setUsage(usage, model)`, `setError(status, model)`;
 *      a model named `fail-<status>` (e.g. `fail-429`) always gets that error;
 *   4. the defaults (`setUsage(usage)`, DEFAULT_USAGE; `setDelay(ms)` before every reply).
 * Every request received is recorded in `requests` (method, path, headers, parsed body).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUsage {
  /** Total input tokens (cached included), as OpenAI counts prompt_tokens / input_tokens. */
  input: number;
  output: number;
  /** prompt_tokens_details.cached_tokens / input_tokens_details.cached_tokens */
  cached: number;
  /** completion_tokens_details.reasoning_tokens / output_tokens_details.reasoning_tokens */
  reasoning: number;
}

export const DEFAULT_USAGE: FakeUsage = { input: 42, output: 7, cached: 0, reasoning: 0 };

export interface FakeError {
  status: number;
  /** OpenAI's error.type; default by status (rate_limit_error, server_error, invalid_request_error). */
  type?: string;
  code?: string | null;
  message?: string;
  /** Let the SDK retry (default false: the response carries `x-should-retry: false`). */
  retry?: boolean;
}

export interface FakeStep {
  usage?: Partial<FakeUsage>;
  error?: FakeError;
  /** Model echoed in the response; default: the response model for the request model. */
  responseModel?: string;
  /** Content pieces (stream deltas; joined for JSON replies). */
  content?: string[];
  finishReason?: string;
  /** Responses: the response ends `failed` with this error code (usage still reported). */
  failedCode?: string;
  /** Streams: send this many chunks / events, then stall until the client disconnects. */
  stallAfter?: number;
  /** Delay before replying (ms). */
  delayMs?: number;
  /** Background responses: how many retrieves still see it `in_progress` (default 1). */
  pendingReads?: number;
  /** Responses: `created_at` (Unix seconds; default FAKE_CREATED); a background one completes 5 s later. */
  createdAt?: number;
}

export interface FakeRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON body (undefined if none or not JSON). */
  body: Record<string, unknown> | undefined;
  /** When it arrived (ms since the epoch). */
  at: number;
}

export interface FakeOpenAI {
  /** baseURL for the SDK, including `/v1`, e.g. http://127.0.0.1:43123/v1 */
  url: string;
  /** http://127.0.0.1:<port>, without /v1 */
  origin: string;
  port: number;
  /** Every request received, in order. */
  requests: FakeRequest[];
  /** Default usage (no model), or usage for one request model. */
  setUsage(usage: Partial<FakeUsage>, model?: string): void;
  /** Every request for `model` fails with this error (undefined clears it). */
  setError(error: FakeError | undefined, model: string): void;
  /** Response model reported for a request model (default: `<model>-2024-08-06`). */
  setResponseModel(model: string, responseModel: string): void;
  /** Queue a one-shot behaviour for the next API request. */
  script(step: FakeStep): void;
  /** Every reply waits this long first (a provider's latency; a step's `delayMs` wins). */
  setDelay(ms: number): void;
  /** Forget requests, queued steps, per-model settings, and restart ids (chatcmpl-fake1, ...). */
  reset(): void;
  close(): Promise<void>;
}

export const FAKE_CREATED = 1_700_000_000;
export const FAKE_SYSTEM_FINGERPRINT = 'fp_fake0001';
export const DEFAULT_CONTENT = ['Hello', ' from', ' the', ' fake', ' OpenAI', '.'];

export function defaultResponseModel(model: string): string {
  return /-\d{4}-\d{2}-\d{2}$/.test(model) ? model : `${model}-2024-08-06`;
}

function errorTypeFor(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  if (status === 401) return 'invalid_authentication';
  return 'invalid_request_error';
}

function chatUsage(u: FakeUsage): Record<string, unknown> {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: u.reasoning,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function responsesUsage(u: FakeUsage): Record<string, unknown> {
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cached },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning },
    total_tokens: u.input + u.output,
  };
}

interface Resolved {
  usage: FakeUsage;
  error: FakeError | undefined;
  responseModel: string;
  content: string[];
  finishReason: string | undefined;
  failedCode: string | undefined;
  stallAfter: number | undefined;
  delayMs: number;
  pendingReads: number;
  createdAt: number;
  /** The tier the reply says served it: the request's `flex` or `priority`, else `default`. */
  serviceTier: string;
}

/** A stored response, as retrieve and cancel see it. */
interface StoredResponse {
  r: Resolved;
  n: number;
  inBackground: boolean;
  reads: number;
  cancelled: boolean;
}

/** How long after its `created_at` a background response completes (s). */
export const FAKE_BACKGROUND_SECONDS = 5;

function headerString(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const requests: FakeRequest[] = [];
  const queue: FakeStep[] = [];
  let defaultUsage: FakeUsage = { ...DEFAULT_USAGE };
  let defaultDelayMs = 0;
  const usageByModel = new Map<string, Partial<FakeUsage>>();
  const errorByModel = new Map<string, FakeError>();
  const responseModelByModel = new Map<string, string>();
  let seq = 0;
  const stored = new Map<string, StoredResponse>();

  function resolve(model: string, headers: http.IncomingHttpHeaders, tier?: unknown): Resolved {
    const step = queue.shift() ?? {};
    let headerUsage: Partial<FakeUsage> | undefined;
    const hu = headers['x-fake-usage'];
    if (typeof hu === 'string') {
      try {
        headerUsage = JSON.parse(hu) as Partial<FakeUsage>;
      } catch {
        headerUsage = undefined;
      }
    }
    const usage: FakeUsage = { ...defaultUsage, ...usageByModel.get(model), ...headerUsage, ...step.usage };
    let error = step.error;
    const he = headers['x-fake-error'];
    if (!error && typeof he === 'string' && Number(he) > 0) error = { status: Number(he) };
    if (!error) error = errorByModel.get(model);
    const m = /^fail-(\d{3})$/.exec(model);
    if (!error && m) error = { status: Number(m[1]) };
    const hs = headerString(headers['x-fake-stall-after']);
    const stallAfter = step.stallAfter ?? (hs !== undefined ? Number(hs) : undefined);
    return {
      usage,
      error,
      responseModel: step.responseModel ?? responseModelByModel.get(model) ?? defaultResponseModel(model),
      content: step.content ?? DEFAULT_CONTENT,
      finishReason: step.finishReason ?? headerString(headers['x-fake-finish-reason']),
      failedCode: step.failedCode ?? headerString(headers['x-fake-response-failed']),
      stallAfter,
      delayMs: step.delayMs ?? defaultDelayMs,
      pendingReads: step.pendingReads ?? 1,
      createdAt: step.createdAt ?? FAKE_CREATED,
      // OpenAI answers with the tier that served the request ("auto" and "default" run on default).
      serviceTier: tier === 'flex' || tier === 'priority' ? tier : 'default',
    };
  }

  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(parts)).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: { message: String(err), type: 'server_error', param: null, code: null } }),
        );
      });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): Promise<void> {
    let body: Record<string, unknown> | undefined;
    try {
      body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    requests.push({ method: req.method ?? '', path, headers: req.headers, body, at: Date.now() });
    const read = /\/responses\/([^/]+)(\/cancel)?$/.exec(path);
    if (read) {
      await readStored(res, decodeURIComponent(read[1]!), req.method ?? '', read[2] !== undefined, url);
      return;
    }
    const kind = path.endsWith('/chat/completions')
      ? 'chat'
      : path.endsWith('/responses')
        ? 'responses'
        : path.endsWith('/embeddings')
          ? 'embeddings'
          : undefined;
    if (req.method !== 'POST' || !kind) {
      sendError(res, { status: 404, message: `Unknown request URL: ${req.method} ${path}.` });
      return;
    }
    const model = typeof body?.model === 'string' ? body.model : '';
    const r = resolve(model, req.headers, body?.service_tier);
    if (r.delayMs) await new Promise((ok) => setTimeout(ok, r.delayMs));
    if (r.error) {
      sendError(res, r.error);
      return;
    }
    const n = ++seq;
    const stream = body?.stream === true;
    if (kind === 'chat') {
      const includeUsage =
        (body?.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
      if (stream) await streamChat(res, r, includeUsage, n);
      else sendJSON(res, chatCompletion(r, n));
    } else if (kind === 'responses') {
      const inBackground = body?.background === true;
      // Only a background response created without streaming is still running when retrieve looks.
      const reads = inBackground && !stream ? 0 : r.pendingReads;
      stored.set(`resp_fake${n}`, { r, n, inBackground, reads, cancelled: false });
      if (stream) await streamResponses(res, r, n, inBackground);
      else sendJSON(res, responseObject(r, n, inBackground ? 'queued' : 'completed', inBackground));
    } else {
      sendJSON(res, embeddings(r, body));
    }
  }

  function baseHeaders(n?: number): Record<string, string> {
    return { 'x-request-id': `req_fake_${n ?? 0}`, 'openai-processing-ms': '1' };
  }

  function sendJSON(res: http.ServerResponse, value: unknown): void {
    const bytes = Buffer.from(JSON.stringify(value));
    res.writeHead(200, {
      ...baseHeaders(seq),
      'content-type': 'application/json',
      'content-length': String(bytes.length),
    });
    res.end(bytes);
  }

  function sendError(res: http.ServerResponse, e: FakeError): void {
    const bytes = Buffer.from(
      JSON.stringify({
        error: {
          message: e.message ?? `Fake error ${e.status}`,
          type: e.type ?? errorTypeFor(e.status),
          param: null,
          code: e.code ?? (e.status === 429 ? 'rate_limit_exceeded' : null),
        },
      }),
    );
    res.writeHead(e.status, {
      ...baseHeaders(),
      'content-type': 'application/json',
      'content-length': String(bytes.length),
      ...(e.retry ? { 'retry-after-ms': '10' } : { 'x-should-retry': 'false' }),
    });
    res.end(bytes);
  }

  function chatCompletion(r: Resolved, n: number): Record<string, unknown> {
    return {
      id: `chatcmpl-fake${n}`,
      object: 'chat.completion',
      created: FAKE_CREATED,
      model: r.responseModel,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: r.content.join(''), refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: r.finishReason ?? 'stop',
        },
      ],
      usage: chatUsage(r.usage),
      service_tier: r.serviceTier,
      system_fingerprint: FAKE_SYSTEM_FINGERPRINT,
    };
  }

  async function writeEvents(res: http.ServerResponse, events: string[], r: Resolved): Promise<void> {
    res.writeHead(200, { ...baseHeaders(seq), 'content-type': 'text/event-stream; charset=utf-8' });
    for (let i = 0; i < events.length; i++) {
      if (r.stallAfter !== undefined && i >= r.stallAfter) {
        // Stall until the client goes away (abort / break), like a slow model.
        await new Promise<void>((ok) => {
          res.on('close', () => ok());
        });
        return;
      }
      res.write(events[i]);
      // Let the client see chunks separately.
      await new Promise((ok) => setImmediate(ok));
    }
    res.end();
  }

  async function streamChat(
    res: http.ServerResponse,
    r: Resolved,
    includeUsage: boolean,
    n: number,
  ): Promise<void> {
    const chunk = (choices: unknown[], usage?: unknown): string => {
      const c: Record<string, unknown> = {
        id: `chatcmpl-fake${n}`,
        object: 'chat.completion.chunk',
        created: FAKE_CREATED,
        model: r.responseModel,
        service_tier: r.serviceTier,
        system_fingerprint: FAKE_SYSTEM_FINGERPRINT,
        choices,
      };
      if (includeUsage) c.usage = usage ?? null;
      return `data: ${JSON.stringify(c)}\n\n`;
    };
    const events: string[] = [];
    events.push(
      chunk([
        {
          index: 0,
          delta: { role: 'assistant', content: '', refusal: null },
          logprobs: null,
          finish_reason: null,
        },
      ]),
    );
    for (const piece of r.content) {
      events.push(chunk([{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }]));
    }
    events.push(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: r.finishReason ?? 'stop' }]));
    if (includeUsage) events.push(chunk([], chatUsage(r.usage)));
    events.push('data: [DONE]\n\n');
    await writeEvents(res, events, r);
  }

  async function readStored(
    res: http.ServerResponse,
    id: string,
    method: string,
    cancel: boolean,
    url: URL,
  ): Promise<void> {
    const b = stored.get(id);
    if (!b || method !== (cancel ? 'POST' : 'GET')) {
      sendError(res, { status: 404, message: `No response found with id '${id}'.` });
      return;
    }
    const finished = b.reads >= b.r.pendingReads;
    if (cancel) {
      if (!finished && b.inBackground) b.cancelled = true;
    } else {
      b.reads++;
    }
    const status = b.cancelled ? 'cancelled' : finished ? finalStatus(b.r) : 'in_progress';
    if (!cancel && url.searchParams.get('stream') === 'true') {
      const after = Number(url.searchParams.get('starting_after') ?? -1);
      await streamResponses(res, { ...b.r, stallAfter: undefined }, b.n, b.inBackground, after);
    } else {
      sendJSON(res, responseObject(b.r, b.n, status, b.inBackground));
    }
  }

  function finalStatus(r: Resolved): string {
    return r.failedCode ? 'failed' : r.finishReason ? 'incomplete' : 'completed';
  }

  function responseObject(
    r: Resolved,
    n: number,
    status: string,
    inBackground = false,
  ): Record<string, unknown> {
    const done = status === 'completed' || status === 'incomplete';
    // A failed response still bills the tokens it used: OpenAI reports them.
    const billed = done || status === 'failed';
    const text = r.content.join('');
    return {
      id: `resp_fake${n}`,
      object: 'response',
      created_at: r.createdAt,
      status,
      background: inBackground,
      completed_at:
        status === 'completed' ? r.createdAt + (inBackground ? FAKE_BACKGROUND_SECONDS : 0) : null,
      error:
        status === 'failed'
          ? { code: r.failedCode, message: 'The model failed to finish the response.' }
          : null,
      incomplete_details: status === 'incomplete' ? { reason: r.finishReason ?? 'max_output_tokens' } : null,
      instructions: null,
      max_output_tokens: null,
      model: r.responseModel,
      output: done
        ? [
            {
              id: `msg_fake${n}`,
              type: 'message',
              status: 'completed',
              role: 'assistant',
              content: [{ type: 'output_text', annotations: [], logprobs: [], text }],
            },
          ]
        : [],
      parallel_tool_calls: true,
      previous_response_id: null,
      reasoning: { effort: null, summary: null },
      service_tier: r.serviceTier,
      store: true,
      temperature: 1.0,
      text: { format: { type: 'text' }, verbosity: 'medium' },
      tool_choice: 'auto',
      tools: [],
      top_p: 1.0,
      truncation: 'disabled',
      usage: billed ? responsesUsage(r.usage) : null,
      user: null,
      metadata: {},
    };
  }

  async function streamResponses(
    res: http.ServerResponse,
    r: Resolved,
    n: number,
    inBackground = false,
    startingAfter = -1,
  ): Promise<void> {
    let sequence = 0;
    const ev = (type: string, payload: Record<string, unknown>): string =>
      `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...payload })}\n\n`;
    const itemId = `msg_fake${n}`;
    const text = r.content.join('');
    const final = finalStatus(r);
    const events = [
      ev('response.created', {
        response: responseObject(r, n, inBackground ? 'queued' : 'in_progress', inBackground),
      }),
      ev('response.in_progress', { response: responseObject(r, n, 'in_progress', inBackground) }),
      ev('response.output_item.added', {
        output_index: 0,
        item: { id: itemId, type: 'message', status: 'in_progress', content: [], role: 'assistant' },
      }),
      ev('response.content_part.added', {
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        part: { type: 'output_text', annotations: [], logprobs: [], text: '' },
      }),
      ...r.content.map((delta) =>
        ev('response.output_text.delta', {
          item_id: itemId,
          output_index: 0,
          content_index: 0,
          delta,
          logprobs: [],
        }),
      ),
      ev('response.output_text.done', {
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        text,
        logprobs: [],
      }),
      ev('response.content_part.done', {
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        part: { type: 'output_text', annotations: [], logprobs: [], text },
      }),
      ev('response.output_item.done', {
        output_index: 0,
        item: {
          id: itemId,
          type: 'message',
          status: 'completed',
          content: [{ type: 'output_text', annotations: [], logprobs: [], text }],
          role: 'assistant',
        },
      }),
      ev(`response.${final}`, { response: responseObject(r, n, final, inBackground) }),
    ];
    await writeEvents(res, events.slice(startingAfter + 1), r);
  }

  function embeddings(r: Resolved, body: Record<string, unknown> | undefined): Record<string, unknown> {
    const input = body?.input;
    const inputs = Array.isArray(input) ? input : [input];
    const base64 = body?.encoding_format === 'base64';
    return {
      object: 'list',
      data: inputs.map((_, index) => {
        const vec = [0.25, -0.5, 0.125, 1];
        return {
          object: 'embedding',
          index,
          embedding: base64 ? Buffer.from(new Float32Array(vec).buffer).toString('base64') : vec,
        };
      }),
      model: r.responseModel,
      usage: { prompt_tokens: r.usage.input, total_tokens: r.usage.input },
    };
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}/v1`,
    origin,
    port,
    requests,
    setUsage(usage, model) {
      if (model === undefined) defaultUsage = { ...defaultUsage, ...usage };
      else usageByModel.set(model, { ...usageByModel.get(model), ...usage });
    },
    setError(error, model) {
      if (error) errorByModel.set(model, error);
      else errorByModel.delete(model);
    },
    setResponseModel(model, responseModel) {
      responseModelByModel.set(model, responseModel);
    },
    script(step) {
      queue.push(step);
    },
    setDelay(ms) {
      defaultDelayMs = ms;
    },
    reset() {
      defaultDelayMs = 0;
      requests.length = 0;
      queue.length = 0;
      usageByModel.clear();
      errorByModel.clear();
      responseModelByModel.clear();
      stored.clear();
      defaultUsage = { ...DEFAULT_USAGE };
      seq = 0;
    },
    close() {
      return new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      });
    },
  };
}
