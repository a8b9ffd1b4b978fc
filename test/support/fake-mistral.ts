/**
 * A local HTTP server that speaks Mistral's wire format (La Plateforme, api.mistral.ai), for tests
 * that run the real `@mistralai/mistralai` SDK against it via `serverURL`.
 *
 *   POST /v1/chat/completions   JSON, or with `stream: true` SSE: `data: {chunk}\n\n` per chunk,
 *                               usage and finish_reason only on the last chunk, then `data: [DONE]\n\n`.
 *                               With a `response_format` of type `json_schema` the content is JSON
 *                               (MISTRAL_JSON_CONTENT), as the API's structured output returns.
 *   POST /v1/embeddings         JSON `{ data: [{ embedding }], usage }`.
 *   errors                      `{ object: "error", message, type, code }` with the HTTP status;
 *                               a model named `fail-<status>` always gets it.
 * Deterministic ids and content, so an app's printed output can be compared between runs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MistralUsage {
  /** prompt_tokens: total input, cached included. */
  prompt: number;
  completion: number;
  /** prompt_tokens_details.cached_tokens; 0 = field absent. */
  cached: number;
}

export const DEFAULT_MISTRAL_USAGE: MistralUsage = { prompt: 30, completion: 12, cached: 0 };
export const MISTRAL_CONTENT = ['Bonjour', ' from', ' fake', ' Mistral', '.'];
export const MISTRAL_JSON_CONTENT = ['{"greeting":', ' "Bonjour"}'];
export const MISTRAL_CREATED = 1_700_000_000;

export interface MistralRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
}

export interface FakeMistral {
  /** `serverURL` for the SDK (no /v1: the SDK adds it). */
  url: string;
  port: number;
  requests: MistralRequest[];
  setUsage(usage: Partial<MistralUsage>, model?: string): void;
  reset(): void;
  close(): Promise<void>;
}

export function wireUsage(u: MistralUsage): Record<string, unknown> {
  const usage: Record<string, unknown> = {
    prompt_tokens: u.prompt,
    completion_tokens: u.completion,
    total_tokens: u.prompt + u.completion,
  };
  if (u.cached) usage.prompt_tokens_details = { cached_tokens: u.cached };
  return usage;
}

export async function startFakeMistral(): Promise<FakeMistral> {
  const requests: MistralRequest[] = [];
  let defaultUsage: MistralUsage = { ...DEFAULT_MISTRAL_USAGE };
  let usageByModel = new Map<string, MistralUsage>();
  let counter = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown> | undefined;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        body = undefined;
      }
      const path = (req.url ?? '').split('?')[0] ?? '';
      requests.push({ method: req.method ?? '', path, headers: req.headers, body });
      const model = typeof body?.model === 'string' ? body.model : '';
      const failure = /^fail-(\d{3})$/.exec(model);
      if (failure) {
        const status = Number(failure[1]);
        sendJson(
          res,
          {
            object: 'error',
            message: `scripted failure for ${model}`,
            type: 'fake_error',
            param: null,
            code: String(status),
          },
          status,
        );
        return;
      }
      const usage = usageByModel.get(model) ?? defaultUsage;
      const id = `fake-mistral-${++counter}`;
      if (req.method === 'POST' && path === '/v1/chat/completions') {
        const format = body?.response_format as Record<string, unknown> | undefined;
        const content = format?.type === 'json_schema' ? MISTRAL_JSON_CONTENT : MISTRAL_CONTENT;
        if (body?.stream === true) sendStream(res, id, model, usage, content);
        else
          sendJson(res, {
            id,
            object: 'chat.completion',
            model,
            created: MISTRAL_CREATED,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: content.join(''), tool_calls: null },
                finish_reason: 'stop',
              },
            ],
            usage: wireUsage(usage),
          });
        return;
      }
      if (req.method === 'POST' && path === '/v1/embeddings') {
        const inputs = Array.isArray(body?.input) ? body.input : [body?.input];
        sendJson(res, {
          id,
          object: 'list',
          model,
          data: inputs.map((_, index) => ({
            object: 'embedding',
            embedding: [0.5 * (index + 1), -0.25],
            index,
          })),
          usage: { prompt_tokens: usage.prompt, completion_tokens: 0, total_tokens: usage.prompt },
        });
        return;
      }
      sendJson(
        res,
        { object: 'error', message: 'not found', type: 'invalid_request_error', code: '404' },
        404,
      );
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
    reset() {
      requests.length = 0;
      defaultUsage = { ...DEFAULT_MISTRAL_USAGE };
      usageByModel = new Map();
      counter = 0;
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
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

/** Role chunk, one chunk per content piece; the last has finish_reason and usage; then [DONE]. */
function sendStream(
  res: http.ServerResponse,
  id: string,
  model: string,
  usage: MistralUsage,
  content: string[],
): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const chunk = (delta: Record<string, unknown>, last: boolean): string => {
    const c: Record<string, unknown> = {
      id,
      object: 'chat.completion.chunk',
      created: MISTRAL_CREATED,
      model,
      choices: [{ index: 0, delta, finish_reason: last ? 'stop' : null }],
    };
    if (last) c.usage = wireUsage(usage);
    return `data: ${JSON.stringify(c)}\n\n`;
  };
  res.write(chunk({ role: 'assistant', content: '' }, false));
  content.forEach((piece, i) => res.write(chunk({ content: piece }, i === content.length - 1)));
  res.write('data: [DONE]\n\n');
  res.end();
}
