#!/usr/bin/env node
/**
 * Demo traffic for `docker compose up`: GenAI spans, as the tokenledger instrumentation emits them,
 * sent to the collector over OTLP/HTTP JSON so the boards have data without a real LLM bill.
 *
 * First it backfills DEMO_BACKFILL_DAYS days (deterministic ids: a restart re-sends the same spans,
 * which the collector deduplicates), then sends a batch every DEMO_INTERVAL_MS until DEMO_BATCHES
 * batches were sent (0 = forever).
 *
 * Env: TOKENLEDGER_URL (default http://collector:4318), TOKENLEDGER_API_KEY (an ingest key),
 * DEMO_BACKFILL_DAYS (14), DEMO_INTERVAL_MS (10000), DEMO_BATCHES (0), DEMO_CALLS_PER_BATCH (3).
 */
'use strict';
const { createHash } = require('node:crypto');
const semconv = require('tokenledger/semconv');

const url = (process.env.TOKENLEDGER_URL || 'http://collector:4318').replace(/\/+$/, '');
const key = process.env.TOKENLEDGER_API_KEY || '';
const intNumber = (name, fallback) => {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${name} must be a whole number, got "${process.env[name]}"`);
  return n;
};
const backfillDays = intNumber('DEMO_BACKFILL_DAYS', 14);
const intervalMs = intNumber('DEMO_INTERVAL_MS', 10000);
const maxBatches = intNumber('DEMO_BATCHES', 0);
const callsPerBatch = intNumber('DEMO_CALLS_PER_BATCH', 3);

/** Services as a company would run them: who owns them, what they call. */
const SERVICES = [
  {
    service: 'summarizer',
    team: 'platform',
    costCenter: 'product:summarizer',
    feature: 'summarizer',
    models: ['gpt-4o', 'gpt-4o-mini'],
  },
  {
    service: 'search-api',
    team: 'search',
    costCenter: 'product:search',
    feature: 'answers',
    models: ['gpt-4o-mini'],
  },
  {
    service: 'support-bot',
    team: 'support',
    costCenter: 'ops:support',
    feature: 'triage',
    models: ['gpt-4o-mini', 'gpt-4o'],
  },
  {
    service: 'growth-jobs',
    team: 'growth',
    costCenter: 'marketing:growth',
    feature: 'campaign-copy',
    models: ['gpt-4o'],
  },
];

/** Deterministic numbers from a seed, so a backfill re-sent after a restart is the same spans. */
const digest = (seed) => createHash('sha256').update(seed).digest();
const pick = (list, seed) => list[digest(seed).readUInt32BE(0) % list.length];
const between = (min, max, seed) => min + (digest(seed).readUInt32BE(4) % (max - min + 1));

const str = (k, v) => ({ key: k, value: { stringValue: v } });
const int = (k, v) => ({ key: k, value: { intValue: String(v) } });

function span(seed, startMs) {
  const s = pick(SERVICES, `${seed}:service`);
  const model = pick(s.models, `${seed}:model`);
  const h = digest(seed).toString('hex');
  return {
    resource: [
      str(semconv.ATTR_SERVICE_NAME, s.service),
      str(semconv.ATTR_TL_TEAM, s.team),
      str(semconv.ATTR_TL_COST_CENTER, s.costCenter),
      str(semconv.ATTR_DEPLOYMENT_ENVIRONMENT_NAME, 'production'),
    ],
    span: {
      traceId: h.slice(0, 32),
      spanId: h.slice(32, 48),
      name: `chat ${model}`,
      kind: 3,
      startTimeUnixNano: `${startMs}000000`,
      endTimeUnixNano: `${startMs + between(300, 4000, `${seed}:ms`)}000000`,
      attributes: [
        str(semconv.ATTR_GEN_AI_OPERATION_NAME, semconv.GEN_AI_OPERATION_CHAT),
        str(semconv.ATTR_GEN_AI_PROVIDER_NAME, semconv.GEN_AI_PROVIDER_OPENAI),
        str(semconv.ATTR_GEN_AI_REQUEST_MODEL, model),
        str(semconv.ATTR_GEN_AI_RESPONSE_MODEL, model),
        int(semconv.ATTR_GEN_AI_USAGE_INPUT_TOKENS, between(200, 6000, `${seed}:in`)),
        int(semconv.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, between(50, 1200, `${seed}:out`)),
        str(semconv.ATTR_TL_FEATURE, s.feature),
      ],
    },
  };
}

/** One OTLP request: spans grouped by their resource (one per service). */
function otlpBody(spans) {
  const byResource = new Map();
  for (const { resource, span: sp } of spans) {
    const k = JSON.stringify(resource);
    if (!byResource.has(k)) byResource.set(k, { resource, spans: [] });
    byResource.get(k).spans.push(sp);
  }
  return {
    resourceSpans: [...byResource.values()].map(({ resource, spans: list }) => ({
      resource: { attributes: resource },
      scopeSpans: [{ scope: { name: 'tokenledger-demo', version: '0.1.0' }, spans: list }],
    })),
  };
}

async function send(spans) {
  const res = await fetch(`${url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(otlpBody(spans)),
  });
  if (!res.ok) {
    const err = new Error(`collector answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    // A refused key or body will not get better by retrying; backpressure and start-up will.
    err.final = res.status >= 400 && res.status < 500 && res.status !== 429;
    throw err;
  }
}

/** Retries while the collector starts (compose starts us once it is healthy, but be patient). */
async function sendWithRetry(spans) {
  for (let attempt = 1; ; attempt++) {
    try {
      await send(spans);
      return;
    } catch (err) {
      if (err.final || attempt >= 10) throw err;
      console.error(`demo traffic: ${err.message}; retrying in ${attempt} s`);
      await new Promise((r) => setTimeout(r, attempt * 1000));
    }
  }
}

async function main() {
  const now = Date.now();
  const hourMs = 3_600_000;
  // Backfill: a few calls in each of the past hours, so the time series have history.
  for (let d = backfillDays; d >= 1; d--) {
    const dayStart = Math.floor((now - d * 86_400_000) / 86_400_000) * 86_400_000;
    const spans = [];
    for (let h = 0; h < 24; h += 3) {
      for (let i = 0; i < 2; i++) {
        const seed = `backfill:${dayStart}:${h}:${i}`;
        spans.push(span(seed, dayStart + h * hourMs + between(0, hourMs - 5000, `${seed}:at`)));
      }
    }
    await sendWithRetry(spans);
  }
  if (backfillDays > 0) console.log(`demo traffic: backfilled ${backfillDays} days`);
  for (let batch = 1; maxBatches === 0 || batch <= maxBatches; batch++) {
    const at = Date.now();
    const spans = [];
    for (let i = 0; i < callsPerBatch; i++) spans.push(span(`live:${at}:${i}`, at - i * 10));
    await sendWithRetry(spans);
    if (maxBatches !== 0 && batch === maxBatches) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  console.log('demo traffic: done');
}

main().catch((err) => {
  console.error(`demo traffic: ${err.message}`);
  process.exit(1);
});
