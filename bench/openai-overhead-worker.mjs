/**
 * One variant of the overhead benchmark, in its own process (an instrumentation cannot be removed):
 *   node [--require tokenledger/register] bench/openai-overhead-worker.mjs <variant> <transport> <calls> <warmup> [modes]
 * variant: none | sdk-only | tokenledger | official | openllmetry; transport: http (loopback server in another
 * process) | inproc (the SDK's `fetch` option answers with a canned Response, same bytes).
 * Env: BENCH_SERVER_URL (OpenAI wire + OTLP sink). Prints {plain: [µs...], stream: [µs...]} as JSON.
 */
import { createRequire } from 'node:module';
import { cannedFetch, REQUEST } from './support/openai-wire.mjs';

const require = createRequire(import.meta.url);
const [variant, transport, callsArg, warmupArg, orderArg = 'plain,stream,streamUsage'] =
  process.argv.slice(2);
const CALLS = Number(callsArg);
const WARMUP = Number(warmupArg);
const SERVER = process.env.BENCH_SERVER_URL;
if (!SERVER) throw new Error('BENCH_SERVER_URL is not set');

/**
 * The peers' standard setup, identical for both: a TracerProvider (the OpenTelemetry SDK's basic
 * provider) with a BatchSpanProcessor and the OTLP/HTTP protobuf exporter to the same sink tokenledger
 * exports to, AsyncLocalStorage context, then registerInstrumentations. Content capture is off.
 */
function setUpPeer(instrumentation) {
  const api = require('@opentelemetry/api');
  const { TracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
  const { resourceFromAttributes } = require('@opentelemetry/resources');
  const { W3CTraceContextPropagator } = require('@opentelemetry/core');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bench-app' }),
    spanProcessors: [
      new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${SERVER}/v1/traces` }) }),
    ],
  });
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider(provider);
  if (instrumentation)
    registerInstrumentations({ tracerProvider: provider, instrumentations: [instrumentation] });
  return provider;
}

let provider;
if (variant === 'official') {
  const { OpenAIInstrumentation } = require('@opentelemetry/instrumentation-openai');
  // Content capture off, the documented way (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=false is
  // also set by the runner); it is the default too.
  provider = setUpPeer(new OpenAIInstrumentation({ captureMessageContent: false }));
} else if (variant === 'openllmetry') {
  const { OpenAIInstrumentation } = require('@traceloop/instrumentation-openai');
  provider = setUpPeer(new OpenAIInstrumentation({ traceContent: false }));
} else if (variant === 'sdk-only') {
  // Diagnostic: the same SDK setup (AsyncLocalStorage context manager, provider, exporter), no instrumentation.
  provider = setUpPeer(null);
} else if (variant !== 'none' && variant !== 'tokenledger') {
  throw new Error(`unknown variant ${variant}`);
}
// tokenledger: loaded by `node --require tokenledger/register` before this file, as users run it.

const OpenAI = require('openai');
const client = new OpenAI({
  apiKey: 'sk-bench-0000',
  baseURL: `${SERVER}/v1`,
  maxRetries: 0,
  ...(transport === 'inproc' ? { fetch: cannedFetch() } : {}),
});

async function plainCall() {
  const r = await client.chat.completions.create(REQUEST);
  if (r.choices.length !== 1) throw new Error('unexpected response');
}

/** A streamed completion, consumed to the end; `includeUsage`: the app asks for the usage chunk itself. */
function streamCall(includeUsage) {
  const request = includeUsage
    ? { ...REQUEST, stream: true, stream_options: { include_usage: true } }
    : { ...REQUEST, stream: true };
  return async () => {
    const stream = await client.chat.completions.create(request);
    let n = 0;
    for await (const chunk of stream) n += chunk.choices.length;
    if (n === 0) throw new Error('empty stream');
  };
}

/**
 * Latency of each call (median taken by the runner) and the process's CPU time per call over the
 * whole measured phase, pauses included: work an instrumentation does off the call's path (span
 * export, tokenledger's batched span building) shows up there even when it adds no latency.
 */
async function measure(fn) {
  for (let i = 0; i < WARMUP; i++) {
    if (i % 200 === 199) await new Promise((r) => setTimeout(r, 15));
    await fn();
  }
  const out = new Float64Array(CALLS);
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) {
    // Untimed pause every 200 calls so the BatchSpanProcessor's exports (512 spans each) keep up and its
    // 2048-span queue never drops: every span is serialized and sent, as at production call rates.
    if (i % 200 === 199) await new Promise((r) => setTimeout(r, 15));
    const t = process.hrtime.bigint();
    await fn();
    out[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  // Let the last batch's deferred work run before the CPU clock is read.
  await new Promise((r) => setTimeout(r, 15));
  const cpu = process.cpuUsage(cpuBefore);
  return {
    samples: Array.from(out, (v) => Math.round(v * 100) / 100),
    cpuPerCall: (cpu.user + cpu.system) / CALLS,
  };
}

// The runner rotates the order of the modes over rounds: a process's first streaming mode runs on a
// less settled heap and JIT than its second, and that must not favour one mode.
const CALLS_BY_MODE = { plain: plainCall, stream: streamCall(false), streamUsage: streamCall(true) };
const results = {};
for (const mode of orderArg.split(',')) results[mode] = await measure(CALLS_BY_MODE[mode]);
const { plain, stream, streamUsage } = results;
// Not timed: hand the queued spans to the sink before reporting (tokenledger flushes at exit itself).
if (provider) await provider.forceFlush();
process.stdout.write(JSON.stringify({ plain, stream, streamUsage }) + '\n');
