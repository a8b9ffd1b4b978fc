/**
 * One sender process of bench/ingest-sustained.mjs (forked, IPC): reads its share of the
 * pre-encoded OTLP/protobuf export requests (every `senders`-th one from `index`) before timing,
 * then on `{ go: { url, key, inFlight } }` POSTs them with `inFlight` exports outstanding, each next
 * one sent once the previous is acknowledged (the collector acks after the insert: durable), and
 * replies with its acked exports, latencies, retries and its own CPU time.
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

async function send({ url, key, inFlight, resend = 0 }) {
  const latencies = [];
  let next = 0;
  let retries = 0;
  let partial = 0;
  const post = async (body) => {
    for (;;) {
      const t = performance.now();
      const res = await globalThis.fetch(`${url}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${key}` },
        body,
      });
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
    for (let i = next++; i < bodies.length; i = next++) await post(bodies[i]);
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
