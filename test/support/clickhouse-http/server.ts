/**
 * TEST SUPPORT, NOT PART OF THE PRODUCT: a stand-in for a ClickHouse server, so that several
 * collector processes can share one store through `CLICKHOUSE_URL` in tests (no current ClickHouse
 * server installs on the test machines). It serves the part of ClickHouse's HTTP interface that
 * `@clickhouse/client` uses, from the real engine: chdb, in this one process, owning the data
 * directory.
 *
 * - `POST /` (and `GET /?query=`): the statement is the `query` URL parameter followed by the body,
 *   as ClickHouse does (an INSERT's data follows its `FORMAT` clause); an `INSERT … FORMAT Parquet`
 *   body is binary: it is written to a temporary file and inserted `FROM INFILE`; `param_<name>` are query
 *   parameters (bound by the engine, never spliced into the text); `database`, `query_id`; any
 *   other parameter is a setting, applied to this statement only.
 * - `GET /ping`, `GET /` → `Ok.`
 * - Auth: basic (`Authorization: Basic`) or `X-ClickHouse-User` / `X-ClickHouse-Key`; a wrong
 *   password is code 516 (AUTHENTICATION_FAILED).
 * - Errors: the engine's `Code: N. DB::Exception: …` text, status 500 (404 for unknown tables and
 *   databases, 400 for syntax errors, 401 for auth), `X-ClickHouse-Exception-Code: N`.
 * - Answers carry `X-ClickHouse-Query-Id`, `X-ClickHouse-Summary`, `X-ClickHouse-Format`; gzip both
 *   ways when the client asks (`enable_http_compression=1`, `Content-Encoding: gzip`).
 * - Concurrency: a pool of engine sessions on the same data directory, so statements from several
 *   clients run at the same time, as on a server (one session per statement, exclusive while its
 *   settings apply). `--delay-insert-ms` holds each INSERT that long before it runs, to widen the
 *   races between collectors that tests look for.
 *
 * - `--single-node-cluster <name>`: the engine gets a cluster of that name with one shard, this
 *   node (a config file), so Distributed tables work; `ON CLUSTER` and the Replicated engines need
 *   ClickHouse Keeper, which the embedded engine lacks, so they are taken out of each statement
 *   (`ON CLUSTER 'x'` dropped, `ReplicatedXMergeTree('path', 'replica', args)` → `XMergeTree(args)`).
 *   What that leaves untested is said where cluster mode is documented.
 *
 * Run: `node --import tsx test/support/clickhouse-http/server.ts --data <dir> [--port 0]
 * [--user default --password ''] [--sessions 4] [--delay-insert-ms 0] [--single-node-cluster name]`;
 * prints `listening on <url>`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Session } from 'chdb';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** URL parameters that are not settings. */
const NOT_SETTINGS = new Set([
  'query',
  'query_id',
  'database',
  'session_id',
  'session_timeout',
  'session_check',
  'enable_http_compression',
  'default_format',
  'user',
  'password',
]);

interface Options {
  dataDir: string;
  singleNodeCluster?: string;
  port: number;
  user: string;
  password: string;
  sessions: number;
  delayInsertMs: number;
}

/** Sessions on one data directory, each lent to one statement at a time. */
class SessionPool {
  private readonly idle: Session[] = [];
  private readonly waiting: Array<(s: Session) => void> = [];

  constructor(dataDir: string, size: number, extraArgs: string[] = []) {
    // A parameter is set with `SET param_x = '…'`, a statement the engine parses: let it be as long
    // as a URL may be (a server does not count URL parameters against max_query_size).
    const args = ['--max_query_size=4194304', ...extraArgs];
    for (let i = 0; i < size; i++) this.idle.push(new Session(dataDir, { connectionArgs: args }));
  }

