import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { jsonBody, recordSpans } from '../collector/otlp-helpers';
import { startCollectorProcess, tempDataDir, type CollectorProcess } from '../support/collector-process';

const KEY = 'admin-key-alerts-0123456789';
const CHECK_MS = 200;

interface Received {
  webhooks: Array<{ text: string; blocks?: unknown[] }>;
  mails: Array<{ to: string[]; from: string; data: string }>;
}

function listen(server: Server | SMTPServer): Promise<number> {
  return new Promise((resolve) => {
    const s = server as unknown as {
      listen: (port: number, host: string, cb: () => void) => void;
      server?: Server;
    };
    s.listen(0, '127.0.0.1', () => {
      const address = ((server as SMTPServer).server ?? (server as Server)).address() as AddressInfo;
      resolve(address.port);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A $10 monthly budget for team alerts-test with `rest` (the policy's further keys), house-llm at $1 a call. */
function housePolicy(rest: string): string {
  return `version: 1
policies:
  - name: house-budget
    match: { team: alerts-test }
    budget: { usd: 10, period: monthly }
${rest}
pricing:
  overrides: [{ model: house-llm, input_mtok: 1000 }]
`;
}

/** `count` calls of house-llm, $1 each by the policy's price override. */
async function spend(collector: CollectorProcess, count: number): Promise<void> {
  const spans = recordSpans(
    { 'service.name': 'billing-job', 'tokenledger.team': 'alerts-test' },
    Array.from({ length: count }, () => ({
      name: 'chat house-llm',
      startTime: new Date(),
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'vllm',
        'gen_ai.request.model': 'house-llm',
        'gen_ai.usage.input_tokens': 1000,
        'gen_ai.usage.output_tokens': 0,
      },
    })),
  );
  const res = await fetch(`${collector.url}/v1/traces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: jsonBody(spans),
  });
  assert.equal(res.status, 200, await res.text());
}

interface BudgetsBody {
  policy_version: string;
  policies: Array<{ budget: { spent_usd: string } }>;
  prices: Record<string, Record<string, string>>;
}

async function budgets(collector: CollectorProcess): Promise<BudgetsBody> {
  const res = await fetch(`${collector.url}/v1/budgets`, { headers: { authorization: `Bearer ${KEY}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as BudgetsBody;
}

async function spent(collector: CollectorProcess): Promise<string> {
  return (await budgets(collector)).policies[0]!.budget.spent_usd;
}

describe('budget alerts: webhook + e-mail, once per threshold per period, across restarts', function () {
  this.timeout(120_000);
  const received: Received = { webhooks: [], mails: [] };
  let webhook: Server;
  let smtp: SMTPServer;
  let collector: CollectorProcess | undefined;
  let env: Record<string, string>;
  const dataDir = tempDataDir('tl-alerts-');
  let policyFile: string;

  before(async () => {
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.webhooks.push(JSON.parse(body) as Received['webhooks'][number]);
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      onData(stream, session, callback) {
        let data = '';
        stream.on('data', (d: Buffer) => (data += d.toString()));
        stream.on('end', () => {
          received.mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            data,
          });
          callback();
        });
      },
    });
    const [hookPort, smtpPort] = await Promise.all([listen(webhook), listen(smtp)]);
    policyFile = path.join(dataDir, 'policy.yaml');
    writeFileSync(
      policyFile,
      housePolicy(`    on_exceeded: block
    alerts:
      at: [0.8, 1.0]
      webhook: http://127.0.0.1:${hookPort}/services/T0/B0/secret
      email: lead@example.com`),
    );
    env = {
      TOKENLEDGER_API_KEYS: `admin:${KEY}`,
      TOKENLEDGER_POLICY_FILE: policyFile,
      TOKENLEDGER_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      TOKENLEDGER_ALERT_FROM: 'tokenledger@example.com',
      TOKENLEDGER_ALERT_CHECK_MS: String(CHECK_MS),
      TOKENLEDGER_POLICY_POLL_MS: '100',
    };
    collector = await startCollectorProcess({ dataDir, env });
  });

  after(async () => {
    await collector?.stop();
    webhook.close();
    await new Promise<void>((r) => smtp.close(() => r()));
  });

  it('crossing 80 % fires once on each channel', async () => {
    await spend(collector!, 8);
    await until('the 80 % alert', () => received.webhooks.length >= 1 && received.mails.length >= 1);
    const [hook] = received.webhooks;
    assert.match(hook!.text, /house-budget/);
    assert.match(hook!.text, /80 %/);
    assert.match(hook!.text, /\$8\.00 of \$10\.00/);
    assert.ok(Array.isArray(hook!.blocks) && hook!.blocks.length > 0, 'Slack blocks');
    const [mail] = received.mails;
    assert.deepEqual(mail!.to, ['lead@example.com']);
    assert.equal(mail!.from, 'tokenledger@example.com');
    assert.match(mail!.data, /Subject: \[tokenledger\] house-budget: 80 % of the monthly budget used/);
  });

  it('more spend in the same period does not fire 80 % again', async () => {
    await spend(collector!, 1);
    await until('the collector to count $9', async () => (await spent(collector!)) === '9');
    await sleep(CHECK_MS * 8);
    assert.equal(received.webhooks.length, 1);
    assert.equal(received.mails.length, 1);
  });

  it('a restart on the same data directory does not fire it again', async () => {
    await collector!.stop();
    collector = await startCollectorProcess({ dataDir, env });
    await until('the restarted collector to count $9', async () => (await spent(collector!)) === '9');
    await sleep(CHECK_MS * 10);
    assert.equal(received.webhooks.length, 1, collector!.output());
    assert.equal(received.mails.length, 1);
  });

  it('reaching 100 % fires its own alert, once', async () => {
    await spend(collector!, 1);
    await until('the 100 % alert', () => received.webhooks.length >= 2 && received.mails.length >= 2);
    assert.match(received.webhooks[1]!.text, /100 %/);
    assert.match(received.webhooks[1]!.text, /blocked/);
    assert.match(
      received.mails[1]!.data,
      /Subject: \[tokenledger\] house-budget: 100 % of the monthly budget reached/,
    );
    await sleep(CHECK_MS * 8);
    assert.equal(received.webhooks.length, 2);
    assert.equal(received.mails.length, 2);
    // The log never shows the webhook's secret path.
    assert.doesNotMatch(collector!.output(), /secret/);
  });

  it('a running collector takes a valid edit of the file at once, and keeps it over an invalid one', async () => {
    const before = await budgets(collector!);
    writeFileSync(
      policyFile,
      readFileSync(policyFile, 'utf8').replace('input_mtok: 1000', 'input_mtok: 500'),
    );
    await until(
      'the reload',
      async () => (await budgets(collector!)).policy_version !== before.policy_version,
    );
    const after = await budgets(collector!);
    assert.deepEqual(after.prices['*/house-llm'], { input_mtok: '500', output_mtok: '0' });
    // New spans are priced with the new override: one call is now $0.5.
    await spend(collector!, 1);
    await until('the new price', async () => (await spent(collector!)) === '10.5');

    writeFileSync(policyFile, 'version: 1\npolicies:\n  - name: x\n    budget: { usd: 0 }\n');
    await until('the refusal', () => collector!.output().includes('not reloaded'));
    assert.equal((await budgets(collector!)).policy_version, after.policy_version);
    assert.match(collector!.output(), /policy\.yaml:4:\d+ {2}policies\[0\]\.budget\.usd/);
  });
});

describe('collector start with a policy file', () => {
  it('refuses an invalid file named by TOKENLEDGER_POLICY_FILE and lists its problems', async () => {
    const dataDir = tempDataDir('tl-policy-start-');
    const file = path.join(dataDir, 'policy.yaml');
    writeFileSync(file, 'version: 1\npolicies:\n  - name: a\n    budget: { usd: 5, period: hourly }\n');
    await assert.rejects(
      startCollectorProcess({ dataDir, env: { TOKENLEDGER_POLICY_FILE: file } }),
      (err: Error) => {
        assert.match(err.message, /exited with 1 before listening/);
        assert.ok(
          err.message.includes(`${file}:4:31  policies[0].budget.period  'hourly' is not allowed`),
          err.message,
        );
        return true;
      },
    );
  });

  it('refuses a named file that does not exist', async () => {
    const dataDir = tempDataDir('tl-policy-start-');
    await assert.rejects(
      startCollectorProcess({ dataDir, env: { TOKENLEDGER_POLICY_FILE: path.join(dataDir, 'absent.yaml') } }),
      /file not found/,
    );
  });
});

describe('a collector stopped while an alert is being delivered', function () {
  this.timeout(120_000);
  const held: Array<() => void> = [];
  let webhook: Server;
  let collector: CollectorProcess | undefined;
  let dataDir: string;
  let env: Record<string, string>;

  before(async () => {
    // A slow webhook: each request is answered only when the test says so.
    webhook = createServer((req, res) => {
      req.resume();
      req.on('end', () => held.push(() => res.writeHead(200).end('ok')));
    });
    const hookPort = await listen(webhook);
    dataDir = tempDataDir('tl-alerts-stop-');
    const policyFile = path.join(dataDir, 'policy.yaml');
    writeFileSync(
      policyFile,
      housePolicy(`    alerts: { at: [0.8], webhook: 'http://127.0.0.1:${hookPort}/hook' }`),
    );
    env = {
      TOKENLEDGER_API_KEYS: `admin:${KEY}`,
      TOKENLEDGER_POLICY_FILE: policyFile,
      TOKENLEDGER_ALERT_CHECK_MS: String(CHECK_MS),
    };
    collector = await startCollectorProcess({ dataDir, env });
  });

  after(async () => {
    await collector?.stop();
    webhook.close();
  });

  it('waits for the delivery in flight, then exits cleanly', async () => {
    await spend(collector!, 8);
    await until('the alert to reach the webhook', () => held.length === 1);
    const stopping = collector!.stop();
    await sleep(500);
    // Closing the storage under the check would lose the record that the alert was sent.
    assert.equal(collector!.child.exitCode, null, `exited during the delivery:\n${collector!.output()}`);
    held.shift()!();
    assert.equal(await stopping, 0, collector!.output());
  });

  it('the restarted collector does not send it again', async () => {
    collector = await startCollectorProcess({ dataDir, env });
    await until('the restarted collector to count $8', async () => (await spent(collector!)) === '8');
    await sleep(CHECK_MS * 10);
    assert.equal(held.length, 0, 'no second delivery');
    assert.doesNotMatch(collector!.output(), /failed/);
  });
});
