/**
 * Loopback server for the overhead benchmark, in its own process so its CPU is not in the measured
 * one: OpenAI's chat-completions wire format (JSON and SSE) on POST /v1/chat/completions, and an OTLP
 * sink on POST /v1/traces that counts the spans it receives (decoded with the collector's decoder).
 * GET /stats returns and resets the counts. Prints {"url": ...} once listening.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { REPO_ROOT } from './common.mjs';
import { completionBody, jsonHeaders, parseRequestFlags, sseHeaders, streamEvents } from './openai-wire.mjs';

const require = createRequire(path.join(REPO_ROOT, 'collector', 'package.json'));
const { decodeTraceRequest } = require(path.join(REPO_ROOT, 'collector', 'dist', 'ingest', 'otlp', 'decode'));

let stats = { exports: 0, spans: 0, scopes: {}, otherRequests: {} };

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  const body = await readBody(req);
  const url = req.url ?? '';
  if (req.method === 'POST' && url.endsWith('/chat/completions')) {
    const { stream, includeUsage } = parseRequestFlags(body.toString('utf8'));
    if (!stream) {
      const bytes = completionBody();
      res.writeHead(200, { ...jsonHeaders(), 'content-length': bytes.length });
      res.end(bytes);
      return;
    }
    res.writeHead(200, sseHeaders());
    for (const e of streamEvents(includeUsage)) res.write(e);
    res.end();
    return;
  }
  if (req.method === 'POST' && url.startsWith('/v1/traces')) {
    const type = req.headers['content-type'] ?? 'application/x-protobuf';
    try {
      const decoded = decodeTraceRequest(body, type);
      stats.exports++;
      for (const rs of decoded.resourceSpans)
        for (const ss of rs.scopeSpans) {
          stats.spans += ss.spans.length;
          stats.scopes[ss.scope.name] = (stats.scopes[ss.scope.name] ?? 0) + ss.spans.length;
        }
    } catch (err) {
      stats.badExports = (stats.badExports ?? 0) + 1;
      stats.lastError = String(err);
    }
    const json = type.startsWith('application/json');
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
    res.end(json ? '{}' : '');
    return;
  }
  if (req.method === 'GET' && url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    stats = { exports: 0, spans: 0, scopes: {}, otherRequests: {} };
    return;
  }
  // Anything else an instrumentation may ask its collector (budgets, ...): counted, 404.
  const key = `${req.method} ${url.split('?')[0]}`;
  stats.otherRequests[key] = (stats.otherRequests[key] ?? 0) + 1;
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"error":"not found"}');
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