  async with<T>(fn: (s: Session) => Promise<T>): Promise<T> {
    const session = this.idle.pop() ?? (await new Promise<Session>((r) => this.waiting.push(r)));
    try {
      return await fn(session);
    } finally {
      const next = this.waiting.shift();
      if (next) next(session);
      else this.idle.push(session);
    }
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const quote = (v: string): string => `'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

function credentials(req: IncomingMessage, url: URL): { user: string; password: string } {
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString();
    const colon = decoded.indexOf(':');
    return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return {
    user: String(req.headers['x-clickhouse-user'] ?? url.searchParams.get('user') ?? 'default'),
    password: String(req.headers['x-clickhouse-key'] ?? url.searchParams.get('password') ?? ''),
  };
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

/** `INSERT INTO <table> FORMAT Parquet` in the URL: the body is the file, not text. */
const BINARY_INSERT = /^\s*INSERT\s+INTO\s+(\S+)(\s*\([^)]*\))?\s+FORMAT\s+Parquet\s*;?\s*$/i;

/** The HTTP status ClickHouse answers for an engine error code. */
function statusOf(code: number): number {
  if (code === 60 || code === 81) return 404; // UNKNOWN_TABLE, UNKNOWN_DATABASE
  if (code === 62) return 400; // SYNTAX_ERROR
  return 500;
}

function engineError(err: unknown): HttpError {
  const message = err instanceof Error ? err.message : String(err);
  const code = Number(/Code: (\d+)\./.exec(message)?.[1] ?? 1002);
  return new HttpError(statusOf(code), code, message);
}

/** A config file giving the engine a one-shard cluster `name` on this node. */
function singleNodeClusterConfig(name: string, dataDir: string): string {
  const file = path.join(dataDir, `single-node-cluster-${name}.xml`);
  writeFileSync(
    file,
    `<clickhouse>
  <tcp_port>9000</tcp_port>
  <remote_servers><${name}><shard><replica><host>localhost</host><port>9000</port></replica></shard></${name}></remote_servers>
  <macros><shard>01</shard><replica>stand-in</replica></macros>
</clickhouse>
`,
  );
  return file;
}

/** What of a cluster statement one node without Keeper can run (see the header). */
const withoutKeeper = (sql: string): string =>
  sql
    .replace(/\s+ON CLUSTER\s+('[^']*'|\S+)/gi, '')
    .replace(/\bReplicated(\w*MergeTree)\(\s*'[^']*'\s*,\s*'[^']*'\s*(?:,\s*)?/g, '$1(');

export function startServer(opts: Options): Promise<{ url: string; close: () => Promise<void> }> {
  const cluster = opts.singleNodeCluster;
  const pool = new SessionPool(
    opts.dataDir,
    opts.sessions,
    cluster ? [`--config-file=${singleNodeClusterConfig(cluster, opts.dataDir)}`] : [],
  );

  async function run(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const { user, password } = credentials(req, url);
    if (user !== opts.user || password !== opts.password) {
      throw new HttpError(
        401,
        516,
        `Code: 516. DB::Exception: ${user}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)`,
      );
    }
    const queryId = url.searchParams.get('query_id') ?? randomUUID();
    const raw = req.method === 'POST' ? await body(req) : Buffer.alloc(0);
    const head = url.searchParams.get('query');
    const binary = head === null ? null : BINARY_INSERT.exec(head);
    // The file is written just before the statement runs and removed right after it.
    const infile = binary ? path.join(tmpdir(), `ch-stand-in-${randomUUID()}`, 'insert.parquet') : undefined;
    const text = binary ? '' : raw.toString();
    const statement = binary
      ? `INSERT INTO ${binary[1]}${binary[2] ?? ''} FROM INFILE ${quote(infile!)} FORMAT Parquet`
      : head === null
        ? text
        : text === ''
          ? head
          : `${head}\n${text}`;
    const sql = cluster ? withoutKeeper(statement) : statement;
    if (sql.trim() === '')
      throw new HttpError(400, 62, 'Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)');
    const params: Record<string, string> = {};
    const settings: Array<[string, string]> = [];
    for (const [k, v] of url.searchParams) {
      if (k.startsWith('param_') || !NOT_SETTINGS.has(k)) {
        if (!IDENTIFIER.test(k))
          throw new HttpError(400, 115, `Code: 115. DB::Exception: Unknown setting ${k}. (UNKNOWN_SETTING)`);
        if (k.startsWith('param_')) params[k.slice('param_'.length)] = v;
        else settings.push([k, v]);
      }
    }
    const database = url.searchParams.get('database') ?? 'default';
    if (!IDENTIFIER.test(database))
      throw new HttpError(
        400,
        81,
        `Code: 81. DB::Exception: Database ${database} does not exist. (UNKNOWN_DATABASE)`,
      );
    if (opts.delayInsertMs > 0 && /^\s*INSERT\b/i.test(sql)) {
      await new Promise((r) => setTimeout(r, opts.delayInsertMs));
    }
    const out = await pool.with(async (s) => {
      try {
        if (infile) {
          mkdirSync(path.dirname(infile), { mode: 0o700 });
          writeFileSync(infile, raw);
        }
        await s.queryAsync(`USE ${database}`);
        for (const [k, v] of settings) await s.queryAsync(`SET ${k} = ${quote(v)}`);
        // SET param_x takes the value in the escaped text form the HTTP interface receives, so the
        // engine parses it exactly as a server does (chdb's own binding expects raw values).
        for (const [k, v] of Object.entries(params)) await s.queryAsync(`SET param_${k} = ${quote(v)}`);
        const result = await s.queryAsync(sql, { format: 'TabSeparated' });
        return {
          bytes: Buffer.from(result.bytes()),
          rows: result.rowsRead,
          read: result.bytesRead,
          elapsed: result.elapsed,
        };
      } catch (err) {
        throw engineError(err);
      } finally {
        if (infile) rmSync(path.dirname(infile), { recursive: true, force: true });
        for (const [k] of settings) await s.queryAsync(`SET ${k} = DEFAULT`).catch(() => undefined);
        for (const k of Object.keys(params))
          await s.queryAsync(`SET param_${k} = DEFAULT`).catch(() => undefined);
      }
    });
    const format = /\bFORMAT\s+(\w+)\s*;?\s*$/i.exec(head ?? sql)?.[1] ?? 'TabSeparated';
    res.setHeader('X-ClickHouse-Query-Id', queryId);
    res.setHeader('X-ClickHouse-Format', format);
    res.setHeader(
      'X-ClickHouse-Summary',
      JSON.stringify({
        read_rows: String(out.rows),
        read_bytes: String(out.read),
        written_rows: '0',
        written_bytes: '0',
        total_rows_to_read: '0',
        result_rows: String(out.rows),
        result_bytes: String(out.bytes.length),
        elapsed_ns: String(Math.round(out.elapsed * 1e9)),
      }),
    );
    const gzip =
      url.searchParams.get('enable_http_compression') === '1' &&
      /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (gzip) res.setHeader('Content-Encoding', 'gzip');
    res.statusCode = 200;
    res.end(gzip ? gzipSync(out.bytes) : out.bytes);
  }

  // Query parameters travel in the URL: a server takes URLs up to 1 MiB (Node's default is 16 KiB).
  const server = createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (
      req.method === 'GET' &&
      (url.pathname === '/ping' || (url.pathname === '/' && !url.searchParams.has('query')))
    ) {
      res.end('Ok.\n');
      return;
    }
    run(req, res, url).catch((err: unknown) => {
      const e = err instanceof HttpError ? err : engineError(err);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.statusCode = e.status;
      res.setHeader('X-ClickHouse-Exception-Code', String(e.code));
      res.setHeader('Content-Type', 'text/plain; charset=UTF-8');
      res.end(`${e.message}\n`);
    });
  });
  return new Promise((resolve) => {
    server.listen(opts.port, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      port: { type: 'string', default: '0' },
      user: { type: 'string', default: 'default' },
      password: { type: 'string', default: '' },
      sessions: { type: 'string', default: '4' },
      'delay-insert-ms': { type: 'string', default: '0' },
      'single-node-cluster': { type: 'string' },
    },
  });
  if (!values.data) {
    process.stderr.write('--data <dir> is required\n');
    process.exit(2);
  }
  void startServer({
    dataDir: values.data,
    port: Number(values.port),
    user: values.user!,
    password: values.password!,
    sessions: Number(values.sessions),
    delayInsertMs: Number(values['delay-insert-ms']),
    ...(values['single-node-cluster'] ? { singleNodeCluster: values['single-node-cluster'] } : {}),
  }).then(({ url }) => process.stdout.write(`listening on ${url}\n`));
}
