/**
 * One sender process of bench/ingest-sustained.mjs (forked, IPC): reads its share of the
 * pre-encoded OTLP/protobuf export requests (every `senders`-th one from `index`) before timing,
 * then on `{ go: { url, key, inFlight } }` POSTs them with `inFlight` exports outstanding, each next
 * one sent once the previous is acknowledged (the collector acks after the insert: durable), and
 * replies with its acked exports, latencies, retries and its own CPU time. Each body's span times
 * are moved forward just before its first send, so that its latest span ends then (shiftToNow).
 *
 *   node bench/support/ingest-sender.mjs <batchesFile> <index> <senders> <spansPerExport>
 */
import { performance } from 'node:perf_hooks';
import { closeSync, openSync, readSync } from 'node:fs';

const [file, index, senders, spansPerExport] = process.argv.slice(2);
const spansPer = () => Number(spansPerExport);
/** Every `stride`-th export from `first` of a batches file, read one by one (never the whole file). */
function readShare(path, first, stride) {
  const fd = openSync(path, 'r');
  const out = [];
  const len = Buffer.alloc(4);
  try {
    for (let i = 0, at = 0; readSync(fd, len, 0, 4, at) === 4; i++) {
      const n = len.readUInt32LE(0);
      if (i % stride === first) {
        const body = new Uint8Array(n);
        readSync(fd, body, 0, n, at + 4);
        out.push(body);
      }
      at += 4 + n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

const bodies = readShare(file, Number(index), Number(senders));

/** Reads a protobuf varint at `at`: [value, next offset] (values here fit a double). */
function varint(buf, at) {
  let value = 0;
  for (let shift = 1; ; shift *= 128) {
    const b = buf[at++];
    value += (b & 0x7f) * shift;
    if (b < 0x80) return [value, at];
  }
}

/**
 * Offsets of every span's start and end time (fixed64 fields 7 and 8 of a Span) in an OTLP
 * ExportTraceServiceRequest: resource_spans (1) → scope_spans (2) → spans (2).
 */
function timeOffsets(buf) {
  const out = [];
  const walk = (from, to, depth) => {
    for (let at = from; at < to;) {
      const [tag, next] = varint(buf, at);
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      at = next;
      if (wire === 0) at = varint(buf, at)[1];
      else if (wire === 1) {
        if (depth === 3 && (field === 7 || field === 8)) out.push(at);
        at += 8;
      } else if (wire === 5) at += 4;
      else if (wire === 2) {
        const [len, start] = varint(buf, at);
        if ((depth === 0 && field === 1) || (depth >= 1 && depth <= 2 && field === 2))
          walk(start, start + len, depth + 1);
        at = start + len;
      } else throw new Error(`unexpected protobuf wire type ${wire}`);
    }
  };
  walk(0, buf.length, 0);
  return out;
}

/**
 * Moves a body's spans forward so that its latest one ends now (the rest keep their spread of up
 * to 10 minutes before it): built minutes before they are sent, they would otherwise arrive ever
 * later, and once their hour is sealed every late span has the rollup rebuild that hour (decision
 * 0044) — a cost of how late the bench is, not of ingest. In place, once: a resend is the same bytes.
 */
function shiftToNow(body) {
  const view = Buffer.from(body.buffer, body.byteOffset, body.length);
  const offsets = timeOffsets(view);
  let latest = 0n;
  for (const at of offsets) {
    const t = view.readBigUInt64LE(at);
    if (t > latest) latest = t;
  }
  const delta = BigInt(Date.now()) * 1_000_000n - latest;
  if (delta <= 0n) return;
  for (const at of offsets) view.writeBigUInt64LE(view.readBigUInt64LE(at) + delta, at);
}

async function send({ url, key, inFlight, resend = 0 }) {
  const latencies = [];
  let next = 0;
  let retries = 0;
  let partial = 0;
  let errorRetries = 0;
  const post = async (body) => {
    for (let failed = 0; ;) {
      const t = performance.now();
      let res;
      try {
        res = await globalThis.fetch(`${url}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${key}` },
          body,
        });
      } catch (err) {
        // A connection the server closed as it was reused (keep-alive): an exporter sends again.
        // Its spans may have been stored: the bench then allows them as duplicates.
        const why = `${err.message}: ${err.cause?.code ?? ''} ${err.cause?.message ?? ''}`;
        if (++failed > 3) throw new Error(`POST /v1/traces failed ${failed} times: ${why}`);
        console.error(`sender ${index}: POST /v1/traces failed (${why}); sent again`);
        errorRetries += spansPer();
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const answer = Buffer.from(await res.arrayBuffer());
      if (res.status === 200) {
        latencies.push(performance.now() - t);
        if (answer.length > 0) partial++; // a partialSuccess: some spans were refused
        return;
      }
      if (res.status === 429 || res.status === 503) {
        retries++;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      throw new Error(`POST /v1/traces: HTTP ${res.status} ${answer.toString().slice(0, 200)}`);
    }
  };
  const loop = async () => {
    for (let i = next++; i < bodies.length; i = next++) {
      shiftToNow(bodies[i]);
      await post(bodies[i]);
    }
  };
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, loop));
  // An exporter's retry of exports already acked: the collector must find them duplicates.
  const resent = Math.min(resend, bodies.length);
  for (let i = 0; i < resent; i++) await post(bodies[i]);
  const used = process.cpuUsage(cpu);
  return {
    exports: bodies.length,
    seconds: (performance.now() - t0) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
    latencies,
    retries,
    partial,
    errorRetries,
    resent: resent * spansPer(bodies[0]),
  };
}

process.on('message', (msg) => {
  if (!msg.go) return;
  send(msg.go).then(
    (result) => process.send({ result }, () => process.exit(0)),
    (err) => process.send({ error: String(err?.stack ?? err) }, () => process.exit(1)),
  );
});
process.send({ ready: bodies.length });
