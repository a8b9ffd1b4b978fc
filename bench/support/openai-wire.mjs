/**
 * OpenAI chat-completions wire format for the overhead benchmark: the request the app sends and the
 * exact bytes the API returns (JSON, and SSE with usage only on an extra last chunk and only when
 * `stream_options.include_usage` was asked for, as OpenAI does). Used by the loopback server and by
 * the in-process `fetch`, so both paths see the same bytes.
 */
import { ReadableStream } from 'node:stream/web';
import { TextEncoder } from 'node:util';

// fetch's Response is a global with no node: module to import it from.
const { Response } = globalThis;

export const MODEL = 'gpt-4o-mini';
const RESPONSE_MODEL = 'gpt-4o-mini-2024-07-18';
const CONTENT =
  'Customer cannot reset their password since the 4.2 app update; two attempts failed. Wants a call back today.';
const USAGE = {
  prompt_tokens: 41,
  completion_tokens: 24,
  total_tokens: 65,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: 0,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
};

export const REQUEST = {
  model: MODEL,
  messages: [
    { role: 'system', content: 'You summarise support tickets in one or two sentences.' },
    {
      role: 'user',
      content:
        'Ticket #48213: "Since updating the app to 4.2 I cannot reset my password. I tried twice, the link ' +
        'says expired. Please call me back today."',
    },
  ],
  max_tokens: 64,
  temperature: 0.2,
};

const enc = new TextEncoder();
let seq = 0;
const id = () => `chatcmpl-Bench${(seq++).toString(36).padStart(20, '0')}`;
const CREATED = 1_760_000_000;

export function jsonHeaders() {
  return {
    'content-type': 'application/json',
    'openai-version': '2020-10-01',
    'openai-processing-ms': '312',
    'x-request-id': 'req_0123456789abcdef0123456789abcdef',
  };
}

export function sseHeaders() {
  return {
    ...jsonHeaders(),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  };
}

export function completionBody() {
  return enc.encode(
    JSON.stringify({
      id: id(),
      object: 'chat.completion',
      created: CREATED,
      model: RESPONSE_MODEL,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: CONTENT, refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: USAGE,
      service_tier: 'default',
      system_fingerprint: 'fp_560af6e559',
    }),
  );
}

/** The SSE events (one Uint8Array per event, as the API flushes them) of a streamed completion. */
export function streamEvents(includeUsage) {
  const cid = id();
  const base = { id: cid, object: 'chat.completion.chunk', created: CREATED, model: RESPONSE_MODEL };
  const extra = { service_tier: 'default', system_fingerprint: 'fp_560af6e559' };
  const usageNull = includeUsage ? { usage: null } : {};
  const chunk = (delta, finish) => ({
    ...base,
    ...extra,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...usageNull,
  });
  const words = CONTENT.split(/(?<= )/);
  const pieces = [];
  for (let i = 0; i < words.length; i += 2) pieces.push(words.slice(i, i + 2).join(''));
  const chunks = [chunk({ role: 'assistant', content: '', refusal: null }, null)];
  for (const p of pieces) chunks.push(chunk({ content: p }, null));
  chunks.push(chunk({}, 'stop'));
  if (includeUsage) chunks.push({ ...base, ...extra, choices: [], usage: USAGE });
  return [...chunks.map((c) => enc.encode(`data: ${JSON.stringify(c)}\n\n`)), enc.encode('data: [DONE]\n\n')];
}

/** What the loopback server and the in-process fetch need from a request body. */
export function parseRequestFlags(bodyText) {
  const body = JSON.parse(bodyText);
  return { stream: body.stream === true, includeUsage: body.stream_options?.include_usage === true };
}

/**
 * A `fetch` for the OpenAI SDK's `fetch` option that answers in-process with a canned Response
 * (same bytes and headers as the loopback server): no socket, so only the SDK and the
 * instrumentation run in the measured process. The bytes are built once: the stand-in for the
 * server must cost the same whatever the request asks for (a stream with or without usage), or the
 * variant that asks for usage would be charged for the server's work too.
 */
export function cannedFetch() {
  const json = completionBody();
  const withUsage = streamEvents(true);
  const withoutUsage = streamEvents(false);
  return async (_url, init) => {
    const body = String(init?.body ?? '');
    // The SDK serialises the request with JSON.stringify: no whitespace around the colons.
    if (!body.includes('"stream":true')) return new Response(json, { status: 200, headers: jsonHeaders() });
    const events = body.includes('"include_usage":true') ? withUsage : withoutUsage;
    const stream = new ReadableStream({
      start(controller) {
        for (const e of events) controller.enqueue(e);
        controller.close();
      },
    });
    return new Response(stream, { status: 200, headers: sseHeaders() });
  };
}
