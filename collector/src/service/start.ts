/** Starts the collector: storage + migrations, keys, pricing, HTTP server; graceful close. */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ensureCredentials, KeyRing } from '../govern/keys/keys';
import { KeyStore } from '../govern/keys/store';
import { KeyAuditor } from '../govern/keys/key-audit';
import { DEFAULT_GC_AFTER_BYTES, type CollectorConfig } from './config';
import { BudgetAlerter } from '../govern/alerts/alerter';
import { Mailer } from '../govern/alerts/channels';
import { AuditLog, type AuditEntry } from '../govern/audit';
import { BudgetEngine } from '../govern/budgets/engine';
import { BudgetLedger } from '../govern/budgets/ledger';
import { PolicyHistory } from '../govern/policy/history';
import { BaselineStore } from '../govern/baselines/store';
import { ServiceVersionBaselines } from '../govern/baselines/detector';
import { LeaseBook } from '../govern/budgets/leases';
import { LeaseOwnerElection, soleLeaseOwner, type LeaseAuthority } from '../govern/budgets/lease-owner';
import { advertisedUrl } from './advertise';
import { approvalRuleFor } from '../govern/policy/approvals';
import { PolicyFileError } from '../govern/policy/load';
import { PolicyPricer } from '../pricing/policy-pricer';
import { PolicyStore } from '../govern/policy/store';
import { openStorage, type Storage } from '../storage/client';
import { migrate } from '../storage/migrations';
import { StorageStartup } from '../storage/ready';
import { prepareDataDir } from './data-dir';
import { registerStorageGauges, storageProblems } from './storage-health';
import { DiskGuard, formatMiB } from '../storage/disk-guard';
import { IngestJournal } from '../storage/journal';
import { detachedParts, describePart, repairParts, type DetachedPart } from '../storage/parts';
import { DirtyHours } from '../storage/rollup/dirty-hours';
import { hoursToRebuild, hoursWithCalls } from '../storage/part-repair';
import { CallWriter } from '../storage/writer';
import { RollupMaintainer } from '../storage/rollup/maintainer';
import { FrontierGate } from '../storage/rollup/frontier-gate';
import { ApprovalService } from '../govern/approvals/service';
import { ApprovalStore } from '../govern/approvals/store';
import { syncModelPrices } from '../storage/model-prices';
import { createApp } from '../http/app';
import { ReconciliationRefresher, settingsFromPolicy } from '../read/reconciliation';
import { CollectorMetrics } from '../http/metrics';
import { startCodePageDrops } from './code-pages';
import { collectAfterReleases } from './released-memory';
import { applyMallocOptions, startHeapTrims } from './malloc-options';
import { PartRepairs } from './part-repairs';

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
  // Before the engine loads and the first request arrives (decision 0093).
  applyMallocOptions();
  prepareDataDir(config.dataDir, log);
  const keyStore = KeyStore.inDataDir(config.dataDir);
  const { keys, keysNote } = loadKeys(config, keyStore);
  const storage = openStorage({
    clickhouseUrl: config.clickhouseUrl,
    dataDir: config.dataDir,
    ...(config.clickhouseCluster ? { cluster: config.clickhouseCluster } : {}),
  });
  const startup = new StorageStartup(storage, log);
  const disk = new DiskGuard({
    storage,
    dataDir: config.dataDir,
    log,
    ...(config.minFreeDiskBytes !== undefined ? { reserveBytes: config.minFreeDiskBytes } : {}),
  });
  const auditLog = new AuditLog(storage);
  // Writes asked for before ClickHouse is ready (the policy loaded at start: its audit entry and its
  // stored version) are made once it is, in order; afterwards a caller awaits its write, as close()
  // relies on.
  let ready = false;
  let writes: Promise<void> = Promise.resolve();
  let storageReady: () => void = () => undefined;
  const whenReady = new Promise<void>((resolve) => (storageReady = resolve));
  const onceReady = (what: string, write: () => Promise<void>): Promise<void> => {
    writes = writes
      .then(() => whenReady)
      .then(write)
      .catch((err: unknown) => log(`${what}: ${(err as Error).message}`));
    return ready ? writes : Promise.resolve();
  };
  const audit = (entry: AuditEntry): Promise<void> => onceReady('audit', () => auditLog.audit(entry));
  // Keys made or revoked with `tokenledger keys` (which writes only the key store) go to the audit
  // log; started once ClickHouse is ready.
  const keyAuditor = new KeyAuditor(keyStore, auditLog, log);
  const history = new PolicyHistory(storage);
  let policies: PolicyStore;
  try {
    policies = await PolicyStore.open({
      file: config.policyFile,
      required: config.policyFileRequired,
      log,
      audit,
      remember: (loaded, action) => onceReady('policy history', () => history.record(loaded, action)),
      pollMs: config.policyPollMs,
      maxValueLength: config.maxValueLength,
    });
  } catch (err) {
    // Every problem, one per line (FILE:LINE:COL  field  message  (hint)), before refusing to start.
    if (err instanceof PolicyFileError) log(err.message);
    await storage.close().catch(() => undefined);
    throw err;
  }
  // Acknowledged calls are journaled until read back from the engine (restored if they are not).
  const journal = new IngestJournal({
    dir: path.join(config.dataDir, 'journal'),
    storage,
    restore: (calls) => writer.write(calls),
    log,
  });
  await journal.init();
  // The embedded engine is this process's alone: the writer may skip provably needless lookups.
  // The writer and the rollup maintainer keep inserts into ended hours and frontier moves apart.
  const frontierGate = new FrontierGate();
  const writer: CallWriter = new CallWriter(storage, {
    frontierGate,
    exclusive: storage.embedded,
    journal,
    minFreeDiskBytes: () => disk.engineReserveBytes,
  });
  const dirtyHours = new DirtyHours(storage);
  let detached: DetachedPart[] = [];
  const keepDir = path.join(config.dataDir, 'unreadable-parts');
  // A part whose reads fail is set aside while running, its rows put back (decision 0096).
  const partRepairs = new PartRepairs({
    storage,
    keepDir,
    log,
    afterRepair: async (repair) => {
      // A rollup's part, or a calls part put back from all its sources: only the hours holding calls
      // can differ from them (marking the whole month rebuilt ~740 hours, minutes under load).
      // Otherwise the whole month (hours may have lost calls).
      const month = /^\d{6}$/.test(repair.partition) ? Number(repair.partition) : undefined;
      if (month && hoursToRebuild(repair) === 'calls')
        await dirtyHours.markHours(await hoursWithCalls(storage, month));
      else if (month) await dirtyHours.markMonths([month]);
      await journal.check();
      detached = await detachedParts(storage);
    },
  });
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
  // Seals closed hours into the rollup and rebuilds the ones written after (see its module).
  const rollup = new RollupMaintainer({ storage, log, gate: frontierGate });
  const baselines = new BaselineStore(storage);
  const releases = new ServiceVersionBaselines(storage, baselines, undefined, log);
  const mailer = config.smtpUrl ? new Mailer({ url: config.smtpUrl, from: config.alertFrom }) : undefined;
  const alerter = new BudgetAlerter({
    storage,
    policy: () => policies.policy,
    statuses: () => budgets.statuses({ fresh: true }),
    mailer,
    audit,
    log,
  });
  const reconciliation = new ReconciliationRefresher({
    storage,
    settings: () => settingsFromPolicy(policies.policy),
    log,
  });
  // Several collectors on one ClickHouse server: one of them, elected, grants budget leases (started
  // once the store is ready and the port known); the embedded engine has only ever one collector.
  let election: LeaseOwnerElection | undefined;
  const leaseAuthority: LeaseAuthority = storage.embedded
    ? soleLeaseOwner
    : {
        view: (now) => election?.view(now) ?? { role: 'unknown' },
        landingUrl: (now) => election?.landingUrl(now),
      };
  // The timers stop at once; their work in flight (a reload's audit entry, a budget snapshot, an
  // alert check and its fired record) still writes to storage, so close() waits for it before the
  // storage closes. Closing the embedded engine under a running query crashed or hung the process.
  const stopPolicyWork = async (): Promise<void> => {
    await Promise.all([
      policies.close(),
      budgets.stop(),
      alerter.stop(),
      reconciliation.stop(),
      rollup.stop(),
      partRepairs.stop(),
      disk.stop(),
      keyAuditor.stop(),
      ledger.stop(),
      releases.stop(),
      election?.stop(),
    ]);
    if (ready) await writes;
    mailer?.close();
  };
  const diskLow = (): string | undefined => {
    const d = disk.state;
    return d?.low
      ? `collector disk low: ${formatMiB(d.freeBytes)} free, ${formatMiB(d.reserveBytes)} kept free`
      : undefined;
  };
  const metrics = new CollectorMetrics();
  registerStorageGauges(metrics, { disk, journal, rollup, repairs: partRepairs, detached: () => detached });
  // Bodies of finished requests are freed as they go, not ~64 MiB later when V8 gets to them (0119),
  // with a collection only when V8 has not freed them already (0121).
  const releasedMemory = collectAfterReleases(config.gcAfterBytes ?? DEFAULT_GC_AFTER_BYTES);
  metrics.gauge(
    'tokenledger_gc_after_release_total',
    'Garbage collections the collector started after OTLP requests released TOKENLEDGER_GC_AFTER_BYTES.',
    () => releasedMemory.collections,
  );
  metrics.gauge(
    'tokenledger_gc_after_release_skipped_total',
    'Checks after OTLP requests released TOKENLEDGER_GC_AFTER_BYTES that found it already freed, so no collection was started.',
    () => releasedMemory.skipped,
  );
  const app = createApp({
    onIngestReleased: (bytes, heldBytes) => releasedMemory.released(bytes, heldBytes),
    storage,
    writer,
    pricer,
    keys,
    metrics,
    maxBodyBytes: config.maxBodyBytes,
    ...(config.maxQueuedCalls !== undefined ? { maxQueuedCalls: config.maxQueuedCalls } : {}),
    ...(config.maxIngestBytes !== undefined ? { maxIngestBytes: config.maxIngestBytes } : {}),
    maxValueLength: config.maxValueLength,
    log,
    approvals: new ApprovalService(new ApprovalStore(storage), {
      ruleFor: (costCenter) => approvalRuleFor(policies.policy, costCenter),
      audit,
    }),
    budgets,
    ledger,
    baselines,
    policy: () => policies.current,
    leases: new LeaseBook(budgets, { ttlMs: config.leaseTtlMs, authority: leaseAuthority }),
    leaseAuthority,
    starting: () => startup.starting,
    problems: () => [...storageProblems({ disk, journal, detached }), ...partRepairs.problems],
    refuseIngest: () => {
      const low = diskLow();
      if (low) return low;
      if (journal.full)
        return 'collector journal full: acknowledged calls cannot be read back from ClickHouse';
      return undefined;
    },
    refuseImports: diskLow,
    repair: async () => {
      // Parts are a node's own: on a cluster, replicas repair each other (ClickHouse's own tools).
      if (storage.cluster)
        throw new Error('tokenledger repair works on one ClickHouse server, not a cluster');
      const report = await repairParts(storage, (months) => dirtyHours.markMonths(months), keepDir);
      for (const p of report.refused)
        log(
          `repair: ${p.table}/${p.name} could not be attached (${p.error.split('\n')[0]})${p.kept ? `; kept in ${p.kept}` : ''}`,
        );
      await journal.check();
      detached = await detachedParts(storage);
      return { ...report, journal: journal.stats, detached_left: detached };
    },
    auditLog,
  });

  // Listening comes first: while ClickHouse is not there, /healthz says so (503 "starting: …").
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
  try {
    await startup.run(async () => {
      await migrate(storage);
      await writer.init();
    });
  } catch (err) {
    await new Promise((resolve) => server.close(resolve));
    await stopPolicyWork();
    await storage.close().catch(() => undefined);
    throw err;
  }
  ready = true;
  storageReady();
  await syncModelPrices(storage, log);
  // Parts the engine set aside at start (found broken): their rows are out of every read until
  // `tokenledger repair`; the journal restores what was acknowledged recently at once.
  detached = await detachedParts(storage);
  for (const p of detached) log(`storage: detached part ${describePart(p)}: run \`tokenledger repair\``);
  disk.start();
  journal.start();
  partRepairs.watch();
  budgets.start();
  ledger.start(config.budgetRefreshMs);
  releases.start(config.releaseCheckMs);
  rollup.start();
  alerter.start(config.alertCheckMs);
  reconciliation.start(config.reconcileMs);
  await keyAuditor.start();
  const port = (server.address() as AddressInfo).port;
  if (!storage.embedded) {
    const advertiseUrl = config.advertiseUrl ?? advertisedUrl(config.host, port);
    election = new LeaseOwnerElection({ storage, advertiseUrl, leaseTtlMs: config.leaseTtlMs, log });
    election.start();
    log(`budget leases: elected across the collectors of this store; this one is reached at ${advertiseUrl}`);
  }
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  // One line, parsed by tests and scripts: the URL first, then where data and keys live (never a key).
  const where = storage.embedded
    ? `embedded ClickHouse in ${config.dataDir}`
    : `ClickHouse server, database ${storage.database}`;
  log(`tokenledger collector listening on ${url} (${where}; ${keysNote})`);
  // Start-up done: the code it ran once need not stay resident (decision 0097), nor the pages a
  // flood of requests freed inside glibc's heaps (0102).
  const codePages = startCodePageDrops(config.dropCodePages ?? true, log);
  const heapTrims = startHeapTrims();
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
        codePages.stop();
        heapTrims.stop();
        await stopPolicyWork();
        await writer.drain();
        await journal.stop();
        await storage.close();
      })()),
  };
}

function loadKeys(config: CollectorConfig, store: KeyStore): { keys: KeyRing; keysNote: string } {
  // Keys made with `tokenledger keys create` (approvers, viewers, services) live beside the data.
  const createdKeys = store.entries;
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
