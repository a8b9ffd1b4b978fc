/** Starts the collector: storage + migrations, keys, pricing, HTTP server; graceful close. */
import type { AddressInfo } from 'node:net';
import { ensureCredentials, KeyRing } from '../govern/keys/keys';
import { KeyStore } from '../govern/keys/store';
import type { CollectorConfig } from './config';
import { BudgetAlerter } from '../govern/alerts/alerter';
import { Mailer } from '../govern/alerts/channels';
import { AuditLog } from '../govern/audit';
import { BudgetEngine } from '../govern/budgets/engine';
import { BudgetLedger } from '../govern/budgets/ledger';
import { PolicyHistory } from '../govern/policy/history';
import { BaselineStore } from '../govern/baselines/store';
import { ServiceVersionBaselines } from '../govern/baselines/detector';
import { LeaseBook } from '../govern/budgets/leases';
import { approvalRuleFor } from '../govern/policy/approvals';
import { PolicyFileError } from '../govern/policy/load';
import { PolicyPricer } from '../pricing/policy-pricer';
import { PolicyStore } from '../govern/policy/store';
import { openStorage, type Storage } from '../storage/client';
import { migrate } from '../storage/migrations';
import { CallWriter } from '../storage/writer';
import { ApprovalService } from '../govern/approvals/service';
import { ApprovalStore } from '../govern/approvals/store';
import { syncModelPrices } from '../storage/model-prices';
import { createApp } from '../http/app';
import { ReconciliationRefresher, settingsFromPolicy } from '../read/reconciliation';
import { CollectorMetrics } from '../http/metrics';

export interface RunningCollector {
  url: string;
  port: number;
  storage: Storage;
  /** Stops accepting, lets in-flight requests and queued writes finish, closes ClickHouse. */
  close(): Promise<void>;
}

/** How long close() lets open requests finish before dropping their connections. */
const CLOSE_GRACE_MS = 10_000;

export async function startCollector(
  config: CollectorConfig,
  log: (line: string) => void = (l) => console.log(l),
): Promise<RunningCollector> {
  const { keys, keysNote } = loadKeys(config);
  const storage = openStorage({ clickhouseUrl: config.clickhouseUrl, dataDir: config.dataDir });
  try {
    await migrate(storage);
  } catch (err) {
    await storage.close().catch(() => undefined);
    throw err;
  }
  // The embedded engine is this process's alone: the writer may skip provably needless lookups.
  const writer = new CallWriter(storage, { exclusive: storage.embedded });
  try {
    await writer.init();
  } catch (err) {
    await storage.close().catch(() => undefined);
    throw err;
  }
  await syncModelPrices(storage, log);
  const auditLog = new AuditLog(storage);
  const audit = (entry: Parameters<AuditLog['audit']>[0]) => auditLog.audit(entry);
  const history = new PolicyHistory(storage);
  let policies: PolicyStore;
  try {
    policies = await PolicyStore.open({
      file: config.policyFile,
      required: config.policyFileRequired,
      log,
      audit,
      remember: (loaded, action) => history.record(loaded, action),
      pollMs: config.policyPollMs,
    });
  } catch (err) {
    // Every problem, one per line (FILE:LINE:COL  field  message  (hint)), before refusing to start.
    if (err instanceof PolicyFileError) log(err.message);
    await storage.close().catch(() => undefined);
    throw err;
  }
  const pricer = new PolicyPricer(policies.policy);
  policies.onChange((loaded) => pricer.use(loaded?.policy));
  const ledger = new BudgetLedger({
    storage,
    history,
    policy: () => policies.policy,
    unflushed: () => writer.unflushedCalls(),
    log,
  });
  const budgets = new BudgetEngine({
    storage,
    policy: () => policies.policy,
    unflushed: () => writer.unflushedCalls(),
    log,
    forecast: (p, window, spent) => ledger.liveForecast(p, window, spent),
  });
  budgets.start();
  ledger.start(config.budgetRefreshMs);
  const baselines = new BaselineStore(storage);
  const releases = new ServiceVersionBaselines(storage, baselines, undefined, log);
  releases.start(config.releaseCheckMs);
  const mailer = config.smtpUrl ? new Mailer({ url: config.smtpUrl, from: config.alertFrom }) : undefined;
  const alerter = new BudgetAlerter({
    storage,
    policy: () => policies.policy,
    statuses: () => budgets.statuses({ fresh: true }),
    mailer,
    audit,
    log,
  });
  alerter.start(config.alertCheckMs);
  const reconciliation = new ReconciliationRefresher({
    storage,
    settings: () => settingsFromPolicy(policies.policy),
    log,
  });
  reconciliation.start(config.reconcileMs);
  // The timers stop at once; their work in flight (a reload's audit entry, a budget snapshot, an
  // alert check and its fired record) still writes to storage, so close() waits for it before the
  // storage closes. Closing the embedded engine under a running query crashed or hung the process.
  const stopPolicyWork = async (): Promise<void> => {
    await Promise.all([
      policies.close(),
      budgets.stop(),
      ledger.stop(),
      releases.stop(),
      alerter.stop(),
      reconciliation.stop(),
    ]);
    mailer?.close();
  };
  const metrics = new CollectorMetrics();
  const app = createApp({
    storage,
    writer,
    pricer,
    keys,
    metrics,
    maxBodyBytes: config.maxBodyBytes,
    ...(config.maxQueuedCalls !== undefined ? { maxQueuedCalls: config.maxQueuedCalls } : {}),
    log,
    approvals: new ApprovalService(new ApprovalStore(storage), {
      ruleFor: (costCenter) => approvalRuleFor(policies.policy, costCenter),
      audit,
    }),
    budgets,
    ledger,
    baselines,
    policy: () => policies.current,
    leases: new LeaseBook(budgets),
  });

  const server = app.listen(config.port, config.host);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (err) {
    await stopPolicyWork();
    await storage.close().catch(() => undefined);
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot listen on ${config.host}:${config.port}: ${e.code ?? e.message}`, { cause: err });
  }
  const port = (server.address() as AddressInfo).port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  // One line, parsed by tests and scripts: the URL first, then where data and keys live (never a key).
  const where = storage.embedded
    ? `embedded ClickHouse in ${config.dataDir}`
    : `ClickHouse server, database ${storage.database}`;
  log(`tokenledger collector listening on ${url} (${where}; ${keysNote})`);
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    storage,
    close: () =>
      (closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
        await stopped;
        clearTimeout(force);
        await stopPolicyWork();
        await writer.drain();
        await storage.close();
      })()),
  };
}

function loadKeys(config: CollectorConfig): { keys: KeyRing; keysNote: string } {
  // Keys made with `tokenledger keys create` (approvers, viewers, services) live beside the data.
  const createdKeys = KeyStore.inDataDir(config.dataDir).entries;
  if (config.apiKeys) {
    return {
      keys: new KeyRing(config.apiKeys, createdKeys),
      keysNote: `${config.apiKeys.length} keys from TOKENLEDGER_API_KEYS`,
    };
  }
  const { credentials, created, file } = ensureCredentials(config.dataDir);
  return {
    keys: new KeyRing(
      [
        { role: 'admin', key: credentials.admin },
        { role: 'ingest', key: credentials.ingest },
      ],
      createdKeys,
    ),
    keysNote: `${created ? 'new keys in' : 'keys in'} ${file}, see npx tokenledger keys show`,
  };
}
