/**
 * A local HTTP server that speaks the Gemini API wire format (Developer API and Vertex AI paths),
 * for tests that run the real `@google/genai` SDK against it via `httpOptions.baseUrl`.
 *
 *   POST …/models/{model}:generateContent               JSON GenerateContentResponse
 *   POST …/models/{model}:streamGenerateContent?alt=sse SSE: `data: {chunk}\r\n\r\n` per chunk, no
 *        terminator. Every chunk carries `usageMetadata`, but only the last one is complete (the
 *        earlier ones have the prompt count only, as Gemini sends them); with `usageAtEndOnly` the
 *        earlier chunks carry none.
 *   POST …/models/{model}:batchEmbedContents            (Developer API) `{ embeddings, usageMetadata }`
 *   POST …/models/{model}:predict                       (Vertex) `{ predictions: [{ embeddings: { values, statistics } }] }`
 *   errors                                              Google's `{ error: { code, message, status } }`
 *
 * The path prefix is free (`/v1beta/models/…`, `/v1beta1/projects/p/locations/l/publishers/google/models/…`),
 * so one server serves both modes. A model named `fail-<status>` gets that error. Responses are
 * deterministic, so an app's printed output can be compared between runs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Gemini's usageMetadata counts. */
export interface GeminiUsage {
  /** promptTokenCount: the whole prompt, cached content included. */
  prompt: number;
  candidates: number;
  /** thoughtsTokenCount (thinking models); 0 = field absent. */
  thoughts: number;
  /** cachedContentTokenCount; 0 = field absent. */
  cached: number;
  /** toolUsePromptTokenCount; 0 = field absent. */
  toolUse: number;
}

export const DEFAULT_GEMINI_USAGE: GeminiUsage = {
  prompt: 20,
  candidates: 8,
  thoughts: 0,
  cached: 0,
  toolUse: 0,
};
export const GEMINI_CONTENT = ['Hello', ' from', ' fake', ' Gemini', '.'];

export interface GeminiRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
}

export interface FakeGemini {
  /** Base URL for `httpOptions.baseUrl`. */
  url: string;
  port: number;
  requests: GeminiRequest[];
  /** usageMetadata for a model (or the default when no model is given). */
  setUsage(usage: Partial<GeminiUsage>, model?: string): void;
  /** Streams: only the last chunk carries usageMetadata. */
  setUsageAtEndOnly(on: boolean): void;
  reset(): void;
  close(): Promise<void>;
}

export function usageMetadata(u: GeminiUsage, complete = true): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    promptTokenCount: u.prompt,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: u.prompt }],
  };
  if (!complete) return { ...meta, totalTokenCount: u.prompt };
  meta.candidatesTokenCount = u.candidates;
  meta.totalTokenCount = u.prompt + u.candidates + u.thoughts + u.toolUse;
  if (u.cached) {
    meta.cachedContentTokenCount = u.cached;
    meta.cacheTokensDetails = [{ modality: 'TEXT', tokenCount: u.cached }];
  }
  if (u.thoughts) meta.thoughtsTokenCount = u.thoughts;
  if (u.toolUse) meta.toolUsePromptTokenCount = u.toolUse;
  return meta;
}

function candidate(text: string, finishReason?: string): Record<string, unknown> {
  const c: Record<string, unknown> = { content: { parts: [{ text }], role: 'model' }, index: 0 };
  if (finishReason) c.finishReason = finishReason;
  return c;
}

/** Splits `/…/models/{model}:{method}` into model and method. */
function route(path: string): { model: string; method: string } | undefined {
  const m = /\/models\/([^/:]+):([A-Za-z]+)$/.exec(path);
  return m ? { model: decodeURIComponent(m[1]!), method: m[2]! } : undefined;
}

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  403: 'PERMISSION_DENIED',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

export async function startFakeGemini(): Promise<FakeGemini> {
  const requests: GeminiRequest[] = [];
  let defaultUsage: GeminiUsage = { ...DEFAULT_GEMINI_USAGE };
  let usageByModel = new Map<string, GeminiUsage>();
  let usageAtEndOnly = false;
  let responseCounter = 0;

  const usageFor = (model: string): GeminiUsage => usageByModel.get(model) ?? defaultUsage;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [path = '', query = ''] = (req.url ?? '').split('?');
      let body: Record<string, unknown> | undefined;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        body = undefined;
      }
      requests.push({ method: req.method ?? '', path, query, headers: req.headers, body });
      const r = route(path);
      if (req.method !== 'POST' || !r) {
        sendError(res, 404, 'not found');
        return;
      }
      const failure = /^fail-(\d{3})$/.exec(r.model);
      if (failure) {
        sendError(res, Number(failure[1]), `scripted failure for ${r.model}`);
        return;
      }
      const usage = usageFor(r.model);
      const responseId = `fake-gemini-${++responseCounter}`;
      switch (r.method) {
        case 'generateContent':
          sendJson(res, {
            candidates: [candidate(GEMINI_CONTENT.join(''), 'STOP')],
            usageMetadata: usageMetadata(usage),
            modelVersion: r.model,
            responseId,
          });
          return;
        case 'streamGenerateContent':
          sendStream(res, r.model, responseId, usage, usageAtEndOnly);
          return;
        case 'batchEmbedContents': {
          const n = Array.isArray(body?.requests) ? body.requests.length : 1;
          sendJson(res, {
            embeddings: Array.from({ length: n }, (_, i) => ({ values: [0.25 * (i + 1), -0.5, 0.125] })),
            usageMetadata: { promptTokenCount: usage.prompt, totalTokenCount: usage.prompt },
          });
          return;
        }
        case 'predict': {
          const instances = Array.isArray(body?.instances) ? body.instances : [];
          const each = Math.floor(usage.prompt / Math.max(1, instances.length));
          sendJson(res, {
            predictions: instances.map((_, i) => ({
              embeddings: {
                values: [0.25 * (i + 1), -0.5],
                statistics: { token_count: each, truncated: false },
              },
            })),
            metadata: { billableCharacterCount: 42 },
          });
          return;
        }
        default:
          sendError(res, 404, `unknown method ${r.method}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setUsage(usage, model) {
      if (model === undefined) defaultUsage = { ...defaultUsage, ...usage };
      else usageByModel.set(model, { ...defaultUsage, ...usage });
    },
    setUsageAtEndOnly(on) {
      usageAtEndOnly = on;
    },
    reset() {
      requests.length = 0;
      defaultUsage = { ...DEFAULT_GEMINI_USAGE };
      usageByModel = new Map();
      usageAtEndOnly = false;
      responseCounter = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sendJson(res: http.ServerResponse, body: unknown, status = 200): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(data),
  });
  res.end(data);
}

function sendError(res: http.ServerResponse, status: number, message: string): void {
  sendJson(res, { error: { code: status, message, status: STATUS_NAMES[status] ?? 'UNKNOWN' } }, status);
}

/** One SSE event per content piece; the last carries finishReason and the complete usage. */
function sendStream(
  res: http.ServerResponse,
  model: string,
  responseId: string,
  usage: GeminiUsage,
  usageAtEndOnly: boolean,
): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  GEMINI_CONTENT.forEach((text, i) => {
    const last = i === GEMINI_CONTENT.length - 1;
    const chunk: Record<string, unknown> = { candidates: [candidate(text, last ? 'STOP' : undefined)] };
    if (last || !usageAtEndOnly) chunk.usageMetadata = usageMetadata(usage, last);
    chunk.modelVersion = model;
    chunk.responseId = responseId;
    res.write(`data: ${JSON.stringify(chunk)}\r\n\r\n`);
  });
  res.end();
}
