/**
 * A local server that speaks Azure OpenAI's chat completions wire format, for tests that run the
 * real `AzureOpenAI` client (from `openai`) against it with `endpoint: fake.url`.
 *
 *   POST /openai/deployments/{deployment}/chat/completions?api-version=...   (`api-key` header)
 *     JSON: Azure's completion (the REAL model name in `model`, prompt_filter_results,
 *     content_filter_results per choice).
 *     SSE with `stream: true`: first a chunk with `model: ""`, `choices: []` and the
 *     prompt_filter_results, then the deltas, the finish chunk, a usage chunk (`choices: []`) only
 *     with `stream_options.include_usage`, and `data: [DONE]`.
 * A missing api-version answers 404 as Azure does ("Resource not found"). Requests are recorded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeUsage } from './fake-openai';

export interface AzureRequest {
  deployment: string;
  apiVersion: string | null;
  apiKey: string | undefined;
  body: Record<string, unknown> | undefined;
}

export interface FakeAzureOpenAI {
  /** The `endpoint` for AzureOpenAI, e.g. http://127.0.0.1:43123 */
  url: string;
  port: number;
  requests: AzureRequest[];
  /** The model a deployment serves (reported in every response's `model`). */
  setDeployment(deployment: string, model: string): void;
  setUsage(usage: FakeUsage): void;
  reset(): void;
  close(): Promise<void>;
}

const CONTENT = ['Hello', ' from', ' Azure', '.'];
const CREATED = 1_700_000_000;
const FILTER_OK = { filtered: false, severity: 'safe' };
const CONTENT_FILTER = { hate: FILTER_OK, self_harm: FILTER_OK, sexual: FILTER_OK, violence: FILTER_OK };
const PROMPT_FILTER = [{ prompt_index: 0, content_filter_results: CONTENT_FILTER }];

function usageOf(u: FakeUsage): Record<string, unknown> {
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

export async function startFakeAzureOpenAI(): Promise<FakeAzureOpenAI> {
  const requests: AzureRequest[] = [];
  const models = new Map<string, string>();
  let usage: FakeUsage = { input: 42, output: 7, cached: 0, reasoning: 0 };
  let seq = 0;

  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => void handle(req, res, Buffer.concat(parts)));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(url.pathname);
    let body: Record<string, unknown> | undefined;
    try {
      body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    const apiVersion = url.searchParams.get('api-version');
    const apiKey = req.headers['api-key'];
    requests.push({
      deployment: m ? decodeURIComponent(m[1]!) : '',
      apiVersion,
      apiKey: typeof apiKey === 'string' ? apiKey : undefined,
      body,
    });
    if (req.method !== 'POST' || !m || !apiVersion) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: '404', message: 'Resource not found' } }));
      return;
    }
    const model = models.get(decodeURIComponent(m[1]!)) ?? 'gpt-4o-2024-08-06';
    const n = ++seq;
    const id = `chatcmpl-azure${n}`;
    const headers = {
      'apim-request-id': `apim-${n}`,
      'x-request-id': `req-azure-${n}`,
      'x-ms-region': 'East US',
    };
    if (body?.stream !== true) {
      const bytes = Buffer.from(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created: CREATED,
          model,
          choices: [
            {
              index: 0,
              finish_reason: 'stop',
              logprobs: null,
              message: { role: 'assistant', content: CONTENT.join(''), refusal: null, annotations: [] },
              content_filter_results: CONTENT_FILTER,
            },
          ],
          prompt_filter_results: PROMPT_FILTER,
          system_fingerprint: 'fp_azure01',
          usage: usageOf(usage),
        }),
      );
      res.writeHead(200, {
        ...headers,
        'content-type': 'application/json',
        'content-length': String(bytes.length),
      });
      res.end(bytes);
      return;
    }
    const includeUsage =
      (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string => {
      const c: Record<string, unknown> = {
        choices,
        created: CREATED,
        id,
        model,
        object: 'chat.completion.chunk',
        system_fingerprint: 'fp_azure01',
        ...extra,
      };
      if (includeUsage && !('usage' in c)) c.usage = null;
      return `data: ${JSON.stringify(c)}\n\n`;
    };
    const events = [
      // Azure's first chunk: no model, no choices, the prompt filter results.
      `data: ${JSON.stringify({ choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: PROMPT_FILTER, ...(includeUsage ? { usage: null } : {}) })}\n\n`,
      chunk([
        {
          index: 0,
          delta: { role: 'assistant', content: '' },
          finish_reason: null,
          logprobs: null,
          content_filter_results: {},
        },
      ]),
      ...CONTENT.map((content) =>
        chunk([
          {
            index: 0,
            delta: { content },
            finish_reason: null,
            logprobs: null,
            content_filter_results: CONTENT_FILTER,
          },
        ]),
      ),
      chunk([{ index: 0, delta: {}, finish_reason: 'stop', logprobs: null, content_filter_results: {} }]),
      ...(includeUsage ? [chunk([], { usage: usageOf(usage) })] : []),
      'data: [DONE]\n\n',
    ];
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8' });
    for (const e of events) {
      res.write(e);
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
    setDeployment(deployment, model) {
      models.set(deployment, model);
    },
    setUsage(u) {
      usage = { ...u };
    },
    reset() {
      requests.length = 0;
      models.clear();
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
