/**
 * Realistic GenAI spans built with the real OpenTelemetry SDK and encoded as OTLP/protobuf export
 * requests with @opentelemetry/otlp-transformer (what every OTLP/HTTP exporter sends).
 * Mixed producers (tokenledger/semconv names, the official contrib instrumentation, OpenLLMetry),
 * services, teams, features, customers and models (a few unknown to the catalog: stored unpriced).
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider } from '@opentelemetry/sdk-trace';

const MODELS = [
  ['openai', 'gpt-4o-mini', 'gpt-4o-mini-2024-07-18'],
  ['openai', 'gpt-4o', 'gpt-4o-2024-08-06'],
  ['openai', 'gpt-4.1', 'gpt-4.1-2025-04-14'],
  ['openai', 'o3-mini', 'o3-mini-2025-01-31'],
  ['openai', 'text-embedding-3-small', 'text-embedding-3-small'],
  ['anthropic', 'claude-sonnet-4-20250514', 'claude-sonnet-4-20250514'],
  ['anthropic', 'claude-3-5-haiku-latest', 'claude-3-5-haiku-20241022'],
  ['openai', 'acme-private-llm', 'acme-private-llm'],
];
const TEAMS = ['search', 'support', 'growth', 'platform', 'risk', 'data', 'mobile', 'billing'];
const FEATURES = ['summarizer', 'chat', 'classify', 'rerank', 'extract', 'translate', 'autocomplete', 'qa'];
const SERVICES = ['summarizer-api', 'support-bot', 'search-gateway', 'batch-enricher'];
const ENVS = ['production', 'staging'];

/** Deterministic PRNG so every run sends the same mix. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What production spans also carry (request parameters, workflow, user): ~25 attributes a span with them. */
function extraAttributes(r, team) {
  return {
    'gen_ai.request.max_tokens': 256 + Math.floor(r() * 4) * 256,
    'gen_ai.request.temperature': Math.floor(r() * 10) / 10,
    'tokenledger.workflow': `${team}-flow-${Math.floor(r() * 12)}`,
    'tokenledger.department': team === 'billing' || team === 'risk' ? 'finance' : 'product',
    'tokenledger.user_tier': r() < 0.8 ? 'free' : 'pro',
    'enduser.id': `user-${Math.floor(r() * 5000)}`,
  };
}

function attributesFor(style, r, extra) {
  const pick = (arr) => arr[Math.floor(r() * arr.length)];
  const [provider, requestModel, responseModel] = pick(MODELS);
  const embeddings = requestModel.startsWith('text-embedding');
  const input = 50 + Math.floor(r() * 4000);
  const output = embeddings ? 0 : 10 + Math.floor(r() * 800);
  const team = pick(TEAMS);
  const common = {
    'gen_ai.request.model': requestModel,
    'gen_ai.response.model': responseModel,
    'gen_ai.response.id': `chatcmpl-${Math.floor(r() * 1e12).toString(36)}`,
    'server.address': provider === 'openai' ? 'api.openai.com' : 'api.anthropic.com',
    'server.port': 443,
    'tokenledger.team': team,
    'tokenledger.feature': pick(FEATURES),
    'tokenledger.customer': `cust-${Math.floor(r() * 200)}`,
    'tokenledger.cost_center': `product:${team}`,
    ...(extra ? extraAttributes(r, team) : {}),
  };
  const operation = embeddings ? 'embeddings' : 'chat';
  if (style === 'tokenledger') {
    return {
      ...common,
      'gen_ai.operation.name': operation,
      'gen_ai.provider.name': provider,
      'gen_ai.usage.input_tokens': input,
      'gen_ai.usage.output_tokens': output,
      'gen_ai.usage.cache_read.input_tokens': r() < 0.3 ? Math.floor(input / 2) : 0,
      'gen_ai.usage.reasoning.output_tokens': requestModel.startsWith('o3') ? Math.floor(output / 2) : 0,
      'gen_ai.request.stream': r() < 0.4,
      'gen_ai.response.finish_reasons': ['stop'],
      'tokenledger.enforcement': 'allowed',
    };
  }
  if (style === 'contrib') {
    return {
      ...common,
      'gen_ai.operation.name': operation,
      'gen_ai.system': provider,
      'gen_ai.usage.input_tokens': input,
      'gen_ai.usage.output_tokens': output,
      'gen_ai.response.finish_reasons': ['stop'],
    };
  }
  return {
    ...common,
    'gen_ai.system': provider === 'openai' ? 'OpenAI' : 'Anthropic',
    'llm.request.type': embeddings ? 'embedding' : 'chat',
    'gen_ai.usage.prompt_tokens': input,
    'gen_ai.usage.completion_tokens': output,
    'llm.usage.total_tokens': input + output,
    'llm.is_streaming': r() < 0.4,
  };
}

/**
 * `batches` OTLP/protobuf export requests of `spansPerBatch` spans each (distinct random ids, start
 * times within the last 10 minutes), each batch mixing resources (services) and scopes (producers).
 * `extra`: 6 more attributes a span (request parameters, workflow, user; ~25 in all).
 */
export function buildBatches({ batches, spansPerBatch, seed = 42, extra = false }) {
  const r = rng(seed);
  const styles = [
    ['tokenledger', 'tokenledger.openai', 0.7],
    ['contrib', '@opentelemetry/instrumentation-openai', 0.85],
    ['openllmetry', '@traceloop/instrumentation-openai', 1],
  ];
  // Collects ended spans synchronously (SimpleSpanProcessor exports asynchronously).
  let finished = [];
  const collect = {
    onStart() {},
    onEnd: (span) => finished.push(span),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const tracers = SERVICES.map((service, i) => {
    const provider = new TracerProvider({
      resource: resourceFromAttributes({
        'service.name': service,
        'deployment.environment.name': ENVS[i % ENVS.length],
        'telemetry.sdk.name': 'opentelemetry',
        'telemetry.sdk.language': 'nodejs',
      }),
      spanProcessors: [collect],
    });
    return Object.fromEntries(styles.map(([style, scope]) => [style, provider.getTracer(scope, '0.27.0')]));
  });
  const nowMs = Date.now();
  const out = [];
  for (let b = 0; b < batches; b++) {
    finished = [];
    for (let i = 0; i < spansPerBatch; i++) {
      const x = r();
      const [style] = styles.find(([, , upTo]) => x < upTo);
      const tracer = tracers[Math.floor(r() * tracers.length)][style];
      const start = nowMs - Math.floor(r() * 600_000);
      const attributes = attributesFor(style, r, extra);
      const span = tracer.startSpan(
        `${attributes['gen_ai.operation.name'] ?? 'chat'} ${attributes['gen_ai.request.model']}`,
        {
          kind: SpanKind.CLIENT,
          startTime: start,
          attributes,
        },
      );
      if (r() < 0.02) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited' });
        span.setAttribute('error.type', '429');
      }
      span.end(start + 200 + Math.floor(r() * 3000));
    }
    out.push(ProtobufTraceSerializer.serializeRequest(finished));
  }
  return out;
}

/** Length-prefixed batches in one file, so worker processes read the very same bytes. */
export function writeBatches(file, batches) {
  const fd = openSync(file, 'w');
  try {
    for (const b of batches) {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      writeSync(fd, len);
      writeSync(fd, b);
    }
  } finally {
    closeSync(fd);
  }
}

export function readBatches(file) {
  const buf = readFileSync(file);
  const out = [];
  for (let off = 0; off < buf.length;) {
    const len = buf.readUInt32LE(off);
    out.push(buf.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}
